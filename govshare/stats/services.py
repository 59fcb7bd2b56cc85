"""Writes of the stats app: the rollup of one day (:func:`refresh_rollups`) and the periodic jobs around it.

A run replaces the day's rows in one short transaction (the reads happen before it, so the single SQLite
writer is held only for the delete and the inserts). Re-running a day gives the same rows:

- flow figures (applications, decisions and their review times, disputes raised) are recomputed from the
  domain tables' timestamps;
- call figures are recomputed while the data plane still keeps that day's counters
  (``DATAPLANE_COUNTER_RETENTION_DAYS``), and kept as they were once the counters are purged;
- stock figures (resources, mounted, late, open/overdue disputes) are taken from the current state while the
  day is today (or when the day has none yet), and kept when a past day is re-run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.core.calendar import SHANGHAI
from govshare.core.errors import ValidationFailed
from govshare.exchange.dataplane.conf import get_conf
from govshare.organizations.models import Department
from govshare.stats import rollup
from govshare.stats.models import DepartmentDay, ResourceDay, RollupDay

JOB_ACTOR = "system:stats"
ROLLUP_JOB = "stats.rollup"
FINALIZE_JOB = "stats.finalize"

DEFAULTS: dict[str, float] = {
    "STATS_ROLLUP_SECONDS": 600,  # today's figures are refreshed this often
    "STATS_FINALIZE_SECONDS": 3600,  # how often the nightly job looks for an unfinished past day
    "STATS_FINALIZE_HOUR": 1,  # local hour from which yesterday is finalised
    "STATS_FINALIZE_DAYS": 2,  # how many past days the nightly job finalises when a worker was down
}


def setting(name: str) -> float:
    return float(getattr(settings, "GOVSHARE", {}).get(name, DEFAULTS[name]))


@dataclass(frozen=True)
class RefreshResult:
    day: dt.date
    departments: int
    resources_with_calls: int
    snapshot_taken: bool
    calls_recomputed: bool
    final: bool


def refresh_rollups(*, actor: Any, day: dt.date | None = None, now: dt.datetime | None = None) -> RefreshResult:
    """Compute the figures of ``day`` (default: today, in China) and replace its rows. Idempotent."""
    now = now or timezone.now()
    today = timezone.localdate(now, timezone=SHANGHAI)
    day = day or today
    if day > today:
        raise ValidationFailed("不能统计未来的日期 (the day has not begun)", field="day")
    is_today = day == today
    calls_live = day >= today - dt.timedelta(days=get_conf().counter_retention_days)
    previous = RollupDay.objects.filter(day=day).first()
    take_snapshot = is_today or previous is None or previous.snapshot_at is None

    # Reads (outside the write transaction).
    stock = rollup.stock(now) if take_snapshot else None
    flows = rollup.flows(day)
    calls = rollup.calls(day) if calls_live else None
    departments = list(Department.objects.select_related("node").order_by("pk"))
    existing = {str(r.department_id): r for r in DepartmentDay.objects.filter(day=day)}

    rows = []
    for dept in departments:
        key = str(dept.pk)
        old = existing.get(key)
        if not dept.active and old is None and key not in flows.departments and not (stock or {}).get(key):
            continue
        values: dict[str, Any] = {f: 0 for f in (*rollup.STOCK_FIELDS, *rollup.CALL_FIELDS, *rollup.FLOW_FIELDS)}
        if stock is not None:
            values.update(stock.get(key, {}))
        elif old is not None:
            values.update({f: getattr(old, f) for f in rollup.STOCK_FIELDS})
        if calls is not None:
            values.update(calls.departments.get(key, {}))
        elif old is not None:
            values.update({f: getattr(old, f) for f in rollup.CALL_FIELDS})
        values.update(flows.departments.get(key, {}))
        values.update(rollup.review_figures(flows.review_days.get(key, [])))
        rows.append(DepartmentDay(day=day, department_id=dept.pk, node_id=dept.node_id,
                                  region_code=dept.region_id or dept.node.region_id or "", **values))
    known = {str(d.pk) for d in departments}
    resource_rows = [] if calls is None else [
        ResourceDay(day=day, resource_id=rid, department_id=dept_id, calls_query=q, calls_verify=v)
        for rid, (dept_id, q, v) in sorted(calls.resources.items()) if dept_id in known]

    RollupDay.objects.get_or_create(day=day, defaults={"computed_at": now})
    with transaction.atomic():
        # The day's row lock serialises two runs of the same day (a worker and the CLI).
        marker = RollupDay.objects.select_for_update().get(day=day)
        DepartmentDay.objects.filter(day=day).delete()
        DepartmentDay.objects.bulk_create(rows, batch_size=500)
        if calls is not None:
            ResourceDay.objects.filter(day=day).delete()
            ResourceDay.objects.bulk_create(resource_rows, batch_size=500)
        marker.computed_at = now
        marker.departments = len(rows)
        if take_snapshot:
            marker.snapshot_at = now
        if not is_today:
            marker.final_at = now
        marker.save()
        result = RefreshResult(day=day, departments=len(rows), resources_with_calls=len(resource_rows),
                               snapshot_taken=take_snapshot, calls_recomputed=calls is not None,
                               final=not is_today)
        record_event(actor=actor, action="stats.rollup_refreshed", target_type="stats_day",
                     target_id=day.isoformat(),
                     data={"departments": result.departments, "resources_with_calls": result.resources_with_calls,
                           "snapshot": take_snapshot, "calls_recomputed": result.calls_recomputed,
                           "final": result.final})
    return result


def refresh_range(*, actor: Any, days: int, now: dt.datetime | None = None) -> list[RefreshResult]:
    """Refresh the last ``days`` days up to today, oldest first (the CLI's backfill)."""
    now = now or timezone.now()
    today = timezone.localdate(now, timezone=SHANGHAI)
    return [refresh_rollups(actor=actor, day=today - dt.timedelta(days=n), now=now)
            for n in range(max(1, days) - 1, -1, -1)]


def rollup_job() -> None:
    """``stats.rollup``: today's figures, every ``STATS_ROLLUP_SECONDS``."""
    refresh_rollups(actor=JOB_ACTOR)


def finalize_job(now: dt.datetime | None = None) -> list[dt.date]:
    """``stats.finalize``: from ``STATS_FINALIZE_HOUR`` on, recompute the past days (yesterday, and a few
    before it if a worker was down) that were not recomputed after they ended. Answers the days done."""
    now = now or timezone.now()
    local = timezone.localtime(now, SHANGHAI)
    if local.hour < setting("STATS_FINALIZE_HOUR"):
        return []
    today = local.date()
    wanted = [today - dt.timedelta(days=n) for n in range(1, int(setting("STATS_FINALIZE_DAYS")) + 1)]
    done = set(RollupDay.objects.filter(day__in=wanted, final_at__isnull=False).values_list("day", flat=True))
    out = []
    for day in sorted(d for d in wanted if d not in done):
        refresh_rollups(actor=JOB_ACTOR, day=day, now=now)
        out.append(day)
    return out
