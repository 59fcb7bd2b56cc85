"""Quality runs (质量检查): incremental over the change log, full over all live rows.

State per dataset (:class:`QualityState`): ``cursor_seq`` — every change up to it has been checked. The
failing-row set (:class:`QualityIssue`) is kept current per record key: re-checking a key replaces its issues,
a deleted key loses them.

- **Incremental** (:func:`run_incremental`): in short transactions that each lock the dataset's state row,
  read the changes after the cursor (``changes_since``), re-check the latest version of every changed key,
  replace those keys' issues and move the cursor. Two workers serialise on the lock and the second finds
  nothing left to do.
- **Full** (:func:`run_full`): takes a lease on the state row with one conditional UPDATE (two workers never
  run the same full run), notes the committed seq S, checks every live row outside any transaction, then in
  one transaction replaces the dataset's issues and sets the cursor back to S — changes committed while it
  read are checked again by the next incremental run, which is harmless (checking is idempotent).

A full run is due when rules changed (``full_requested_at``), when the dataset was never checked, and at
least every ``QUALITY_FULL_RUN_SECONDS`` (daily). Score = share of live rows with no failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.core import periodic
from govshare.core.errors import DomainError
from govshare.datasets.changes import changes_since, current_seq, iter_live_records
from govshare.datasets.models import Dataset
from govshare.quality.choices import RunKind
from govshare.quality.loader import evaluator_for
from govshare.quality.models import QualityIssue, QualityRun, QualityState
from govshare.quality.rules import Evaluator, Failure
from govshare.quality.services.common import setting

log = logging.getLogger("govshare.quality")
WORKER = "quality"


def state_of(dataset: Dataset) -> QualityState:
    state, _ = QualityState.objects.get_or_create(dataset_id=dataset.pk)  # never checked: a full run is due
    return state


def _issues(dataset_id: Any, key: str, failures: Iterable[Failure], now: dt.datetime) -> list[QualityIssue]:
    return [QualityIssue(dataset_id=dataset_id, record_key=key, column_name=f.column[:64],
                         rule_id=f.rule_id or None, rule_key=f.rule_key[:64], kind=f.kind, message=f.message[:300],
                         found_at=now) for f in failures]


def _failing_total(dataset_id: Any) -> int:
    return QualityIssue.objects.filter(dataset_id=dataset_id).values("record_key").distinct().count()


def _score(total: int, failing: int) -> float | None:
    return None if total <= 0 else round(max(0, total - failing) / total, 6)


def _evaluator(dataset: Dataset) -> Evaluator | None:
    try:
        return evaluator_for(dataset)
    except DomainError:  # e.g. the resource lost its published version: nothing to check against
        log.warning("quality: dataset %s has no published columns; skipped", dataset.pk)
        return None


def run_incremental(*, dataset: Dataset, actor: Any = WORKER, now: dt.datetime | None = None) -> QualityRun | None:
    """Check the records changed since the cursor. ``None`` when there was nothing to check (or the dataset has
    never had a full run, which will check everything)."""
    state = state_of(dataset)
    if state.last_full_at is None:
        return None
    evaluator = _evaluator(dataset)
    if evaluator is None:
        return None
    started = now or timezone.now()
    batch = setting("QUALITY_BATCH")
    checked = failing = issue_count = 0
    first_seq = last_seq = None
    while True:
        with transaction.atomic():
            st = QualityState.objects.select_for_update().get(pk=dataset.pk)
            changes = changes_since(dataset=dataset, after=st.cursor_seq, limit=batch)
            if not changes:
                break
            latest = {c.key: c for c in changes}  # in seq order: the last change of a key wins
            found = timezone.now()
            new: list[QualityIssue] = []
            for key, change in latest.items():
                failures = evaluator.evaluate(change.data) if change.op == "upsert" and change.data else []
                if failures:
                    failing += 1
                    issue_count += len(failures)
                    new += _issues(dataset.pk, key, failures, found)
            QualityIssue.objects.filter(dataset_id=dataset.pk, record_key__in=list(latest)).delete()
            QualityIssue.objects.bulk_create(new, batch_size=1000)
            checked += sum(1 for c in latest.values() if c.op == "upsert")
            first_seq = st.cursor_seq if first_seq is None else first_seq
            last_seq = changes[-1].seq
            total = Dataset.objects.filter(pk=dataset.pk).values_list("row_count", flat=True).get()
            fails = _failing_total(dataset.pk)
            QualityState.objects.filter(pk=dataset.pk).update(cursor_seq=last_seq, rows_total=total,
                                                              rows_failing=fails, score=_score(total, fails))
        periodic.heartbeat()
    if last_seq is None:
        return None
    with transaction.atomic():
        st = QualityState.objects.get(pk=dataset.pk)
        run = QualityRun.objects.create(
            node_id=dataset.node_id, dataset_id=dataset.pk, kind=RunKind.INCREMENTAL, from_seq=first_seq or 0,
            to_seq=last_seq, rows_checked=checked, rows_failing=failing, issues=issue_count,
            rows_total=st.rows_total, rows_failing_total=st.rows_failing, score=st.score, started_at=started,
            finished_at=timezone.now())
        record_event(actor=actor, action="quality.run_incremental", target_type="dataset", target_id=str(dataset.pk),
                     data={"run": str(run.pk), "from_seq": run.from_seq, "to_seq": last_seq, "rows_checked": checked,
                           "rows_failing": failing, "score": st.score})
    return run


def _claim_full(dataset: Dataset, token: str, now: dt.datetime) -> bool:
    state_of(dataset)
    lease = now + dt.timedelta(seconds=setting("QUALITY_FULL_LEASE_SECONDS"))
    return QualityState.objects.filter(Q(pk=dataset.pk), Q(lease_until__isnull=True) | Q(lease_until__lt=now)
                                       ).update(lease_token=token, lease_until=lease) == 1


def run_full(*, dataset: Dataset, actor: Any = WORKER, now: dt.datetime | None = None) -> QualityRun | None:
    """Check every live row of the dataset and replace its failing-row set. ``None`` when another worker holds
    the dataset's full-run lease (or the dataset has no published columns)."""
    started = now or timezone.now()
    token = uuid.uuid4().hex
    if not _claim_full(dataset, token, started):
        return None
    try:
        evaluator = _evaluator(dataset)
        if evaluator is None:
            return None
        start_seq = current_seq(dataset)
        found = timezone.now()
        new: list[QualityIssue] = []
        checked = failing = 0
        for key, data in iter_live_records(dataset=dataset, batch=2000):
            checked += 1
            failures = evaluator.evaluate(data)
            if failures:
                failing += 1
                new += _issues(dataset.pk, key, failures, found)
            if checked % 5000 == 0:
                periodic.heartbeat()
        with transaction.atomic():
            st = QualityState.objects.select_for_update().get(pk=dataset.pk)
            if st.lease_token != token:  # the lease expired and another worker took over
                return None
            QualityIssue.objects.filter(dataset_id=dataset.pk).delete()
            QualityIssue.objects.bulk_create(new, batch_size=1000)
            score = _score(checked, failing)
            keep_request = st.full_requested_at is not None and st.full_requested_at > started
            QualityState.objects.filter(pk=dataset.pk).update(
                cursor_seq=start_seq, last_full_at=started, rows_total=checked, rows_failing=failing, score=score,
                full_requested_at=F("full_requested_at") if keep_request else None, lease_token="", lease_until=None)
            run = QualityRun.objects.create(
                node_id=dataset.node_id, dataset_id=dataset.pk, kind=RunKind.FULL, from_seq=0, to_seq=start_seq,
                rows_checked=checked, rows_failing=failing, issues=len(new), rows_total=checked,
                rows_failing_total=failing, score=score, started_at=started, finished_at=timezone.now())
            record_event(actor=actor, action="quality.run_full", target_type="dataset", target_id=str(dataset.pk),
                         data={"run": str(run.pk), "to_seq": start_seq, "rows_checked": checked,
                               "rows_failing": failing, "issues": len(new), "score": score,
                               "skipped_rules": [s.key for s in evaluator.skipped]})
        return run
    finally:
        QualityState.objects.filter(pk=dataset.pk, lease_token=token).update(lease_token="", lease_until=None)


