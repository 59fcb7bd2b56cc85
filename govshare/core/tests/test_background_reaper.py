"""The worker registry and the heartbeat reaper (reaper.py), and ``govshare worker --status/--once``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from govshare.core import periodic, reaper
from govshare.core.models import JobStatus, ScheduledJob, WorkerHeartbeat
from govshare.core.tests.background_jobs import touch_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry() -> Iterator[dict[str, periodic.Job]]:
    saved = dict(periodic._jobs)
    periodic._jobs.clear()
    yield periodic._jobs
    periodic._jobs.clear()
    periodic._jobs.update(saved)


def _worker(worker_id: str, seen_seconds_ago: float) -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(id=worker_id, hostname="h", pid=1, started_at=now - timedelta(hours=2),
                                          seen_at=now - timedelta(seconds=seen_seconds_ago))


def _running_task(worker_ids: list[str], started_seconds_ago: float = 60) -> DBTaskResult:
    return DBTaskResult.objects.create(
        args_kwargs={"args": ["m"], "kwargs": {}}, task_path=touch_task.module_path, backend_name="default",
        run_after=get_date_max(), status=TaskResultStatus.RUNNING, worker_ids=worker_ids,
        started_at=timezone.now() - timedelta(seconds=started_seconds_ago))


def test_worker_ids_fit_django_tasks_db_and_are_unique() -> None:
    ids = {reaper.new_worker_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(i.startswith(reaper.WORKER_PREFIX) and len(i) <= 64 for i in ids)


def test_register_beat_and_unregister_worker(registry: dict) -> None:
    periodic.register("t.job", 60, lambda: None)
    periodic.sync_schedule()
    row = reaper.register_worker("gsw-me")
    assert row.pid > 0 and row.hostname
    periodic.claim("t.job", owner="gsw-me")
    WorkerHeartbeat.objects.filter(id="gsw-me").delete()  # forgotten during a long pause
    reaper.beat("gsw-me", current_job="t.job")
    assert WorkerHeartbeat.objects.get(id="gsw-me").current_job == "t.job"
    reaper.unregister_worker("gsw-me")
    assert not WorkerHeartbeat.objects.filter(id="gsw-me").exists()
    job = ScheduledJob.objects.get(name="t.job")
    assert job.lease_owner == "" and job.last_status == JobStatus.LOST


def test_extend_leases_only_up_to_the_maximum_run_time(registry: dict, settings: object) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "JOB_MAX_RUNTIME_SECONDS": 600}  # type: ignore[attr-defined]
    periodic.register("t.fresh", 60, lambda: None)
    periodic.register("t.hung", 60, lambda: None)
    periodic.sync_schedule(now=timezone.now() - timedelta(hours=1))
    periodic.claim("t.fresh", owner="gsw-me")
    periodic.claim("t.hung", owner="gsw-me", now=timezone.now() - timedelta(seconds=900))
    hung_until = ScheduledJob.objects.get(name="t.hung").lease_until
    assert reaper.extend_leases("gsw-me") == 1
    assert ScheduledJob.objects.get(name="t.hung").lease_until == hung_until  # left to lapse
    assert ScheduledJob.objects.get(name="t.fresh").lease_until > timezone.now() + timedelta(seconds=100)


def test_reaper_frees_the_leases_of_a_dead_worker_so_another_runs_the_job(registry: dict) -> None:
    calls: list[int] = []
    periodic.register("t.job", 60, lambda: calls.append(1))
    periodic.register("t.other", 60, lambda: None)
    periodic.sync_schedule()
    _worker("gsw-dead", seen_seconds_ago=120)
    _worker("gsw-alive", seen_seconds_ago=1)
    periodic.claim("t.job", owner="gsw-dead")
    periodic.claim("t.other", owner="gsw-alive")
    assert periodic.run_due(owner="gsw-me") == []  # the leases (120 s) are still valid
    result = reaper.reap()
    assert result.dead_workers == ["gsw-dead"] and result.freed_jobs == ["t.job"]
    row = ScheduledJob.objects.get(name="t.job")
    assert (row.lease_owner, row.last_status, row.lost_runs) == ("", JobStatus.LOST, 1)
    assert "gsw-dead" in row.last_error
    assert ScheduledJob.objects.get(name="t.other").lease_owner == "gsw-alive"  # a live worker keeps its job
    assert reaper.reap().freed_jobs == []  # idempotent
    assert periodic.run_due(owner="gsw-me") == ["t.job"]
    row = ScheduledJob.objects.get(name="t.job")
    assert calls == [1] and (row.last_status, row.runs, row.lost_runs) == (JobStatus.OK, 2, 1)


# Transactional: django-tasks-db's worker calls close_old_connections(), which closes a connection that
# is inside the test's transaction on PostgreSQL.
@pytest.mark.django_db(transaction=True)
def test_reaper_returns_a_stuck_running_task_to_the_queue_and_it_runs(registry: dict) -> None:
    _worker("gsw-dead", seen_seconds_ago=120)
    _worker("gsw-alive", seen_seconds_ago=1)
    stuck = _running_task(["gsw-dead"])
    busy = _running_task(["gsw-alive"])
    foreign = _running_task(["plain-db-worker-id"], started_seconds_ago=7200)  # not ours: left alone
    result = reaper.reap()
    assert result.requeued_tasks == [str(stuck.id)]
    stuck.refresh_from_db()
    assert stuck.status == TaskResultStatus.READY
    assert stuck.run_after > timezone.now()  # retried after a backoff
    busy.refresh_from_db()
    foreign.refresh_from_db()
    assert busy.status == foreign.status == TaskResultStatus.RUNNING
    assert reaper.reap().requeued_tasks == []
    # Due now: the next worker round runs it, under its own id.
    DBTaskResult.objects.filter(id=stuck.id).update(run_after=timezone.now() - timedelta(seconds=1))
    call_command("worker", "--once", "--worker-id", "gsw-next")
    stuck.refresh_from_db()
    assert stuck.status == TaskResultStatus.SUCCESSFUL
    assert stuck.return_value == "m"
    assert stuck.worker_ids == ["gsw-dead", "gsw-next"]


def test_reaper_fails_a_task_after_max_attempts_with_a_reason(settings: object) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "TASK_MAX_ATTEMPTS": 2}  # type: ignore[attr-defined]
    _worker("gsw-dead", seen_seconds_ago=120)
    again = _running_task(["gsw-dead"])
    doomed = _running_task(["gsw-dead-before", "gsw-dead"])
    # A worker of ours whose heartbeat row is already gone (forgotten) is dead too.
    orphan = _running_task(["gsw-long-gone"])
    result = reaper.reap()
    assert sorted(result.requeued_tasks) == sorted([str(again.id), str(orphan.id)])
    assert result.failed_tasks == [str(doomed.id)]
    doomed.refresh_from_db()
    assert doomed.status == TaskResultStatus.FAILED and doomed.finished_at is not None
    assert doomed.exception_class_path == "govshare.core.reaper.WorkerLost"
    assert "2 attempts" in doomed.traceback and "已失联" in doomed.traceback
    assert doomed.task_result.errors[0].exception_class is reaper.WorkerLost


def test_reaper_forgets_long_dead_workers() -> None:
    _worker("gsw-ancient", seen_seconds_ago=2 * 3600)
    _worker("gsw-recent-dead", seen_seconds_ago=60)
    assert reaper.reap().forgotten_workers == 1
    assert list(WorkerHeartbeat.objects.values_list("id", flat=True)) == ["gsw-recent-dead"]


def test_worker_once_runs_due_jobs_and_status_shows_the_schedule(
        registry: dict, capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> None:
        raise RuntimeError("对端不可达 (peer unreachable)")

    periodic.register("t.good", 300, lambda: "ok")
    periodic.register("t.broken", 300, broken)
    periodic.register("t.other", 300, lambda: "ok")
    call_command("worker", "--once", "--jobs-only", "--jobs", "t.good,t.b*")
    out = capsys.readouterr().out
    assert "jobs run: " in out and "t.good" in out and "t.broken" in out
    assert not ScheduledJob.objects.get(name="t.other").runs
    assert not WorkerHeartbeat.objects.exists()  # unregistered on exit
    _worker("gsw-dead", seen_seconds_ago=120)
    periodic.claim("t.other", owner="gsw-dead")
    call_command("worker", "--disable", "t.good")
    call_command("worker", "--status")
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("t.")}
    assert "ok" in lines["t.good"] and "(paused)" in lines["t.good"]
    assert "failed" in lines["t.broken"] and " 1 " in lines["t.broken"]
    assert "gsw-dead until" in lines["t.other"]
    assert "RuntimeError: 对端不可达 (peer unreachable)" in out
    assert "gsw-dead" in out and "DEAD" in out
    assert "任务队列 (tasks)" in out
    call_command("worker", "--enable", "t.good")
    assert ScheduledJob.objects.get(name="t.good").enabled
