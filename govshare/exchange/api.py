"""Exchange control-plane API: applications and their review, grants, suspensions, review policy."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from govshare.accounts.choices import Role
from govshare.catalog.selectors import resources_visible_to
from govshare.core.api import Page, paginate
from govshare.core.errors import NotFound, PermissionDenied, ValidationFailed
from govshare.exchange import selectors
from govshare.exchange.choices import OPEN_STATUSES, ApplicationAction
from govshare.exchange.models import ReviewPolicy
from govshare.exchange.services import applications as app_services
from govshare.exchange.services import grants as grant_services
from govshare.registry.models import InformationSystem

router = Router(tags=["exchange 共享交换"])


class ApplicationIn(Schema):
    resource_id: uuid.UUID
    system_id: uuid.UUID
    items: list[str]
    modes: list[str]
    purpose: str
    legal_basis: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date
    renewal_of: uuid.UUID | None = None


class DecisionIn(Schema):
    items: dict[str, str]
    valid_to: dt.date | None = None
    rate_limit_per_minute: int = Field(600, ge=1, le=1_000_000)
    daily_quota: int = Field(10000, ge=1, le=1_000_000_000)
    verify_quota_per_key: int = Field(5, ge=1, le=1_000_000)
    verify_all_match_only: bool = False
    row_filter: str | dict[str, Any] | None = None
    modes: list[str] = []


class ApplicationActionIn(Schema):
    reason: str = ""
    refusal_reason: str = ""
    decision: DecisionIn | None = None


class ApplicationOut(Schema):
    id: uuid.UUID
    number: str
    status: str
    status_label: str
    resource_id: uuid.UUID
    resource_code: str
    resource_name: str
    resource_version: int
    provider_id: uuid.UUID
    provider_name: str
    consumer_id: uuid.UUID
    consumer_name: str
    system_id: uuid.UUID
    system_name: str
    applicant: str
    items: list[str]
    modes: list[str]
    purpose: str
    legal_basis: str
    valid_from: dt.date
    valid_to: dt.date
    stage_due_at: dt.datetime | None
    stage_due_provisional: bool
    working_days_left: int | None
    overdue: bool
    escalated: bool
    refusal_reason: str
    refusal_text: str
    created_at: dt.datetime
    allowed_actions: list[str]
    grant_id: uuid.UUID | None


class StepOut(Schema):
    action: str
    from_status: str
    to_status: str
    actor: str | None
    reason: str
    created_at: dt.datetime


class GuardOverrideIn(Schema):
    items: dict[str, str]
    reason: str


class GrantOut(Schema):
    id: uuid.UUID
    status: str
    status_label: str
    application_number: str | None
    resource_id: uuid.UUID
    resource_code: str
    resource_name: str
    provider_name: str
    consumer_name: str
    system_id: uuid.UUID
    system_name: str
    modes: list[str]
    purpose: str
    valid_from: dt.date
    valid_to: dt.date
    items: dict[str, str]
    row_filter: dict[str, Any] | None
    rate_limit_per_minute: int
    daily_quota: int
    verify_quota_per_key: int
    verify_all_match_only: bool
    needs_review: bool
    review_reasons: list[str]
    guard_override: bool


class ReasonIn(Schema):
    reason: str = ""


class ReviewIn(Schema):
    keep: bool
    reason: str = ""


class SuspensionIn(Schema):
    scope: str
    target_id: uuid.UUID
    reason: str


class SuspensionOut(Schema):
    id: uuid.UUID
    scope: str
    target_id: uuid.UUID
    reason: str
    active: bool
    created_at: dt.datetime
    lifted_at: dt.datetime | None


class PolicyIO(Schema):
    internal_review: bool
    compliance_review: bool
    internal_days: int = Field(..., ge=1, le=60)
    compliance_days: int = Field(..., ge=1, le=60)
    provider_days: int = Field(..., ge=1, le=60)
    supply_days: int = Field(..., ge=1, le=60)
    coordination_days: int = Field(..., ge=1, le=60)
    reminder_days: int = Field(..., ge=0, le=10)


class NotificationOut(Schema):
    id: uuid.UUID
    kind: str
    subject: str
    body: str
    created_at: dt.datetime
    application_id: uuid.UUID | None


def _visible_application(request: HttpRequest, app_id: uuid.UUID) -> Any:
    app = selectors.applications_visible_to(request.user).filter(pk=app_id).first()
    if app is None:
        raise NotFound("共享申请不存在 (application not found)")
    return app


def _visible_grant(request: HttpRequest, grant_id: uuid.UUID) -> Any:
    grant = selectors.grants_visible_to(request.user).filter(pk=grant_id).first()
    if grant is None:
        raise NotFound("授权不存在 (grant not found)")
    return grant


@router.post("/applications", response={201: ApplicationOut})
def submit(request: HttpRequest, payload: ApplicationIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    resource = resources_visible_to(user).filter(pk=payload.resource_id).first()
    if resource is None:
        raise ValidationFailed("资源不存在 (resource not found)", field="resource_id")
    system = InformationSystem.objects.filter(pk=payload.system_id).first()
    if system is None:
        raise ValidationFailed("信息系统不存在 (system not found)", field="system_id")
    renewal_of = None
    if payload.renewal_of:
        renewal_of = selectors.grants_visible_to(user).filter(pk=payload.renewal_of, consumer_id=user.department_id
                                                              ).first()
        if renewal_of is None:
            raise ValidationFailed("续期的授权不存在 (grant not found)", field="renewal_of")
    app = app_services.submit_application(
        actor=user, resource=resource, system=system, items=payload.items, modes=payload.modes,
        purpose=payload.purpose, legal_basis=payload.legal_basis, valid_from=payload.valid_from,
        valid_to=payload.valid_to, renewal_of=renewal_of)
    return Status(201, selectors.application_out(app))


@router.get("/applications", response=Page[ApplicationOut])
def list_applications(request: HttpRequest, box: str = "all", status: str | None = None,
                      overdue: bool | None = None, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    if box not in ("all", "inbox"):
        raise ValidationFailed("box 只能是 all 或 inbox", field="box")
    qs = selectors.inbox(request.user) if box == "inbox" else selectors.applications_visible_to(request.user)
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(stage_due_at__lt=timezone.now(), status__in=list(OPEN_STATUSES))
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"], scope=f"apps:{box}:{status}")
    return {"items": [selectors.application_out(a) for a in rows], "next_cursor": nxt}


@router.get("/applications/{app_id}", response=ApplicationOut)
def get_application(request: HttpRequest, app_id: uuid.UUID) -> dict[str, Any]:
    return selectors.application_out(_visible_application(request, app_id))


@router.get("/applications/{app_id}/steps", response=list[StepOut])
def list_steps(request: HttpRequest, app_id: uuid.UUID) -> list[dict[str, Any]]:
    app = _visible_application(request, app_id)
    return [{"action": s.action, "from_status": s.from_status, "to_status": s.to_status,
             "actor": str(s.actor) if s.actor else None, "reason": s.reason, "created_at": s.created_at}
            for s in app.steps.select_related("actor").order_by("created_at")]


@router.post("/applications/{app_id}/actions/{action}", response=ApplicationOut)
def application_action(request: HttpRequest, app_id: uuid.UUID, action: ApplicationAction,
                       payload: ApplicationActionIn) -> dict[str, Any]:
    app = _visible_application(request, app_id)
    decision = grant_services.Decision(**payload.decision.dict()) if payload.decision else None
    app = app_services.act(actor=request.user, application=app, action=action, reason=payload.reason,
                           refusal_reason=payload.refusal_reason, decision=decision)
    return selectors.application_out(app)


@router.post("/applications/{app_id}/guard-override", response={201: StepOut})
def guard_override(request: HttpRequest, app_id: uuid.UUID, payload: GuardOverrideIn) -> Status[dict[str, Any]]:
    app = _visible_application(request, app_id)
    step = app_services.override_inference_guard(actor=request.user, application=app, items=payload.items,
                                                 reason=payload.reason)
    return Status(201, {"action": step.action, "from_status": step.from_status, "to_status": step.to_status,
                        "actor": str(step.actor), "reason": step.reason, "created_at": step.created_at})


@router.get("/grants", response=Page[GrantOut])
def list_grants(request: HttpRequest, status: str | None = None, needs_review: bool | None = None,
                cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    qs = selectors.grants_visible_to(request.user)
    if status:
        qs = qs.filter(status=status)
    if needs_review is not None:
        qs = qs.filter(needs_review=needs_review)
    rows, nxt = paginate(qs.select_related("application"), cursor=cursor, limit=limit, ordering=["-created_at"],
                         scope=f"grants:{status}:{needs_review}")
    return {"items": [selectors.grant_out(g) for g in rows], "next_cursor": nxt}


@router.get("/grants/{grant_id}", response=GrantOut)
def get_grant(request: HttpRequest, grant_id: uuid.UUID) -> dict[str, Any]:
    return selectors.grant_out(_visible_grant(request, grant_id))


@router.post("/grants/{grant_id}/revoke", response=GrantOut)
def revoke(request: HttpRequest, grant_id: uuid.UUID, payload: ReasonIn) -> dict[str, Any]:
    grant = grant_services.revoke_grant(actor=request.user, grant=_visible_grant(request, grant_id),
                                        reason=payload.reason)
    return selectors.grant_out(grant)


@router.post("/grants/{grant_id}/review", response=GrantOut)
def review(request: HttpRequest, grant_id: uuid.UUID, payload: ReviewIn) -> dict[str, Any]:
    grant = grant_services.review_flagged_grant(actor=request.user, grant=_visible_grant(request, grant_id),
                                                keep=payload.keep, reason=payload.reason)
    return selectors.grant_out(grant)


@router.get("/suspensions", response=list[SuspensionOut])
def list_suspensions(request: HttpRequest, active: bool | None = None) -> list[Any]:
    qs = selectors.suspensions_visible_to(request.user)
    return list(qs.filter(active=active) if active is not None else qs)


@router.post("/suspensions", response={201: SuspensionOut})
def create_suspension(request: HttpRequest, payload: SuspensionIn) -> Status[Any]:
    return Status(201, grant_services.suspend(actor=request.user, scope=payload.scope,
                                              target_id=payload.target_id, reason=payload.reason))


@router.post("/suspensions/{suspension_id}/lift", response=SuspensionOut)
def lift(request: HttpRequest, suspension_id: uuid.UUID, payload: ReasonIn) -> Any:
    suspension = selectors.suspensions_visible_to(request.user).filter(pk=suspension_id).first()
    if suspension is None:
        raise NotFound()
    return grant_services.lift_suspension(actor=request.user, suspension=suspension, reason=payload.reason)


@router.get("/policy", response=PolicyIO)
def get_policy(request: HttpRequest) -> ReviewPolicy:
    return app_services.policy_for(request.user.node)  # type: ignore[union-attr]


@router.put("/policy", response=PolicyIO)
def set_policy(request: HttpRequest, payload: PolicyIO) -> ReviewPolicy:
    user: Any = request.user
    if user.role != Role.SYS_ADMIN:
        raise PermissionDenied("只有系统管理员可以修改审核流程设置 (system administrator only)")
    return app_services.update_policy(actor=user, node=user.node, **payload.dict())


@router.get("/notifications", response=Page[NotificationOut])
def list_notifications(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    rows, nxt = paginate(selectors.notifications_for(request.user), cursor=cursor, limit=limit,
                         ordering=["-created_at"], scope="notifications")
    return {"items": rows, "next_cursor": nxt}
