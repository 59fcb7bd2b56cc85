"""Application pages (共享申请): apply, my applications, the detail page with its history and the review
actions the workflow allows the user, and the per-stage review inboxes with working-day countdowns."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.core.calendar import get_table
from govshare.core.errors import DomainError
from govshare.exchange import selectors_pages as sp
from govshare.exchange.choices import ApplicationAction
from govshare.exchange.forms import ApplyForm, ReasonForm, ResourceLookupForm
from govshare.exchange.models import Application
from govshare.exchange.services import applications as app_services
from govshare.portal import pages

# Actions taken from the detail page with a reason box; approve and refuse have their own pages.
REASON_ACTIONS = frozenset(ApplicationAction) - {ApplicationAction.APPROVE, ApplicationAction.REFUSE}

INBOX_TITLES = {
    "internal": gettext_lazy("部门内部审核"),
    "compliance": gettext_lazy("符合性审查"),
    "provider": gettext_lazy("提供方审核"),
    "coordination": gettext_lazy("协调"),
    "security": gettext_lazy("推断风险审批"),
}


def _countdown_text(app: Application) -> str:
    cd = getattr(app, "countdown", None)
    if cd is None or cd.days_left is None:
        return ""
    if cd.overdue:
        return _("已超期 %(n)s 个工作日") % {"n": cd.days_over} if cd.days_over else _("已超期")
    return _("剩余 %(n)s 个工作日") % {"n": cd.days_left}


def _columns() -> list[pages.Column]:
    def due(a: Application) -> str:
        return timezone.localtime(a.stage_due_at).strftime("%Y-%m-%d") if a.stage_due_at else ""

    return [
        pages.Column("number", _("申请编号")),
        pages.Column("resource.name", _("信息资源")),
        pages.Column("consumer.name", _("使用部门")),
        pages.Column("provider.name", _("提供部门")),
        pages.Column("status", _("环节"), value=lambda a: a.get_status_display()),
        pages.Column("stage_due_at", _("截止日期"), value=due),
        pages.Column("countdown", _("工作日倒计时"), value=_countdown_text),
        pages.Column("overdue", _("超期"), value=lambda a: _("是") if a.countdown.overdue else ""),
    ]


def _list_page(request: HttpRequest, rows: list[Application], *, template: str, filename: str,
               extra: dict[str, Any]) -> HttpResponse:
    sp.with_countdowns(rows)
    page = pages.listing(request, rows, columns=_columns(), filename=filename)
    if isinstance(page, HttpResponse):
        return page
    return render(request, template, {"page": page, **extra})


# ---------------------------------------------------------------------------------------------
# Applying (使用方)
# ---------------------------------------------------------------------------------------------


@pages.role_required(Role.CONSUMER, Role.DEPT_ADMIN)
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    """申请共享: the resource comes from ``?resource=<code>`` (or the lookup box)."""
    user: Any = request.user
    code = (request.POST.get("resource") if request.method == "POST" else request.GET.get("resource")) or ""
    resource = sp.resource_by_code(user, code)
    if resource is None:
        lookup = ResourceLookupForm(request.GET if code else None)
        if code:
            lookup.add_error("resource", _("没有这个已发布的信息资源"))
        return render(request, "exchange/apply_lookup.html", {"form": lookup}, status=404 if code else 200)
    systems = [(str(s.pk), s.name) for s in sp.apply_systems(user)]
    kwargs: dict[str, Any] = {"items": sp.published_items(resource), "modes": sp.offered_modes(resource),
                              "systems": systems}
    form = ApplyForm(request.POST or None, initial={"resource": resource.code}, **kwargs)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        system = sp.apply_systems(user).filter(pk=d["system_id"]).first()
        if system is None:
            form.add_error("system_id", _("须选择本部门的在用信息系统"))
        else:
            try:
                app = app_services.submit_application(
                    actor=user, resource=resource, system=system, items=list(d["items"]), modes=list(d["modes"]),
                    purpose=d["purpose"], legal_basis=d["legal_basis"], valid_from=d["valid_from"],
                    valid_to=d["valid_to"])
            except DomainError as exc:
                pages.form_error(form, exc)
            else:
                messages.success(request, _("已提交共享申请 %(n)s，当前环节：%(s)s")
                                 % {"n": app.number, "s": app.get_status_display()})
                return redirect("exchange:application", pk=app.pk)
    snapshot = resource.published_version.snapshot if resource.published_version else {}
    return render(request, "exchange/apply.html", {
        "form": form, "resource": resource, "snapshot": snapshot, "no_systems": not systems,
        "is_dept_admin": user.role == Role.DEPT_ADMIN}, status=422 if form.errors else 200)


@pages.role_required(Role.CONSUMER, Role.DEPT_ADMIN)
def my_applications(request: HttpRequest) -> HttpResponse:
    """我的申请: the department's applications with their stage and working-day countdown."""
    rows = list(sp.my_applications(request.user)[: pages.MAX_EXPORT_ROWS])
    return _list_page(request, rows, template="exchange/my_applications.html", filename="my-applications",
                      extra={})


