"""Pulls and reconciliations against the real PostgreSQL and MariaDB servers and SQLite files."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govshare.connectors import values
from govshare.connectors.choices import RunStatus
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.tests.conftest import (
    ENGINES,
    connect_source,
    platform_rows,
    run_now,
    source_as_platform,
)
from govshare.connectors.tests.sources import BASE, ZONE, person, rid
from govshare.datasets.models import ChangeBatch, DatasetChange

pytestmark = pytest.mark.django_db


def watermark_local(connector: SourceConnector) -> dt.datetime:
    """The stored watermark as a naive local time, whatever type the source gave it."""
    value = values.decode(connector.watermark)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.astimezone(ZONE).replace(tzinfo=None) if value.tzinfo else value


def _changes(dataset: Any, after: int = 0) -> list[tuple[int, str, str]]:
    return list(DatasetChange.objects.filter(dataset=dataset, seq__gt=after).order_by("seq")
                .values_list("seq", "key", "op"))


@pytest.mark.parametrize("engine", ENGINES)
def test_initial_then_incremental_pulls(engine: str, make_source: Any, dataset: Any, provider: Any,
                                        allow_local: Any) -> None:
    src = make_source(engine).create(person(n) for n in range(1, 26))
    connector = connect_source(src, dataset, provider)
    assert connector.next_pull_at is not None and connector.watermark == {}

    first = run_now(connector)
    assert first is not None and first.status == RunStatus.SUCCEEDED, first.error
    assert (first.pages, first.rows_read, first.inserted, first.updated) == (3, 25, 25, 0)
    assert platform_rows(dataset) == source_as_platform(src)
    connector.refresh_from_db()
    # the watermark is the newest 更新时间 applied (as the source's own type)
    assert watermark_local(connector) == BASE + dt.timedelta(minutes=25)
    assert connector.last_success_at is not None
    batches = set(ChangeBatch.objects.filter(dataset=dataset).values_list("batch_id", flat=True))
    assert batches == {f"connector:{connector.pk}:run:{first.pk}:page:{n}" for n in (1, 2, 3)}
    seq_after_first = dataset.__class__.objects.get(pk=dataset.pk).last_seq
    assert seq_after_first == 25

    # two updates and one insert, all with newer 更新时间; rows inside the overlap window are re-read unchanged
    src.update_name(rid(3), "张三丰", stamp=BASE + dt.timedelta(minutes=40))
    src.update_name(rid(7), "李七", stamp=BASE + dt.timedelta(minutes=41))
    src.insert([person(26, minutes=42)])
    second = run_now(connector)
    assert second is not None and second.status == RunStatus.SUCCEEDED, second.error
    assert (second.inserted, second.updated, second.deleted) == (1, 2, 0)
    assert second.unchanged == second.rows_read - 3 > 0  # the overlap re-read rows, changing nothing
    assert platform_rows(dataset) == source_as_platform(src)
    assert [(k, op) for _, k, op in _changes(dataset, seq_after_first)] == [
        (rid(3), "upsert"), (rid(7), "upsert"), (rid(26), "upsert")]

    # nothing new: an empty scheduled poll leaves no run row and changes nothing
    SourceConnector.objects.filter(pk=connector.pk).update(next_pull_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    from govshare.connectors.dispatch import dispatch

    stats = dispatch(budget_seconds=30)
    assert stats.get("succeeded") == 1
    assert ConnectorRun.objects.filter(connector=connector).count() == 2
    assert len(_changes(dataset, seq_after_first)) == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_late_commit_caught_by_overlap_or_reconciliation(engine: str, make_source: Any, dataset: Any,
                                                         provider: Any, allow_local: Any) -> None:
    src = make_source(engine).create(person(n) for n in range(1, 11))
    connector = connect_source(src, dataset, provider, overlap_seconds=300)
    run_now(connector)
    connector.refresh_from_db()
    assert watermark_local(connector) == BASE + dt.timedelta(minutes=10)
    # A transaction that took its 更新时间 before the watermark commits after the pull:
    # 2 minutes older than the watermark (inside the 5-minute overlap) and 2 hours older (outside).
    src.insert([person(101, minutes=8), person(102, minutes=-120)])
    pulled = run_now(connector)
    assert pulled is not None and pulled.status == RunStatus.SUCCEEDED, pulled.error
    assert pulled.inserted == 1
    held = platform_rows(dataset)
    assert rid(101) in held and rid(102) not in held

    reconciled = run_now(connector, "reconcile")
    assert reconciled is not None and reconciled.status == RunStatus.SUCCEEDED, reconciled.error
    report = reconciled.report
    assert report["missing_on_platform"] == {"count": 1, "sample_keys": [rid(102)]}
    assert report["deleted_at_source"]["count"] == 0 and report["drifted"]["count"] == 0
    assert report["source_rows"] == 12 and report["unchanged"] == 11
    assert platform_rows(dataset) == source_as_platform(src)


@pytest.mark.parametrize("engine", ENGINES)
def test_reconciliation_reports_deletes_and_drift(engine: str, make_source: Any, dataset: Any, provider: Any,
                                                  allow_local: Any) -> None:
    src = make_source(engine).create(person(n) for n in range(1, 31))
    connector = connect_source(src, dataset, provider)
    run_now(connector)
    src.delete([rid(4), rid(9)])
    src.update_name(rid(12), "王十二")  # drift: the value changed, the 更新时间 did not
    quiet = run_now(connector)
    assert quiet is None or (quiet.inserted, quiet.updated, quiet.deleted) == (0, 0, 0)
    assert rid(4) in platform_rows(dataset)

    run = run_now(connector, "reconcile")
    assert run is not None and run.status == RunStatus.SUCCEEDED, run.error
    assert (run.inserted, run.updated, run.deleted, run.unchanged) == (0, 1, 2, 27)
    report = run.report
    assert report["deleted_at_source"]["count"] == 2
    assert sorted(report["deleted_at_source"]["sample_keys"]) == sorted([rid(4), rid(9)])
    assert report["drifted"] == {"count": 1, "sample_keys": [rid(12)]}
    assert report["missing_on_platform"]["count"] == 0
    assert platform_rows(dataset) == source_as_platform(src)
    deletes = DatasetChange.objects.filter(dataset=dataset, op="delete").values_list("key", flat=True)
    assert sorted(deletes) == sorted([rid(4), rid(9)])


def test_rereading_unchanged_rows_does_not_count_as_fresh_data(make_source: Any, dataset: Any, provider: Any,
                                                               allow_local: Any) -> None:
    """Freshness (更新周期): an overlap re-read or a reconciliation that changes nothing is not data arriving."""
    from govshare.datasets.models import Dataset

    src = make_source("sqlite").create(person(n) for n in range(1, 6))
    connector = connect_source(src, dataset, provider, overlap_seconds=3600)
    run_now(connector)
    arrived = Dataset.objects.get(pk=dataset.pk).last_received_at
    assert arrived is not None
    old = arrived - dt.timedelta(days=3)
    Dataset.objects.filter(pk=dataset.pk).update(last_received_at=old)  # as if the last change came 3 days ago
    reread = run_now(connector)  # the whole source is inside the overlap window: re-read, nothing changes
    assert reread is not None and reread.rows_read == 5 and reread.unchanged == 5
    assert run_now(connector, "reconcile") is not None
    assert Dataset.objects.get(pk=dataset.pk).last_received_at == old
    src.update_name(rid(2), "王二", stamp=BASE + dt.timedelta(minutes=30))
    changed = run_now(connector)
    assert changed is not None and changed.updated == 1
    assert Dataset.objects.get(pk=dataset.pk).last_received_at > old
