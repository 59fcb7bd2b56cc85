"""The provider's decision pages (提供方审核): approve with a mode per item — the inference-guard warnings are
shown before the approval is confirmed — or refuse with a reason from the fixed list; and the security
administrator's acceptance of an inference-guard risk (推断风险审批)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from govshare.accounts.choices import Role
from govshare.core.errors import DomainError
from govshare.exchange import selectors_pages as sp
from govshare.exchange.choices import ApplicationAction
from govshare.exchange.forms import DecisionForm, GuardOverrideForm, RefuseForm
from govshare.exchange.models import Application
from govshare.exchange.services import applications as app_services
from govshare.exchange.services import guards
from govshare.exchange.services.grants import resource_items, validate_decision
from govshare.exchange.views.applications import _applied_items
from govshare.portal import pages


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/forbidden.html", status=403)


def _violations_of(exc: DomainError) -> list[dict[str, Any]]:
    return list(exc.details.get("violations") or []) if exc.code == "inference_guard" else []


@pages.role_required(Role.PROVIDER, Role.DEPT_ADMIN)
@require_http_methods(["GET", "POST"])
def decide(request: HttpRequest, pk: Any) -> HttpResponse:
    """同意授权. Step 1 (``step=check``) runs the same validation and inference guard as the service and shows
    the warnings; step 2 (``step=confirm``) approves through the service."""
    user: Any = request.user
    app = sp.application_or_404(user, pk)
    if ApplicationAction.APPROVE not in sp.actions_for(user, app):
        return _forbidden(request)
    items = _applied_items(app)
    form = DecisionForm(request.POST or None, items=items, modes=list(app.modes))
    ctx: dict[str, Any] = {"app": app, "form": form, "checked": False, "violations": [], "override": ""}
    if request.method == "POST" and form.is_valid():
        decision = form.decision()
        if request.POST.get("step") == "confirm":
            try:
                app = app_services.act(actor=user, application=app, action=ApplicationAction.APPROVE,
                                       decision=decision)
            except DomainError as exc:
                ctx["violations"] = _violations_of(exc)
                if ctx["violations"]:
                    form.add_error(None, exc.message)
                    ctx["checked"] = True
                else:
                    pages.form_error(form, exc)
            else:
                messages.success(request, _("已同意授权，当前环节：%(s)s") % {"s": app.get_status_display()})
                return redirect("exchange:application", pk=app.pk)
        else:
            try:
                violations, _parsed = validate_decision(app, decision)
            except DomainError as exc:
                pages.form_error(form, exc)
            else:
                ctx.update(checked=True, violations=[v.as_dict() for v in violations],
                           override=sp.recorded_override(app, decision.items) if violations else "")
    return render(request, "exchange/decide.html", ctx, status=422 if form.errors else 200)


@pages.role_required(Role.PROVIDER, Role.DEPT_ADMIN)
@require_http_methods(["GET", "POST"])
def refuse(request: HttpRequest, pk: Any) -> HttpResponse:
    """拒绝: a reason from the fixed list plus text; nothing is written while either is missing."""
    user: Any = request.user
    app = sp.application_or_404(user, pk)
    if ApplicationAction.REFUSE not in sp.actions_for(user, app):
        return _forbidden(request)
    form = RefuseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            app = app_services.act(actor=user, application=app, action=ApplicationAction.REFUSE,
                                   reason=form.cleaned_data["reason"],
                                   refusal_reason=form.cleaned_data["refusal_reason"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("已拒绝共享申请 %(n)s") % {"n": app.number})
            return redirect("exchange:application", pk=app.pk)
    return render(request, "exchange/refuse.html", {"app": app, "form": form},
                  status=422 if form.errors else 200)


@pages.role_required(Role.SEC_ADMIN)
@require_http_methods(["GET", "POST"])
def guard_override(request: HttpRequest, pk: Any) -> HttpResponse:
    """安全管理员 accepts the inference-guard risk of exactly one set of item modes, with a reason."""
    user: Any = request.user
    app: Application = sp.application_or_404(user, pk)
    if not sp.may_override_guard(user, app):
        return _forbidden(request)
    items = _applied_items(app)
    form = GuardOverrideForm(request.POST or None, items=items)
    violations: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        modes = form.item_modes()
        violations = [v.as_dict() for v in guards.check(resource_items(app.resource_id), modes)]
        if not modes:
            form.add_error(None, _("至少选择一个信息项的授权方式"))
        elif not violations:
            form.add_error(None, _("这组授权方式没有推断风险，无需审批"))
        else:
            try:
                app_services.override_inference_guard(actor=user, application=app, items=modes,
                                                      reason=form.cleaned_data["reason"])
            except DomainError as exc:
                pages.form_error(form, exc)
            else:
                messages.success(request, _("已记录推断风险审批，提供方可按这组授权方式同意"))
                return redirect("exchange:application", pk=app.pk)
    return render(request, "exchange/guard_override.html", {"app": app, "form": form, "violations": violations},
                  status=422 if form.errors else 200)