@pages.role_required()
def inbox(request: HttpRequest, box: str) -> HttpResponse:
    """One stage's review inbox (审核待办), most urgent first; overdue rows are highlighted."""
    if box not in sp.INBOXES:
        raise Http404
    if getattr(request.user, "role", None) not in sp.INBOXES[box][1]:
        return render(request, "portal/forbidden.html", status=403)
    rows = list(sp.stage_inbox(request.user, box)[: pages.MAX_EXPORT_ROWS])
    return _list_page(request, rows, template="exchange/inbox.html", filename=f"inbox-{box}",
                      extra={"box": box, "title": INBOX_TITLES[box]})


def inbox_view(box: str) -> Any:
    def view(request: HttpRequest) -> HttpResponse:
        return inbox(request, box)

    view.__name__ = f"inbox_{box}"
    return view


# ---------------------------------------------------------------------------------------------
# Detail and review actions
# ---------------------------------------------------------------------------------------------


def detail_context(request: HttpRequest, app: Application, *, bound: tuple[str, ReasonForm] | None = None,
                   ) -> dict[str, Any]:
    user: Any = request.user
    app.countdown = sp.countdown(app, table=get_table())  # type: ignore[attr-defined]
    allowed = sp.actions_for(user, app)
    forms = []
    for action in allowed:
        if action not in REASON_ACTIONS:
            continue
        form = bound[1] if bound and bound[0] == action else ReasonForm(prefix=str(action))
        forms.append({"action": action, "label": action.label, "form": form})
    return {
        "app": app, "steps": sp.history(app), "action_forms": forms,
        "may_decide": ApplicationAction.APPROVE in allowed, "may_refuse": ApplicationAction.REFUSE in allowed,
        "may_override": sp.may_override_guard(user, app), "grant": sp.grant_of(app),
        "items": _applied_items(app),
    }


def _applied_items(app: Application) -> list[dict[str, Any]]:
    snap = app.resource.published_version.snapshot if app.resource.published_version else {"items": []}
    by_col = {i["column_name"]: i for i in snap.get("items", [])}
    return [by_col.get(c, {"column_name": c, "name": c, "sensitivity": None}) for c in app.items]


@pages.role_required()
def application(request: HttpRequest, pk: Any) -> HttpResponse:
    app = sp.application_or_404(request.user, pk)
    return render(request, "exchange/application.html", detail_context(request, app))


@pages.role_required()
@require_POST
def application_action(request: HttpRequest, pk: Any, action: str) -> HttpResponse:
    """Withdraw, object, resubmit, internal and compliance review, coordination, supply (with a reason)."""
    app = sp.application_or_404(request.user, pk)
    if action not in ApplicationAction.values or ApplicationAction(action) not in REASON_ACTIONS:
        raise Http404
    act = ApplicationAction(action)
    form = ReasonForm(request.POST, prefix=str(act))
    if form.is_valid():
        try:
            app = app_services.act(actor=request.user, application=app, action=act,
                                   reason=form.cleaned_data["reason"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("%(a)s：已完成，当前环节 %(s)s") % {"a": act.label,
                                                                         "s": app.get_status_display()})
            return redirect("exchange:application", pk=app.pk)
    app = sp.application_or_404(request.user, pk)
    return render(request, "exchange/application.html", detail_context(request, app, bound=(act, form)),
                  status=422)
