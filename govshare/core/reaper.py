"""Worker registry and heartbeat reaper (DESIGN.md §4 "Background work"; docs/background-work.md).

Every ``govshare worker`` process has a :class:`WorkerHeartbeat` row whose ``seen_at`` a background
thread refreshes every ``WORKER_HEARTBEAT_SECONDS`` (5 s). A worker whose row is older than
``WORKER_DEAD_SECONDS`` (30 s) is dead — kill -9, power loss, a frozen VM. :func:`reap`, run by every
worker every ``REAPER_INTERVAL_SECONDS`` (10 s) and safe to run in several at once (each step is a
conditional UPDATE/DELETE), then

(a) frees the schedule leases held by dead workers, so another worker runs those (idempotent) jobs again;
(b) returns django-tasks-db ``DBTaskResult`` rows stuck RUNNING under a dead worker to READY, after a
    backoff (``run_after``), or marks them FAILED with a reason once ``TASK_MAX_ATTEMPTS`` claims were made;
(c) deletes the heartbeat rows of workers dead for longer than ``WORKER_FORGET_SECONDS`` (1 h).

Why extend django-tasks-db instead of replacing it: its queue table, claim (``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, an exclusive transaction on SQLite) and result API are sound and are the
reference backend of Django's own tasks framework, so code written against ``django.tasks`` keeps
working when Django 6 ships it. What it lacks — liveness — needs only the worker id it already records
in ``worker_ids`` on each claim: our worker passes its heartbeat id there, and this module does the rest
with two small tables of our own. Nothing of the backend is patched.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.utils import timezone

from govshare.core import backoff
from govshare.core.models.jobs import JobStatus, ScheduledJob, WorkerHeartbeat

log = logging.getLogger("govshare.worker")

#: Prefix of the ids of ``govshare worker`` processes (django-tasks-db accepts up to 64 characters).
WORKER_PREFIX = "gsw-"


class WorkerLost(Exception):
    """The worker running a task died (kill -9, crash, power loss) too many times."""


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, "GOVSHARE", {}).get(name, default))


def new_worker_id() -> str:
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-.")[:24] or "host"
    return f"{WORKER_PREFIX}{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------------------------------
# Worker registry
# --------------------------------------------------------------------------------------------------

def register_worker(worker_id: str, *, current_job: str = "") -> WorkerHeartbeat:
    now = timezone.now()
    fields = {"hostname": socket.gethostname()[:255], "pid": os.getpid(), "seen_at": now,
              "current_job": current_job[:100]}
    row, _ = WorkerHeartbeat.objects.update_or_create(id=worker_id, defaults=fields,
                                                      create_defaults={**fields, "started_at": now})
    return row


def beat(worker_id: str, *, current_job: str = "") -> None:
    """Refresh a worker's heartbeat (re-creating its row if a reaper forgot it during a long pause)."""
    now = timezone.now()
    if not WorkerHeartbeat.objects.filter(id=worker_id).update(seen_at=now, current_job=current_job[:100]):
        register_worker(worker_id, current_job=current_job)


def extend_leases(worker_id: str, *, now: datetime | None = None) -> int:
    """Extend the leases ``worker_id`` holds on jobs started less than ``JOB_MAX_RUNTIME_SECONDS`` ago.

    A live worker keeps its running job's lease; a job hung for longer than the maximum run time lets
    its lease lapse, so another worker runs the job (jobs are idempotent)."""
    now = now or timezone.now()
    lease = timedelta(seconds=_setting("JOB_LEASE_SECONDS", 120))
    oldest = now - timedelta(seconds=_setting("JOB_MAX_RUNTIME_SECONDS", 3600))
    return ScheduledJob.objects.filter(lease_owner=worker_id, last_started_at__gte=oldest).update(
        lease_until=now + lease)


def unregister_worker(worker_id: str) -> None:
    """Graceful exit: give back any lease still held and remove the heartbeat row."""
    ScheduledJob.objects.filter(lease_owner=worker_id).update(
        lease_owner="", lease_until=None, last_status=JobStatus.LOST,
        last_error="工作进程退出，租约已交还 (worker stopped; lease released)")
    WorkerHeartbeat.objects.filter(id=worker_id).delete()


