"""The periodic job that marks licences past their 有效期至 as expired (idempotent; safe in two workers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.licences import workflow
from govshare.licences.choices import LicenceAction, LicenceStatus
from govshare.licences.models import Licence

BATCH = 500
EVENT_NUMBERS = 50  # numbers listed in one audit event (the count is always complete)


def mark_expired(*, actor: Any = "worker", today: dt.date | None = None) -> int:
    """Set status ``expired`` on every valid licence whose ``valid_to`` is before today; returns how many.

    Each batch is a conditional UPDATE (``status = valid``) in its own transaction with its audit event, so a
    second worker running at the same time changes nothing twice and counts nothing twice."""
    today = today or timezone.localdate()
    target = workflow.transition(LicenceStatus.VALID, LicenceAction.EXPIRE)
    total = 0
    while True:
        with transaction.atomic():
            rows = list(Licence.objects.filter(status=LicenceStatus.VALID, valid_to__lt=today)
                        .order_by("valid_to", "pk").values_list("pk", "number")[:BATCH])
            if not rows:
                return total
            ids = [pk for pk, _ in rows]
            changed = Licence.objects.filter(pk__in=ids, status=LicenceStatus.VALID).update(
                status=target, expired_at=timezone.now())
            numbers = [n for pk, n in rows][:EVENT_NUMBERS]
            if changed:
                record_event(actor=actor, action="licences.expired", target_type="licence",
                             data={"count": changed, "before": today.isoformat(), "numbers": numbers})
            total += changed
        if len(rows) < BATCH:
            return total
