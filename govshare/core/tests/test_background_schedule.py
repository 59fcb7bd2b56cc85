"""The durable schedule table: sync, claiming, backoff and recovery, kicks, heartbeats (periodic.py)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from govshare.core import backoff, periodic
from govshare.core.models import JobStatus, ScheduledJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry() -> Iterator[dict[str, periodic.Job]]:
    """An empty job registry for the test; the apps' jobs are put back afterwards."""
    saved = dict(periodic._jobs)
    periodic._jobs.clear()
    yield periodic._jobs
    periodic._jobs.clear()
    periodic._jobs.update(saved)


def _row(name: str) -> ScheduledJob:
    return ScheduledJob.objects.get(name=name)


# -- backoff ----------------------------------------------------------------------------------------

def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    assert [backoff.nominal(a, base=1, cap=60) for a in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    for attempt in range(1, 12):
        raw = backoff.nominal(attempt, base=0.5, cap=30)
        for _ in range(50):
            d = backoff.delay(attempt, base=0.5, cap=30, rng=rng)
            assert raw / 2 <= d <= raw <= 30
    assert backoff.delay(1000, base=1, cap=5, jitter=0) == 5
    assert backoff.delay(3, base=0, cap=5) == 0
    # Jitter spreads: 50 draws are not all the same.
    assert len({backoff.delay(5, base=1, cap=100, rng=rng) for _ in range(50)}) > 40


# -- sync -------------------------------------------------------------------------------------------

def test_sync_creates_due_rows_and_applies_interval_changes(registry: dict) -> None:
    periodic.register("t.a", 60, lambda: None)
    periodic.register("t.b", 600, lambda: None)
    before = timezone.now()
    assert periodic.sync_schedule() == 2
    assert _row("t.a").next_run_at >= before and _row("t.a").next_run_at <= timezone.now()
    assert periodic.sync_schedule() == 0  # idempotent
    ScheduledJob.objects.filter(name="t.b").update(next_run_at=timezone.now() + timedelta(seconds=600))
    periodic.register("t.b", 30, lambda: None)  # a deployment shortened the interval
    assert periodic.sync_schedule() == 1
    row = _row("t.b")
    assert row.every_seconds == 30
    assert row.next_run_at <= timezone.now() + timedelta(seconds=31)
    with pytest.raises(ValueError):
        periodic.register("t.bad", 0, lambda: None)


# -- claiming ---------------------------------------------------------------------------------------

def test_claim_is_exclusive_until_the_lease_is_released_or_expires(registry: dict) -> None:
    periodic.register("t.job", 60, lambda: None)
    periodic.sync_schedule()
    now = timezone.now()
    assert periodic.claim("t.job", owner="A", now=now) is not None
    assert periodic.claim("t.job", owner="B", now=now) is None
    assert periodic.claim("t.job", owner="A", now=now) is None  # not even the holder twice
    row = _row("t.job")
    assert (row.lease_owner, row.last_status, row.runs) == ("A", JobStatus.RUNNING, 1)
    # The holder died without a heartbeat row: once the lease has expired, another worker takes it.
    later = row.lease_until + timedelta(seconds=1)
    claimed = periodic.claim("t.job", owner="B", now=later)
    assert claimed is not None and claimed.lease_owner == "B"
    assert (claimed.runs, claimed.lost_runs) == (2, 1)


def test_a_disabled_or_not_yet_due_job_is_not_claimed(registry: dict) -> None:
    periodic.register("t.job", 60, lambda: None)
    periodic.sync_schedule()
    periodic.set_enabled("t.job", False)
    assert periodic.claim("t.job", owner="A") is None
    periodic.set_enabled("t.job", True)
    ScheduledJob.objects.filter(name="t.job").update(next_run_at=timezone.now() + timedelta(seconds=5))
    assert periodic.claim("t.job", owner="A") is None
    assert periodic.due_names() == []
    assert 0 < (periodic.seconds_until_due() or 0) <= 5


def test_expired_lease_of_a_dead_owner_is_run_by_another_worker(registry: dict) -> None:
    calls: list[int] = []
    periodic.register("t.job", 60, lambda: calls.append(1))
    long_ago = timezone.now() - timedelta(seconds=1000)
    periodic.sync_schedule(now=long_ago)
    assert periodic.claim("t.job", owner="gsw-dead-1-x", now=long_ago) is not None  # lease long expired
    assert periodic.run_due(owner="B") == ["t.job"]
    row = _row("t.job")
    assert calls == [1]
    assert (row.last_status, row.lease_owner, row.runs, row.lost_runs) == (JobStatus.OK, "", 2, 1)


@pytest.mark.django_db(transaction=True)
def test_two_threads_claiming_at_once_one_wins(registry: dict) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite shares one cache between threads; two processes are tested instead")
    periodic.register("t.race", 60, lambda: None)
    periodic.sync_schedule()
    barrier = threading.Barrier(8)
    winners: list[str] = []
    now = timezone.now()

    def contend(i: int) -> None:
        try:
            barrier.wait()
            if periodic.claim("t.race", owner=f"T{i}", now=now) is not None:
                winners.append(f"T{i}")
        finally:
            connection.close()

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(winners) == 1
    assert _row("t.race").lease_owner == winners[0]


# -- outcomes ---------------------------------------------------------------------------------------

def test_success_schedules_the_next_run_one_interval_after_the_end(registry: dict) -> None:
    periodic.register("t.ok", 120, lambda: "fine")
    assert periodic.run_due(owner="A") == ["t.ok"]
    row = _row("t.ok")
    assert (row.last_status, row.consecutive_failures, row.lease_owner, row.runs) == (JobStatus.OK, 0, "", 1)
    assert row.lease_until is None and row.last_duration_seconds is not None
    assert row.next_run_at == row.last_finished_at + timedelta(seconds=120)
    assert periodic.run_due(owner="A") == []  # not due again
    assert periodic.get("t.ok") is not None and periodic.get("t.ok").last_run > 0  # type: ignore[union-attr]


def test_failures_back_off_exponentially_capped_at_the_interval_then_recover(
        registry: dict, settings: object) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "JOB_RETRY_BASE_SECONDS": 2}  # type: ignore[attr-defined]
    outcomes = iter([ValueError("源库连接失败 (source down)")] * 5 + [None])

    def flaky() -> str:
        exc = next(outcomes)
        if exc is not None:
            raise exc
        return "recovered"

    periodic.register("t.flaky", 20, flaky)
    delays = []
    for failures in range(1, 6):
        due = _row("t.flaky").next_run_at if failures > 1 else None
        assert periodic.run_due(owner="A", now=due) == ["t.flaky"]
        row = _row("t.flaky")
        assert row.last_status == JobStatus.FAILED
        assert row.consecutive_failures == failures
        assert "ValueError: 源库连接失败 (source down)" in row.last_error
        assert len(row.last_error) <= 2000 and row.lease_owner == ""
        assert row.last_finished_at is not None
        delay = (row.next_run_at - row.last_finished_at).total_seconds()
        nominal = backoff.nominal(failures, base=2, cap=20)
        assert nominal / 2 <= delay <= nominal <= 20
        delays.append(delay)
    assert delays[3] > delays[0]  # grew; the last ones are capped at the 20 s interval
    assert periodic.run_due(owner="A") == []  # still backing off
    assert periodic.run_due(owner="A", now=_row("t.flaky").next_run_at) == ["t.flaky"]
    row = _row("t.flaky")
    assert (row.last_status, row.consecutive_failures, row.last_error) == (JobStatus.OK, 0, "")
    assert row.next_run_at == row.last_finished_at + timedelta(seconds=20)
    assert row.runs == 6