class HeartbeatThread(threading.Thread):
    """Refreshes the worker's heartbeat and its running job's lease, independently of what the job does
    (a task or job that never calls ``periodic.heartbeat()`` still keeps its worker alive)."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self._stop_event = threading.Event()
        self.beats = 0

    def run(self) -> None:
        from govshare.core import periodic

        every = _setting("WORKER_HEARTBEAT_SECONDS", 5.0)
        try:
            while not self._stop_event.wait(every):
                try:
                    beat(self.worker_id, current_job=periodic.current_job(self.worker_id))
                    extend_leases(self.worker_id)
                    self.beats += 1
                except DatabaseError:
                    log.warning("heartbeat of %s failed; retrying", self.worker_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)


# --------------------------------------------------------------------------------------------------
# The reaper
# --------------------------------------------------------------------------------------------------

@dataclass
class ReapResult:
    dead_workers: list[str] = field(default_factory=list)
    freed_jobs: list[str] = field(default_factory=list)
    requeued_tasks: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)
    forgotten_workers: int = 0

    def __bool__(self) -> bool:
        return bool(self.freed_jobs or self.requeued_tasks or self.failed_tasks or self.forgotten_workers)


def reap(*, now: datetime | None = None) -> ReapResult:
    now = now or timezone.now()
    result = ReapResult()
    dead_cutoff = now - timedelta(seconds=_setting("WORKER_DEAD_SECONDS", 30))
    dead = list(WorkerHeartbeat.objects.filter(seen_at__lt=dead_cutoff).values_list("id", flat=True))
    result.dead_workers = dead
    if dead:
        _free_leases(dead, result)
    _requeue_tasks(set(dead), dead_cutoff, now, result)
    forget_cutoff = now - timedelta(seconds=_setting("WORKER_FORGET_SECONDS", 3600))
    result.forgotten_workers, _ = WorkerHeartbeat.objects.filter(seen_at__lt=forget_cutoff).delete()
    if result:
        log.warning("reaper: freed jobs %s, requeued tasks %s, failed tasks %s, forgot %d workers",
                    result.freed_jobs, result.requeued_tasks, result.failed_tasks, result.forgotten_workers)
    return result


def _free_leases(dead: list[str], result: ReapResult) -> None:
    for worker_id in dead:
        names = list(ScheduledJob.objects.filter(lease_owner=worker_id).values_list("name", flat=True))
        for name in names:
            freed = ScheduledJob.objects.filter(name=name, lease_owner=worker_id).update(
                lease_owner="", lease_until=None, last_status=JobStatus.LOST, lost_runs=F("lost_runs") + 1,
                last_error=f"工作进程 {worker_id} 已失联，租约已释放 (worker {worker_id} died; lease freed by reaper)")
            if freed:
                result.freed_jobs.append(name)


def _requeue_tasks(dead: set[str], dead_cutoff: datetime, now: datetime, result: ReapResult) -> None:
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    known = set(WorkerHeartbeat.objects.values_list("id", flat=True))
    max_attempts = int(_setting("TASK_MAX_ATTEMPTS", 3))
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list(
        "id", "worker_ids", "started_at")
    for task_id, worker_ids, started_at in running:
        last = worker_ids[-1] if isinstance(worker_ids, list) and worker_ids else ""
        # Dead: its heartbeat is stale, or it is one of ours whose row was already forgotten.
        orphan = (last.startswith(WORKER_PREFIX) and last not in known
                  and started_at is not None and started_at < dead_cutoff)
        if last not in dead and not orphan:
            continue
        attempts = len(worker_ids)
        same_claim = DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING, started_at=started_at)
        if attempts >= max_attempts:
            reason = (f"任务执行进程 {last} 已失联，已尝试 {attempts} 次，不再重试 "
                      f"(worker {last} died; {attempts} attempts, giving up)")
            if same_claim.update(status=TaskResultStatus.FAILED, finished_at=now, return_value=None,
                                 exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
                                 traceback=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}: {reason}\n"):
                result.failed_tasks.append(str(task_id))
            continue
        wait = backoff.delay(attempts, base=_setting("TASK_RETRY_BASE_SECONDS", 5),
                             cap=_setting("TASK_RETRY_MAX_DELAY_SECONDS", 300))
        if same_claim.update(status=TaskResultStatus.READY, run_after=now + timedelta(seconds=wait)):
            result.requeued_tasks.append(str(task_id))
