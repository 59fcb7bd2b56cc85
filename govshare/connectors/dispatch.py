"""The dispatcher: the periodic job ``connectors.dispatch`` (every 15 s in ``govshare worker``).

One pass
1. resumes runs whose lease has expired (their worker died, or stopped at its time budget): the run is
   claimed with ONE conditional UPDATE, so only one worker resumes it; a pull continues after its last
   applied page, a reconciliation starts again (its batch id makes a completed one a no-op);
2. starts due connectors: in one transaction the connector row is locked, the next due time moved on and a
   RUNNING run created — a partial unique index allows one running run per connector, so two workers never
   pull the same connector at once;
3. executes the runs until the time budget (``CONNECTOR_DISPATCH_BUDGET_SECONDS``, 60) is spent; a pull that
   is cut short keeps its cursor and gives its lease back.

A failed run records the error on the run and the connector and retries after an exponential backoff with
jitter (``CONNECTOR_RETRY_BASE_SECONDS`` 60, capped at the pull interval and ``CONNECTOR_RETRY_MAX_SECONDS``
3600). A run whose worker died ``CONNECTOR_RUN_MAX_LOST_LEASES`` (5) times is given up as failed.
A scheduled pull that changed nothing (only overlap rows re-read) leaves no run row, only ``last_success_at``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.connectors import values
from govshare.connectors.choices import ConnectorStatus, RunKind, RunStatus, RunTrigger
from govshare.connectors.config import Config, pull_interval
from govshare.connectors.leases import LeaseLost, lease, worker_id
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.pull import PAUSED, YIELDED, actor_of, pull
from govshare.connectors.reconcile import reconcile, report_of
from govshare.core import backoff
from govshare.core.errors import DomainError, ValidationFailed

log = logging.getLogger("govshare.connectors")

MAX_PER_PASS = 100
RELATED = ("connector", "connector__dataset", "connector__dataset__resource", "connector__node")


def _setting(name: str, default: float) -> float:
    return float(settings.GOVSHARE.get(name, default))


def dispatch(*, owner: str | None = None, budget_seconds: float | None = None) -> dict[str, int]:
    """One dispatcher pass (idempotent, safe in several workers at once). Answers what happened."""
    owner = owner or worker_id()
    budget = _setting("CONNECTOR_DISPATCH_BUDGET_SECONDS", 60) if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    stats: Counter[str] = Counter()
    expired = list(ConnectorRun.objects.filter(status=RunStatus.RUNNING, lease_until__lt=timezone.now())
                   .order_by("lease_until").values_list("pk", flat=True)[:MAX_PER_PASS])
    for run_id in expired:
        if time.monotonic() > deadline:
            break
        run = _claim_expired(run_id, owner)
        if run is not None:
            stats["resumed"] += 1
            stats[execute(run, owner=owner, deadline=deadline)] += 1
    now = timezone.now()
    due = list(SourceConnector.objects.filter(status=ConnectorStatus.ACTIVE)
               .filter(Q(next_pull_at__lte=now) | Q(next_reconcile_at__lte=now))
               .order_by("next_pull_at").values_list("pk", flat=True)[:MAX_PER_PASS])
    for connector_id in due:
        if time.monotonic() > deadline:
            break
        run = start_run(connector_id, owner)
        if run is not None:
            stats["started"] += 1
            stats[execute(run, owner=owner, deadline=deadline)] += 1
    return dict(stats)


def _claim_expired(run_id: int, owner: str) -> ConnectorRun | None:
    now = timezone.now()
    claimed = ConnectorRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, lease_until__lt=now).update(
        lease_owner=owner, lease_until=now + lease(), heartbeat_at=now, attempts=F("attempts") + 1,
        # a lease given back at the time budget has no owner; one still owned was held by a dead worker
        lost_leases=Case(When(lease_owner="", then=F("lost_leases")), default=F("lost_leases") + 1))
    if claimed != 1:
        return None
    run = ConnectorRun.objects.select_related(*RELATED).get(pk=run_id)
    if run.lost_leases > int(_setting("CONNECTOR_RUN_MAX_LOST_LEASES", 5)):
        _fail(run, owner, f"工作进程多次在运行中退出，已放弃本次运行 "
                          f"(worker lost {run.lost_leases} times; run abandoned)")
        return None
    return run


def start_run(connector_id: Any, owner: str) -> ConnectorRun | None:
    """Create a RUNNING run for a due connector, or None when it is not due or already running."""
    with transaction.atomic():
        connector = (SourceConnector.objects.select_for_update(of=("self",)).select_related("dataset__resource")
                     .filter(pk=connector_id, status=ConnectorStatus.ACTIVE).first())
        if connector is None:
            return None
        now = timezone.now()
        pull_due = connector.next_pull_at is not None and connector.next_pull_at <= now
        reconcile_due = connector.next_reconcile_at is not None and connector.next_reconcile_at <= now
        if not (pull_due or reconcile_due) or ConnectorRun.objects.filter(connector=connector,
                                                                        status=RunStatus.RUNNING).exists():
            return None
        kind = RunKind.RECONCILE if reconcile_due or not connector.incremental_column else RunKind.PULL
        try:
            with transaction.atomic():
                run = ConnectorRun.objects.create(
                    connector=connector, kind=kind, lease_owner=owner, lease_until=now + lease(), heartbeat_at=now,
                    trigger=RunTrigger.MANUAL if connector.run_requested else RunTrigger.SCHEDULE)
        except IntegrityError:  # another worker created the running run first
            return None
        interval = dt.timedelta(seconds=pull_interval(connector))
        if kind == RunKind.RECONCILE:
            # a reconciliation reads everything: it also serves a pull that was due
            connector.next_reconcile_at = now + dt.timedelta(seconds=connector.reconcile_interval_seconds)
            if pull_due or not connector.incremental_column:
                connector.next_pull_at = now + interval
        else:
            connector.next_pull_at = now + interval
        connector.last_run_at, connector.run_requested = now, False
        connector.save(update_fields=["next_pull_at", "next_reconcile_at", "last_run_at", "run_requested",
                                      "updated_at"])
    return ConnectorRun.objects.select_related(*RELATED).get(pk=run.pk)


def execute(run: ConnectorRun, *, owner: str, deadline: float) -> str:
    """Execute a claimed run; answers succeeded / failed / yielded / lost."""
    connector = run.connector
    try:
        if run.kind == RunKind.PULL and connector.incremental_column:
            outcome = pull(run, connector, owner=owner, deadline=deadline)
            if outcome == YIELDED:
                _release(run, owner)
                return "yielded"
            _succeed(run, owner, report={"stopped": "paused"} if outcome == PAUSED else {})
        else:
            result, tally = reconcile(run, connector, owner=owner)
            _succeed(run, owner, report=report_of(result, tally, tally.samples), reconciled=(result, tally))
        return "succeeded"
    except LeaseLost:
        log.warning("connector run %s: lease lost to another worker", run.pk)
        return "lost"
    except Exception as exc:
        log.warning("connector run %s failed: %s", run.pk, type(exc).__name__)
        _fail(run, owner, _error_text(exc, connector), problems=_problems(exc))
        return "failed"


def _error_text(exc: BaseException, connector: SourceConnector) -> str:
    text = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    try:
        password = Config.of(connector).password
    except Exception:
        password = ""
    if password:
        text = text.replace(password, "******")
    return text[:2000]


def _problems(exc: BaseException) -> list[Any]:
    if isinstance(exc, ValidationFailed):
        return list(exc.details.get("problems", []))[:100]
    return []


def _release(run: ConnectorRun, owner: str) -> None:
    """Give the lease back (time budget spent): any worker resumes the run on its next pass."""
    ConnectorRun.objects.filter(pk=run.pk, lease_owner=owner, status=RunStatus.RUNNING).update(
        lease_owner="", lease_until=timezone.now())


def _succeed(run: ConnectorRun, owner: str, *, report: dict[str, Any],
             reconciled: tuple[Any, Any] | None = None) -> None:
    now = timezone.now()
    connector = run.connector
    with transaction.atomic():
        current = ConnectorRun.objects.select_for_update().filter(pk=run.pk, lease_owner=owner,
                                                                  status=RunStatus.RUNNING).first()
        if current is None:
            raise LeaseLost(f"run {run.pk}")
        fields: dict[str, Any] = {"status": RunStatus.SUCCEEDED, "finished_at": now, "lease_owner": "",
                                  "lease_until": None, "report": {**current.report, **report}}
        if reconciled is None:
            fields["report"] = {"lower_bound": (current.progress or {}).get("lower"),
                                "watermark_before": (current.progress or {}).get("watermark_at_start"),
                                **fields["report"]}
        else:
            result, tally = reconciled
            fields.update(rows_read=tally.rows, inserted=result.inserted, updated=result.updated,
                          deleted=result.deleted, unchanged=result.unchanged, pages=1)
        connector_fields: dict[str, Any] = {"consecutive_failures": 0, "last_error": "", "last_success_at": now}
        if reconciled is not None and connector.incremental_column:
            stored = SourceConnector.objects.filter(pk=connector.pk).values_list("watermark", flat=True).get()
            if values.later(reconciled[1].max_inc, values.decode(stored)):
                connector_fields["watermark"] = values.encode(reconciled[1].max_inc)
        SourceConnector.objects.filter(pk=connector.pk).update(**connector_fields)
        if (reconciled is None and current.trigger == RunTrigger.SCHEDULE and not report.get("stopped")
                and current.inserted + current.updated + current.deleted == 0):
            current.delete()  # a scheduled poll that changed nothing leaves no row (last_success_at records it)
            return
        ConnectorRun.objects.filter(pk=run.pk).update(**fields)
        record_event(actor=actor_of(connector), action=f"connector.{'reconciled' if reconciled else 'pulled'}",
                     target_type="source_connector", target_id=str(connector.pk),
                     data={"run": run.pk, "kind": run.kind, "dataset": str(connector.dataset_id),
                           **_counts(current, fields)})


def _counts(run: ConnectorRun, fields: dict[str, Any]) -> dict[str, Any]:
    names = ("pages", "rows_read", "inserted", "updated", "deleted", "unchanged")
    return {n: fields.get(n, getattr(run, n)) for n in names}


def _fail(run: ConnectorRun, owner: str, message: str, *, problems: list[Any] | None = None) -> None:
    now = timezone.now()
    connector = run.connector
    with transaction.atomic():
        current = ConnectorRun.objects.select_for_update().filter(pk=run.pk, lease_owner=owner,
                                                                  status=RunStatus.RUNNING).first()
        if current is None:
            return  # another worker holds it now
        report = {**current.report, **({"problems": problems} if problems else {})}
        ConnectorRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, finished_at=now, lease_owner="",
                                                      lease_until=None, error=message, report=report)
        locked = SourceConnector.objects.select_for_update().get(pk=connector.pk)
        failures = locked.consecutive_failures + 1
        interval = pull_interval(locked, connector.dataset.resource.update_cycle)
        cap = min(interval, _setting("CONNECTOR_RETRY_MAX_SECONDS", 3600))
        retry = now + dt.timedelta(seconds=backoff.delay(failures, base=_setting("CONNECTOR_RETRY_BASE_SECONDS", 60),
                                                         cap=cap))
        locked.consecutive_failures, locked.last_error = failures, message
        if run.kind == RunKind.RECONCILE:
            locked.next_reconcile_at = retry
        if run.kind == RunKind.PULL or not locked.incremental_column:
            locked.next_pull_at = retry
        locked.save(update_fields=["consecutive_failures", "last_error", "next_reconcile_at", "next_pull_at",
                                   "updated_at"])
        record_event(actor=actor_of(connector), action="connector.run_failed", target_type="source_connector",
                     target_id=str(connector.pk), result=Result.FAILED,
                     data={"run": run.pk, "kind": run.kind, "failures": failures, "error": message[:500]})
