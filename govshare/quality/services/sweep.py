"""The dispute deadline sweep (periodic job ``quality.dispute_sweep``) and the recomputation of provisional
deadlines once a year's holidays are entered.

Reminders go to the providing department ``DISPUTE_REMINDER_DAYS`` working days before the current stage's
deadline; an overdue dispute is escalated to the node's data office (an ``escalate`` step: a flag and a
notification, the provider still has to act). Both happen at most once per stage — a reopened or newly
accepted dispute starts a new stage — so the sweep is idempotent, and safe in two workers at once: each
write is a conditional UPDATE or happens under the dispute's row lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.core.calendar import add_working_days, working_days_between
from govshare.core.errors import Conflict
from govshare.quality.choices import DisputeAction, DisputeStatus
from govshare.quality.models import Dispute
from govshare.quality.services.common import setting
from govshare.quality.services.disputes import act_on_dispute, notify

SWEEPER = "worker"


def _escalate(d: Dispute) -> bool:
    try:
        act_on_dispute(actor=SWEEPER, dispute=d, action=DisputeAction.ESCALATE)
    except Conflict:  # escalated meanwhile by another worker, or acted on by the provider
        return False
    return True


def _remind(d: Dispute, now: dt.datetime) -> bool:
    with transaction.atomic():
        won = Dispute.objects.filter(pk=d.pk, status=d.status, stage_started_at=d.stage_started_at,
                                     reminded_at__isnull=True).update(reminded_at=now)
        if not won:
            return False
        due = d.due_at
        notify(dispute=d, kind="dispute_reminder", subject=f"疑义数据 {d.number} 即将到期",
               body=f"截止 {timezone.localtime(due):%Y-%m-%d}" if due else "", department_id=d.provider_id,
               role=Role.PROVIDER, dedupe=f"{d.pk}:remind:{d.status}:{d.stage_started_at.isoformat()}")
        record_event(actor=SWEEPER, action="quality.dispute_reminded", target_type="dispute", target_id=str(d.pk),
                     data={"number": d.number, "status": d.status})
    return True


def sweep_disputes(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Remind before, and escalate after, each open dispute's current deadline. Idempotent."""
    now = now or timezone.now()
    lead = setting("DISPUTE_REMINDER_DAYS")
    reminded = escalated = 0
    open_disputes = Dispute.objects.filter(status__in=[DisputeStatus.SUBMITTED, DisputeStatus.ACCEPTED])
    for d in open_disputes.order_by("submitted_at").iterator():
        due = d.due_at
        if due is None:
            continue
        if now > due:
            if d.escalated_at is None and _escalate(d):
                escalated += 1
        elif d.reminded_at is None and lead > 0 and working_days_between(now, due) <= lead and _remind(d, now):
            reminded += 1
    return {"reminded": reminded, "escalated": escalated}


def recompute_provisional_deadlines(*, actor: Any = None, year: int | None = None) -> int:
    """Recompute the provisional deadlines of open disputes (a year's holidays were entered). Answers how many
    deadlines changed."""
    changed = 0
    with transaction.atomic():
        submitted = Dispute.objects.select_for_update().filter(status=DisputeStatus.SUBMITTED,
                                                               accept_due_provisional=True)
        for d in submitted:
            deadline = add_working_days(d.stage_started_at, setting("DISPUTE_ACCEPT_DAYS"))
            if (deadline.due, deadline.provisional) != (d.accept_due_at, d.accept_due_provisional):
                Dispute.objects.filter(pk=d.pk).update(accept_due_at=deadline.due,
                                                       accept_due_provisional=deadline.provisional)
                changed += 1
        accepted = Dispute.objects.select_for_update().filter(status=DisputeStatus.ACCEPTED,
                                                              resolve_due_provisional=True)
        for d in accepted:
            deadline = add_working_days(d.stage_started_at, setting("DISPUTE_RESOLVE_DAYS"))
            if (deadline.due, deadline.provisional) != (d.resolve_due_at, d.resolve_due_provisional):
                Dispute.objects.filter(pk=d.pk).update(resolve_due_at=deadline.due,
                                                       resolve_due_provisional=deadline.provisional)
                changed += 1
        if changed:
            record_event(actor=actor, action="quality.dispute_deadlines_recomputed", target_type="dispute",
                         data={"changed": changed, "year": year})
    return changed