# -- kicks ------------------------------------------------------------------------------------------

def test_kick_makes_a_job_due_now_and_a_kick_during_a_run_runs_it_again(registry: dict) -> None:
    calls: list[str] = []

    def deliver() -> None:
        calls.append("run")
        if len(calls) == 1:
            periodic.kick("t.deliver")  # a change batch committed while we were delivering

    periodic.register("t.deliver", 3600, deliver)
    assert periodic.run_due(owner="A") == ["t.deliver"]
    row = _row("t.deliver")
    assert row.next_run_at == row.last_finished_at  # kicked meanwhile: due again at once
    assert periodic.run_due(owner="A") == ["t.deliver"]
    row = _row("t.deliver")
    assert row.next_run_at == row.last_finished_at + timedelta(seconds=3600)
    assert periodic.run_due(owner="A") == []
    assert periodic.kick("t.deliver") is True
    assert periodic.kick("t.deliver") is False  # already due: a kick storm writes nothing
    assert periodic.run_due(owner="A") == ["t.deliver"]
    assert calls == ["run", "run", "run"]
    assert periodic.kick("t.unknown") is False


def test_kick_creates_the_row_of_a_registered_job_not_yet_scheduled(registry: dict) -> None:
    periodic.register("t.new", 3600, lambda: None)
    assert periodic.kick("t.new") is True
    assert _row("t.new").kicked is True
    assert periodic.run_due(owner="A", sync=False) == ["t.new"]


@pytest.mark.django_db(transaction=True)
def test_kick_on_commit_waits_for_the_commit(registry: dict) -> None:
    from django.db import transaction

    periodic.register("t.sub", 3600, lambda: None)
    periodic.run_due(owner="A")
    with transaction.atomic():
        periodic.kick_on_commit("t.sub")
        assert _row("t.sub").kicked is False
    assert _row("t.sub").kicked is True
    with pytest.raises(RuntimeError), transaction.atomic():
        periodic.run_due(owner="A")
        periodic.kick_on_commit("t.sub")
        raise RuntimeError("rolled back")
    assert _row("t.sub").kicked is True  # the rolled-back run and its kick both vanished


# -- heartbeats -------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_heartbeat_extends_the_lease_and_reports_a_lost_one(registry: dict, settings: object) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "JOB_HEARTBEAT_MIN_SECONDS": 0}  # type: ignore[attr-defined]
    seen: list[tuple[object, bool]] = []

    def long_job() -> None:
        before = _row("t.long").lease_until
        seen.append((before, periodic.heartbeat()))
        seen.append((_row("t.long").lease_until, True))
        ScheduledJob.objects.filter(name="t.long").update(lease_owner="someone-else")
        seen.append((None, periodic.heartbeat()))

    periodic.register("t.long", 60, long_job)
    assert periodic.heartbeat() is True  # outside a job: nothing to do
    periodic.run_due(owner="A")
    (before, held), (after, _), (_, lost) = seen
    assert held is True and after > before  # type: ignore[operator]
    assert lost is False
    row = _row("t.long")
    assert row.lease_owner == "someone-else"  # the outcome is not written over another worker's lease
