"""Two workers at once (PostgreSQL; in-memory SQLite shares one cache between threads): the incremental job, the
full run and the dispute sweep each do their work exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from govshare.accounts.models import User
from govshare.catalog.models import DataElement
from govshare.datasets.changes import apply_batch
from govshare.datasets.models import Dataset
from govshare.exchange.models import Notification
from govshare.quality.models import Dispute, DisputeStep, QualityIssue, QualityRun, QualityState
from govshare.quality.services import runs
from govshare.quality.services.disputes import raise_dispute
from govshare.quality.services.rules import create_rule
from govshare.quality.services.sweep import sweep_disputes
from govshare.quality.tests.conftest import build_world, person, rid

pytestmark = pytest.mark.django_db(transaction=True)


def race(fn: Callable[[], Any], n: int = 4) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(fn())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite shares one cache between threads")


def test_two_workers_run_each_check_once(seeded: None, data_office: User, provider: User, consumer: User) -> None:
    w = build_world(office=data_office, provider=provider, consumer=consumer, rows=30)
    create_rule(actor=w.office, kind="cross_field", element=DataElement.objects.get(code="DE0001"),
                params={"birth": "DE0004", "gender": "DE0003"})
    full = race(runs.full_job)
    assert sorted(r["runs"] for r in full) == [0, 0, 0, 1]
    apply_batch(actor=w.provider, dataset=w.dataset, batch_id="b1",
                upserts=[person(n, gender="男" if n % 2 == 0 else "女") for n in range(10)])
    inc = race(runs.incremental_job)
    assert sum(r["rows_checked"] for r in inc) == 10
    assert QualityIssue.objects.filter(dataset_id=w.dataset.pk).count() == 10  # no duplicates
    state = QualityState.objects.get(pk=w.dataset.pk)
    assert state.cursor_seq == Dataset.objects.get(pk=w.dataset.pk).last_seq and state.rows_failing == 10
    assert QualityRun.objects.filter(kind="incremental").count() == 1


def test_two_sweeps_escalate_once(seeded: None, data_office: User, provider: User, consumer: User) -> None:
    w = build_world(office=data_office, provider=provider, consumer=consumer)
    disputes = [raise_dispute(actor=w.consumer, dataset=w.dataset, record_key=rid(n), reason="不符") for n in range(3)]
    Dispute.objects.filter(pk__in=[d.pk for d in disputes]).update(accept_due_at=timezone.now())
    results = race(sweep_disputes)
    assert sum(r["escalated"] for r in results) == 3
    assert DisputeStep.objects.filter(action="escalate").count() == 3
    assert Notification.objects.filter(kind="dispute_escalation").count() == 3
