"""Permission-checked reads of applications, grants, suspensions and notifications."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.core.calendar import working_days_left
from govshare.exchange import workflow
from govshare.exchange.choices import OPEN_STATUSES
from govshare.exchange.choices import ApplicationStatus as S
from govshare.exchange.models import Application, ApplicationStep, Grant, Notification, Suspension

PROVIDER_STATES = [S.PROVIDER_REVIEW, S.PENDING_SUPPLY, S.APPROVED]
NODE_READERS = (Role.DATA_OFFICE, Role.SEC_ADMIN, Role.AUDIT_ADMIN)


def applications_visible_to(user: Any) -> QuerySet[Application]:
    qs = Application.objects.select_related("resource", "consumer", "provider", "system", "applicant", "node")
    role = getattr(user, "role", None)
    if role in NODE_READERS:
        return qs.filter(node_id=user.node_id)
    if role in (Role.CONSUMER, Role.DEPT_ADMIN, Role.PROVIDER) and user.department_id:
        reached_provider = Exists(ApplicationStep.objects.filter(
            application=OuterRef("pk"), to_status__in=PROVIDER_STATES))
        mine = Q(consumer_id=user.department_id)
        theirs = Q(provider_id=user.department_id) & reached_provider
        if role == Role.CONSUMER:
            return qs.filter(mine)
        if role == Role.PROVIDER:
            return qs.filter(theirs)
        return qs.filter(mine | theirs)
    return qs.none()


def inbox(user: Any) -> QuerySet[Application]:
    """Applications waiting for the user's own action (审核待办)."""
    role = getattr(user, "role", None)
    qs = applications_visible_to(user)
    if role == Role.DATA_OFFICE:
        return qs.filter(status__in=[S.COMPLIANCE_REVIEW, S.COORDINATION])
    if role == Role.DEPT_ADMIN:
        return qs.filter(Q(status=S.INTERNAL_REVIEW, consumer_id=user.department_id)
                         | Q(status__in=[S.PROVIDER_REVIEW, S.PENDING_SUPPLY], provider_id=user.department_id))
    if role == Role.PROVIDER:
        return qs.filter(status__in=[S.PROVIDER_REVIEW, S.PENDING_SUPPLY])
    if role == Role.CONSUMER:
        return qs.filter(status__in=[S.RETURNED, S.REFUSED], consumer_id=user.department_id)
    if role == Role.SEC_ADMIN:
        return qs.filter(status__in=[S.PROVIDER_REVIEW, S.PENDING_SUPPLY])
    return qs.none()


def application_out(app: Application, *, now: Any = None) -> dict[str, Any]:
    now = now or timezone.now()
    overdue = bool(app.stage_due_at and app.status in OPEN_STATUSES and app.stage_due_at < now)
    left = working_days_left(now, app.stage_due_at) if app.stage_due_at and app.status in OPEN_STATUSES else None
    grant = getattr(app, "grant", None) if app.status == S.APPROVED else None
    return {
        "id": app.pk, "number": app.number, "status": app.status, "status_label": app.get_status_display(),
        "resource_id": app.resource_id, "resource_code": app.resource.code, "resource_name": app.resource.name,
        "resource_version": app.resource_version, "provider_id": app.provider_id,
        "provider_name": app.provider.name, "consumer_id": app.consumer_id, "consumer_name": app.consumer.name,
        "system_id": app.system_id, "system_name": app.system.name, "applicant": str(app.applicant),
        "items": app.items, "modes": app.modes, "purpose": app.purpose, "legal_basis": app.legal_basis,
        "valid_from": app.valid_from, "valid_to": app.valid_to, "stage_due_at": app.stage_due_at,
        "stage_due_provisional": app.stage_due_provisional, "working_days_left": left, "overdue": overdue,
        "escalated": app.escalated_at is not None, "refusal_reason": app.refusal_reason,
        "refusal_text": app.refusal_text, "created_at": app.created_at,
        "allowed_actions": [str(a) for a in workflow.allowed_actions(app.status)],
        "grant_id": grant.pk if grant else None,
    }


def grants_visible_to(user: Any) -> QuerySet[Grant]:
    qs = Grant.objects.select_related("resource", "consumer", "provider", "system").prefetch_related("items")
    role = getattr(user, "role", None)
    if role in NODE_READERS:
        return qs.filter(node_id=user.node_id)
    if role in (Role.CONSUMER, Role.DEPT_ADMIN, Role.PROVIDER) and user.department_id:
        return qs.filter(Q(consumer_id=user.department_id) | Q(provider_id=user.department_id))
    return qs.none()


def grant_out(g: Grant) -> dict[str, Any]:
    return {
        "id": g.pk, "status": g.status, "status_label": g.get_status_display(),
        "application_number": g.application.number if g.application else None,
        "resource_id": g.resource_id, "resource_code": g.resource.code, "resource_name": g.resource.name,
        "provider_name": g.provider.name, "consumer_name": g.consumer.name, "system_id": g.system_id,
        "system_name": g.system.name, "modes": g.modes, "purpose": g.purpose, "valid_from": g.valid_from,
        "valid_to": g.valid_to, "items": {i.column_name: i.mode for i in g.items.all()},
        "row_filter": g.row_filter, "rate_limit_per_minute": g.rate_limit_per_minute,
        "daily_quota": g.daily_quota, "verify_quota_per_key": g.verify_quota_per_key,
        "verify_all_match_only": g.verify_all_match_only, "needs_review": g.needs_review,
        "review_reasons": g.review_reasons, "guard_override": bool(g.guard_override_reason),
    }


def suspensions_visible_to(user: Any) -> QuerySet[Suspension]:
    if getattr(user, "role", None) in (Role.SEC_ADMIN, Role.AUDIT_ADMIN, Role.DATA_OFFICE):
        return Suspension.objects.filter(node_id=user.node_id)
    return Suspension.objects.none()


def notifications_for(user: Any) -> QuerySet[Notification]:
    role = getattr(user, "role", None)
    if not role:
        return Notification.objects.none()
    if role in NODE_READERS:
        cond = Q(role=role, node_id=user.node_id)
    else:
        cond = Q(role=role, department_id=user.department_id)
    if role == Role.DEPT_ADMIN:
        cond |= Q(department_id=user.department_id, role__in=[Role.PROVIDER, Role.CONSUMER])
    return Notification.objects.filter(cond)
