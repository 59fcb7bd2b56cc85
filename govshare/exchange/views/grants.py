"""Grant pages (授权): lists for the consumer and the provider side, the detail with item modes, revocation
(提供方 / 数据主管部门), and emergency suspension (应急停用) of a grant, a system or a department by the
security administrator."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from govshare.accounts.choices import Role
from govshare.core.errors import DomainError
from govshare.exchange import selectors_pages as sp
from govshare.exchange.choices import ItemMode, SuspensionScope
from govshare.exchange.forms import ReasonForm, SuspendForm
from govshare.exchange.models import Grant
from govshare.exchange.services import grants as grant_services
from govshare.portal import pages

GRANT_READERS = (Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE, Role.SEC_ADMIN,
                 Role.AUDIT_ADMIN)
SUSPENSION_READERS = (Role.SEC_ADMIN, Role.DATA_OFFICE, Role.AUDIT_ADMIN)


def _item_modes(g: Grant) -> str:
    return "、".join(f"{i.column_name}:{ItemMode(i.mode).label}" for i in g.items.all())


def _grant_columns() -> list[pages.Column]:
    return [
        pages.Column("application.number", _("申请编号")),
        pages.Column("resource.name", _("信息资源")),
        pages.Column("provider.name", _("提供部门")),
        pages.Column("consumer.name", _("使用部门")),
        pages.Column("system.name", _("信息系统")),
        pages.Column("items", _("信息项及方式"), value=_item_modes),
        pages.Column("status", _("状态"), value=lambda g: g.get_status_display()),
        pages.Column("valid_to", _("有效期至")),
    ]


@pages.role_required(*GRANT_READERS)
def grant_list(request: HttpRequest) -> HttpResponse:
    """授权列表: ``?side=consumer`` (我方使用) or ``?side=provider`` (我方提供)."""
    user: Any = request.user
    side = request.GET.get("side", "")
    if side not in ("consumer", "provider") or not user.department_id:
        side = ""
    rows = list(sp.grants_for(user, side)[: pages.MAX_EXPORT_ROWS])
    page = pages.listing(request, rows, columns=_grant_columns(), filename=f"grants-{side or 'all'}")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "exchange/grants.html", {"page": page, "side": side,
                                                    "has_department": bool(user.department_id)})


def _grant_context(request: HttpRequest, grant: Grant, *, revoke_form: ReasonForm | None = None,
                   suspend_form: SuspendForm | None = None) -> dict[str, Any]:
    user: Any = request.user
    is_sec = getattr(user, "role", None) == Role.SEC_ADMIN
    target = [(str(grant.pk), f"{grant.resource.name} → {grant.system.name}")]
    return {
        "grant": grant, "items": list(grant.items.all()),
        "may_revoke": sp.may_revoke(user, grant) and grant.status != "revoked",
        "revoke_form": revoke_form or ReasonForm(prefix="revoke"),
        "is_sec": is_sec, "suspension": sp.active_suspension(grant) if is_sec else None,
        "suspend_form": suspend_form or SuspendForm(initial={"scope": SuspensionScope.GRANT,
                                                             "target_id": str(grant.pk)}, targets=target,
                                                    prefix="grant"),
    }


@pages.role_required(*GRANT_READERS)
def grant_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    grant = sp.grant_or_404(request.user, pk)
    return render(request, "exchange/grant.html", _grant_context(request, grant))


@pages.role_required(Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE)
@require_POST
def grant_revoke(request: HttpRequest, pk: Any) -> HttpResponse:
    grant = sp.grant_or_404(request.user, pk)
    form = ReasonForm(request.POST, prefix="revoke")
    if form.is_valid():
        try:
            grant_services.revoke_grant(actor=request.user, grant=grant, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("授权已撤销，下一次调用即生效"))
            return redirect("exchange:grant", pk=grant.pk)
    return render(request, "exchange/grant.html", _grant_context(request, grant, revoke_form=form), status=422)


@pages.role_required(Role.SEC_ADMIN)
@require_POST
def grant_suspend(request: HttpRequest, pk: Any) -> HttpResponse:
    grant = sp.grant_or_404(request.user, pk)
    form = SuspendForm(request.POST, targets=[(str(grant.pk), grant.resource.name)], prefix="grant")
    if form.is_valid():
        try:
            grant_services.suspend(actor=request.user, scope=SuspensionScope.GRANT, target_id=grant.pk,
                                   reason=form.cleaned_data["reason"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("已应急停用该授权"))
            return redirect("exchange:grant", pk=grant.pk)
    return render(request, "exchange/grant.html", _grant_context(request, grant, suspend_form=form), status=422)


# ---------------------------------------------------------------------------------------------
# Suspensions (应急停用)
# ---------------------------------------------------------------------------------------------


def _suspension_forms(request: HttpRequest, bound: SuspendForm | None = None) -> dict[str, SuspendForm]:
    systems, departments = sp.suspension_targets(request.user)
    choices = {
        SuspensionScope.SYSTEM: [(str(s.pk), f"{s.department.name} · {s.name}") for s in systems],
        SuspensionScope.DEPARTMENT: [(str(d.pk), d.name) for d in departments],
    }
    out = {}
    for scope, targets in choices.items():
        if bound is not None and bound.prefix == scope:
            out[str(scope)] = bound
        else:
            out[str(scope)] = SuspendForm(initial={"scope": scope}, targets=targets, prefix=str(scope))
    return out


def _suspensions_page(request: HttpRequest, bound: SuspendForm | None = None, status: int = 200) -> HttpResponse:
    rows = list(sp.suspensions(request.user)[: pages.MAX_EXPORT_ROWS])
    names = sp.target_names(rows)
    columns = [
        pages.Column("scope", _("范围"), value=lambda s: s.get_scope_display()),
        pages.Column("target_id", _("对象"), value=lambda s: names.get(str(s.target_id), str(s.target_id))),
        pages.Column("reason", _("理由")),
        pages.Column("active", _("状态"), value=lambda s: _("停用中") if s.active else _("已解除")),
        pages.Column("created_at", _("停用时间")),
        pages.Column("lifted_at", _("解除时间")),
    ]
    page = pages.listing(request, rows, columns=columns, filename="suspensions")
    if isinstance(page, HttpResponse):
        return page
    is_sec = getattr(request.user, "role", None) == Role.SEC_ADMIN
    forms = _suspension_forms(request, bound) if is_sec else {}
    return render(request, "exchange/suspensions.html", {
        "page": page, "rows": [(s, names.get(str(s.target_id), str(s.target_id))) for s in page.rows],
        "is_sec": is_sec, "system_form": forms.get("system"), "department_form": forms.get("department"),
    }, status=status)


@pages.role_required(*SUSPENSION_READERS)
def suspension_list(request: HttpRequest) -> HttpResponse:
    return _suspensions_page(request)


@pages.role_required(Role.SEC_ADMIN)
@require_POST
def suspension_create(request: HttpRequest) -> HttpResponse:
    """Suspend an information system or a whole department of the node at once."""
    scope = next((s for s in (SuspensionScope.SYSTEM, SuspensionScope.DEPARTMENT)
                  if f"{s}-scope" in request.POST), SuspensionScope.DEPARTMENT)
    systems, departments = sp.suspension_targets(request.user)
    targets = ([(str(s.pk), s.name) for s in systems] if scope == SuspensionScope.SYSTEM
               else [(str(d.pk), d.name) for d in departments])
    form = SuspendForm(request.POST, targets=targets, prefix=str(scope))
    if form.is_valid():
        try:
            grant_services.suspend(actor=request.user, scope=form.cleaned_data["scope"],
                                   target_id=form.cleaned_data["target_id"], reason=form.cleaned_data["reason"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("已应急停用，下一次调用即生效"))
            return redirect("exchange:suspensions")
    return _suspensions_page(request, bound=form, status=422)


@pages.role_required(Role.SEC_ADMIN)
@require_POST
def suspension_lift(request: HttpRequest, pk: Any) -> HttpResponse:
    suspension = sp.suspension_or_404(request.user, pk)
    form = ReasonForm(request.POST, prefix="lift")
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        grant_services.lift_suspension(actor=request.user, suspension=suspension, reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已解除停用"))
    nxt = request.POST.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "exchange:suspensions")
