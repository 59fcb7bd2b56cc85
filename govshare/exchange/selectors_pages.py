"""Permission-checked reads for the exchange's portal pages (共享交换页面).

Built on :mod:`govshare.exchange.selectors` (the same scopes as the API): an object outside the user's scope
is missing here too, and the pages answer 404 for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.catalog.models import Resource
from govshare.catalog.selectors import resources_visible_to
from govshare.core.calendar import HolidayTable, get_table, working_days_left
from govshare.exchange import selectors, workflow
from govshare.exchange.choices import OPEN_STATUSES, ApplicationAction, ExchangeMode
from govshare.exchange.choices import ApplicationStatus as S
from govshare.exchange.models import Application, Grant, Suspension
from govshare.exchange.services.applications import MODE_NEEDS, may_act
from govshare.organizations.models import Department
from govshare.registry.models import InformationSystem
from govshare.registry.selectors import systems_visible_to

# The review inboxes (审核待办), one per stage: the statuses each shows and the roles that work it.
INBOXES: dict[str, tuple[tuple[S, ...], frozenset[str]]] = {
    "internal": ((S.INTERNAL_REVIEW,), frozenset({Role.DEPT_ADMIN})),
    "compliance": ((S.COMPLIANCE_REVIEW,), frozenset({Role.DATA_OFFICE})),
    "provider": ((S.PROVIDER_REVIEW, S.PENDING_SUPPLY), frozenset({Role.PROVIDER, Role.DEPT_ADMIN})),
    "coordination": ((S.COORDINATION,), frozenset({Role.DATA_OFFICE})),
    # Applications under provider review, where the security administrator may accept an inference risk.
    "security": ((S.PROVIDER_REVIEW, S.PENDING_SUPPLY), frozenset({Role.SEC_ADMIN})),
}


@dataclass(frozen=True)
class Countdown:
    """Working days left in the current stage (工作日倒计时); negative when overdue."""

    days_left: int | None
    overdue: bool
    due_at: dt.datetime | None
    provisional: bool

    @property
    def days_over(self) -> int:
        return -self.days_left if self.days_left is not None and self.days_left < 0 else 0


def countdown(app: Application, *, now: dt.datetime | None = None, table: HolidayTable | None = None) -> Countdown:
    """The countdown of an open stage (the same arithmetic as the API's ``working_days_left``)."""
    if app.stage_due_at is None or app.status not in OPEN_STATUSES:
        return Countdown(None, False, None, False)
    now = now or timezone.now()
    left = working_days_left(now, app.stage_due_at, table=table or get_table())
    return Countdown(left, app.stage_due_at < now, app.stage_due_at, app.stage_due_provisional)


def with_countdowns(apps: list[Application]) -> list[Application]:
    """Attach ``countdown`` to each application of a page (one holiday-table read for the whole page)."""
    table = get_table()
    now = timezone.now()
    for app in apps:
        app.countdown = countdown(app, now=now, table=table)  # type: ignore[attr-defined]
    return apps


def my_applications(user: Any) -> QuerySet[Application]:
    """The applications of the user's own department as consumer (我的申请)."""
    if getattr(user, "role", None) not in (Role.CONSUMER, Role.DEPT_ADMIN) or not user.department_id:
        return Application.objects.none()
    return selectors.applications_visible_to(user).filter(consumer_id=user.department_id).order_by("-created_at")


def stage_inbox(user: Any, box: str) -> QuerySet[Application]:
    """One stage's review inbox: the applications waiting in that stage for this user's action."""
    statuses, roles = INBOXES[box]
    if getattr(user, "role", None) not in roles:
        return Application.objects.none()
    qs = selectors.inbox(user).filter(status__in=list(statuses))
    if box == "internal":
        qs = qs.filter(consumer_id=user.department_id)
    if box == "provider":
        qs = qs.filter(provider_id=user.department_id)
    return qs.order_by("stage_due_at", "created_at")


def application_or_404(user: Any, app_id: Any) -> Application:
    app = selectors.applications_visible_to(user).filter(pk=app_id).first()
    if app is None:
        raise Http404("共享申请不存在")
    return app


STEP_LABELS = {"submit": "提交申请", "auto_approve": "无条件共享自动同意", "guard_override": "推断风险审批"}


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


def history(app: Application) -> list[dict[str, Any]]:
    """The application's steps (办理记录) with Chinese labels for actions and stages."""
    out = []
    for step in app.steps.select_related("actor").order_by("created_at"):
        action = STEP_LABELS.get(step.action) or _label(ApplicationAction, step.action)
        out.append({"created_at": step.created_at, "action": action, "actor": step.actor, "reason": step.reason,
                    "from_status": _label(S, step.from_status) if step.from_status else "",
                    "to_status": _label(S, step.to_status)})
    return out


def actions_for(user: Any, app: Application) -> list[ApplicationAction]:
    """The review actions this user may take on the application now (the service checks them again)."""
    out = []
    for action in workflow.allowed_actions(app.status):
        step = workflow.transition(app.status, action)
        if step is not None and may_act(user, app, step.by):
            out.append(action)
    return out


def may_override_guard(user: Any, app: Application) -> bool:
    return (getattr(user, "role", None) == Role.SEC_ADMIN and user.node_id == app.node_id
            and app.status in (S.PROVIDER_REVIEW, S.PENDING_SUPPLY, S.COORDINATION))


def grant_of(app: Application) -> Grant | None:
    return Grant.objects.filter(application=app).first() if app.status == S.APPROVED else None


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------


def resource_by_code(user: Any, code: str) -> Resource | None:
    """A listed, published resource the user may apply for (None when missing or out of scope)."""
    code = code.strip()
    if not code:
        return None
    return resources_visible_to(user).filter(code=code, is_listed=True, published_version__isnull=False).first()


def published_items(resource: Resource) -> list[dict[str, Any]]:
    """The published 信息项 (name, column, sensitivity level) consumers apply for."""
    assert resource.published_version is not None
    return list(resource.published_version.snapshot["items"])


def offered_modes(resource: Resource) -> list[ExchangeMode]:
    """The exchange modes the resource's 共享方式 offers."""
    assert resource.published_version is not None
    share_modes = resource.published_version.snapshot.get("share_modes") or []
    return [m for m in ExchangeMode if MODE_NEEDS[m] in share_modes]


def apply_systems(user: Any) -> QuerySet[InformationSystem]:
    """The consumer department's own systems in use (a grant belongs to one of them)."""
    if not getattr(user, "department_id", None):
        return InformationSystem.objects.none()
    return systems_visible_to(user).filter(department_id=user.department_id, active=True).order_by("name")


# ---------------------------------------------------------------------------------------------
# Grants and suspensions
# ---------------------------------------------------------------------------------------------


def grants_for(user: Any, side: str = "") -> QuerySet[Grant]:
    qs = selectors.grants_visible_to(user).select_related("application")
    if side == "consumer":
        qs = qs.filter(consumer_id=user.department_id)
    elif side == "provider":
        qs = qs.filter(provider_id=user.department_id)
    return qs.order_by("-created_at")


def grant_or_404(user: Any, grant_id: Any) -> Grant:
    grant = grants_for(user).filter(pk=grant_id).first()
    if grant is None:
        raise Http404("授权不存在")
    return grant


def may_revoke(user: Any, grant: Grant) -> bool:
    role = getattr(user, "role", None)
    return ((role == Role.DATA_OFFICE and user.node_id == grant.node_id)
            or (role in (Role.PROVIDER, Role.DEPT_ADMIN) and user.department_id == grant.provider_id))


def active_suspension(grant: Grant) -> Suspension | None:
    return Suspension.objects.filter(scope="grant", target_id=grant.pk, active=True).first()


def suspensions(user: Any) -> QuerySet[Suspension]:
    return selectors.suspensions_visible_to(user).select_related("created_by", "lifted_by")


def suspension_or_404(user: Any, suspension_id: Any) -> Suspension:
    s = suspensions(user).filter(pk=suspension_id).first()
    if s is None:
        raise Http404("停用记录不存在")
    return s


def suspension_targets(user: Any) -> tuple[list[InformationSystem], list[Department]]:
    """Systems and departments of the security administrator's node (应急停用 targets)."""
    if getattr(user, "role", None) != Role.SEC_ADMIN:
        return [], []
    systems = list(InformationSystem.objects.filter(node_id=user.node_id).select_related("department")
                   .order_by("department__name", "name"))
    departments = list(Department.objects.filter(node_id=user.node_id).order_by("name"))
    return systems, departments


def target_names(rows: list[Suspension]) -> dict[str, str]:
    """Readable names of the suspended grants, systems and departments (three queries at most)."""
    by_scope: dict[str, list[Any]] = {}
    for s in rows:
        by_scope.setdefault(s.scope, []).append(s.target_id)
    names: dict[str, str] = {}
    if by_scope.get("grant"):
        for g in Grant.objects.filter(pk__in=by_scope["grant"]).select_related("resource", "system"):
            names[str(g.pk)] = f"{g.resource.name} → {g.system.name}"
    if by_scope.get("system"):
        for sy in InformationSystem.objects.filter(pk__in=by_scope["system"]).select_related("department"):
            names[str(sy.pk)] = f"{sy.department.name} · {sy.name}"
    if by_scope.get("department"):
        for d in Department.objects.filter(pk__in=by_scope["department"]):
            names[str(d.pk)] = d.name
    return names


def recorded_override(app: Application, items: dict[str, str]) -> str:
    """The security administrator's recorded acceptance of exactly these item modes, if any (its reason)."""
    for step in app.steps.filter(action="guard_override").order_by("-created_at"):
        if step.detail.get("items") == items:
            return step.reason
    return ""