def request_full_run(*, actor: Any, dataset: Dataset) -> QualityState:
    """Ask for a full run of one dataset soon (the worker's ``quality.full`` job is kicked after commit)."""
    with transaction.atomic():
        state = state_of(dataset)
        QualityState.objects.filter(pk=dataset.pk).update(full_requested_at=timezone.now())
        periodic.kick_on_commit("quality.full")
        record_event(actor=actor, action="quality.full_run_requested", target_type="dataset",
                     target_id=str(dataset.pk), data={})
    state.refresh_from_db()
    return state


# ---------------------------------------------------------------------------------------------
# Periodic jobs
# ---------------------------------------------------------------------------------------------


def incremental_job() -> dict[str, int]:
    """``quality.incremental``: check the changed records of every dataset whose log moved past the cursor."""
    moved = (QualityState.objects.filter(last_full_at__isnull=False, dataset__last_seq__gt=F("cursor_seq"))
             .values_list("dataset_id", flat=True))
    runs = rows = 0
    for dataset in Dataset.objects.filter(pk__in=list(moved)).order_by("pk"):
        run = run_incremental(dataset=dataset)
        if run is not None:
            runs += 1
            rows += run.rows_checked
    return {"runs": runs, "rows_checked": rows}


def full_due(now: dt.datetime | None = None) -> list[Any]:
    """Datasets with data whose full run is due: never checked, rules changed, or older than the interval."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=setting("QUALITY_FULL_RUN_SECONDS"))
    with_data = Dataset.objects.filter(generation__gt=0)
    unchecked = with_data.exclude(pk__in=QualityState.objects.values("dataset_id")).values_list("pk", flat=True)
    due = (QualityState.objects.filter(dataset__generation__gt=0)
           .filter(Q(full_requested_at__isnull=False) | Q(last_full_at__isnull=True) | Q(last_full_at__lt=stale))
           .values_list("dataset_id", flat=True))
    return sorted({*unchecked, *due}, key=str)


def full_job(now: dt.datetime | None = None) -> dict[str, int]:
    """``quality.full``: run every due full run (daily by default, at once after a rule change)."""
    runs = rows = 0
    for dataset in Dataset.objects.filter(pk__in=full_due(now)).order_by("pk"):
        run = run_full(dataset=dataset)
        if run is not None:
            runs += 1
            rows += run.rows_checked
    return {"runs": runs, "rows_checked": rows}
