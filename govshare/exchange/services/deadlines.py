"""Stage deadlines in working days (DESIGN.md §3: day of receipt not counted, 调休, provisional years)."""

from __future__ import annotations

import datetime as dt

from govshare.core.calendar import add_working_days
from govshare.exchange.choices import ApplicationStatus as S
from govshare.exchange.models import Application, ReviewPolicy


def stage_days(policy: ReviewPolicy, status: str) -> int | None:
    return {
        S.INTERNAL_REVIEW: policy.internal_days,
        S.COMPLIANCE_REVIEW: policy.compliance_days,
        S.PROVIDER_REVIEW: policy.provider_days,
        S.PENDING_SUPPLY: policy.supply_days,
        S.COORDINATION: policy.coordination_days,
    }.get(S(status))


def enter_stage(app: Application, status: str, policy: ReviewPolicy, now: dt.datetime) -> None:
    """Set the application's status and the deadline of the stage it enters (not saved)."""
    app.status = status
    app.stage_started_at = now
    app.reminded_at = None
    app.escalated_at = None
    days = stage_days(policy, status)
    if days:
        deadline = add_working_days(now, days)
        app.stage_due_at = deadline.due
        app.stage_due_provisional = deadline.provisional
    else:
        app.stage_due_at = None
        app.stage_due_provisional = False
