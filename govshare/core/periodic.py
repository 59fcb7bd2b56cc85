"""Periodic jobs run by ``govshare worker`` (DESIGN.md §4 "Background work"); see docs/background-work.md.

Apps register idempotent functions at start-up, as before::

    periodic.register("exchange.sweep_deadlines", 300, sweep_deadlines)

The registry is in memory (per process); the schedule is durable: one :class:`ScheduledJob` row per job
(next run, lease, last outcome). A worker

- upserts the rows of its registered jobs at start (:func:`sync_schedule`; a changed interval is applied);
- claims a due job with ONE conditional UPDATE (due, enabled, lease free or expired), so two workers never
  run the same job at once, on SQLite and PostgreSQL alike; the lease is a time limit kept alive by the
  worker's heartbeat thread and by :func:`heartbeat` calls from a long job;
- on success schedules the next run ``every_seconds`` after the end (at once if it was kicked meanwhile);
  on failure records the error and retries after an exponential backoff with jitter, capped at the
  interval (or ``JOB_RETRY_MAX_DELAY_SECONDS``), and never gives up on a periodic job.

:func:`kick` makes a job due now and wakes the workers (PostgreSQL NOTIFY; SQLite workers short-poll);
domains call it after commit, e.g. ``kick_on_commit("subscriptions.deliver")`` when a change batch commits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from govshare.core import backoff, wakeup
from govshare.core.models.jobs import JobStatus, ScheduledJob, WorkerHeartbeat

log = logging.getLogger("govshare.worker")

#: The NOTIFY channel workers listen on; the payload is the kicked job's name.
CHANNEL = "govshare_jobs"
NAME_MAX = 100


def setting(name: str, default: float) -> float:
    """A number from ``settings.GOVSHARE`` (every number is a setting, DESIGN.md §3)."""
    return float(getattr(settings, "GOVSHARE", {}).get(name, default))


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[], object]
    #: wall-clock time this process last finished the job (0 = not yet); informational only.
    last_run: float = field(default=0.0)


_jobs: dict[str, Job] = {}


def register(name: str, every_seconds: float, func: Callable[[], object]) -> None:
    """Register (or re-register) an idempotent job; ``func()`` must be safe to run in two workers at once."""
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"job name must be 1..{NAME_MAX} characters: {name!r}")
    if every_seconds <= 0:
        raise ValueError(f"job {name}: every_seconds must be positive")
    _jobs[name] = Job(name=name, every_seconds=float(every_seconds), func=func)


def jobs() -> list[Job]:
    return list(_jobs.values())


def get(name: str) -> Job | None:
    return _jobs.get(name)


def adhoc_owner() -> str:
    """A lease owner id for a run outside ``govshare worker`` (no heartbeat row: the lease just expires)."""
    return f"adhoc-{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------------------------------
# The schedule table
# --------------------------------------------------------------------------------------------------

def sync_schedule(*, now: datetime | None = None, names: Iterable[str] | None = None) -> int:
    """Upsert the rows of the registered jobs: new jobs are due at once; interval changes are applied
    (the next run is pulled in when the new interval is shorter). Safe in several workers at once.
    Answers how many rows were created or changed."""
    now = now or timezone.now()
    wanted = [_jobs[n] for n in (names if names is not None else _jobs) if n in _jobs]
    if not wanted:
        return 0
    existing = {r.name: r for r in ScheduledJob.objects.filter(name__in=[j.name for j in wanted])}
    new = [ScheduledJob(name=j.name, every_seconds=j.every_seconds, next_run_at=now)
           for j in wanted if j.name not in existing]
    if new:
        ScheduledJob.objects.bulk_create(new, ignore_conflicts=True)
    changed = len(new)
    for job in wanted:
        row = existing.get(job.name)
        if row is None or row.every_seconds == job.every_seconds:
            continue
        next_run_at = min(row.next_run_at, now + timedelta(seconds=job.every_seconds))
        changed += ScheduledJob.objects.filter(pk=row.pk, every_seconds=row.every_seconds).update(
            every_seconds=job.every_seconds, next_run_at=next_run_at)
        log.info("job %s: interval %s s -> %s s", job.name, row.every_seconds, job.every_seconds)
    return changed


def _lease() -> timedelta:
    return timedelta(seconds=setting("JOB_LEASE_SECONDS", 120))


def _free_or_expired(now: datetime) -> Q:
    return Q(lease_owner="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def claim(name: str, *, owner: str, now: datetime | None = None) -> ScheduledJob | None:
    """Take the lease of a due job: ONE conditional UPDATE, so at most one claimant wins.

    Due = enabled and ``next_run_at <= now``; claimable = no lease, or a lease that expired (its holder is
    presumed dead; the run it lost is counted in ``lost_runs``). ``next_run_at`` is left alone, so a job
    whose holder dies is still due when its lease is freed. Answers the claimed row, or None."""
    now = now or timezone.now()
    won = ScheduledJob.objects.filter(Q(name=name, enabled=True, next_run_at__lte=now),
                                      _free_or_expired(now)).update(
        lease_owner=owner,
        lease_until=now + _lease(),
        last_started_at=now,
        last_status=JobStatus.RUNNING,
        kicked=False,
        runs=F("runs") + 1,
        lost_runs=Case(When(lease_owner="", then=F("lost_runs")), default=F("lost_runs") + 1),
    )
    if won != 1:
        return None
    return ScheduledJob.objects.filter(name=name).first()


def release(name: str, *, owner: str) -> bool:
    """Give a lease back without recording a run (shutdown mid-job): the job stays due for another worker."""
    return ScheduledJob.objects.filter(name=name, lease_owner=owner).update(
        lease_owner="", lease_until=None, last_status=JobStatus.LOST,
        last_error="运行被中断，租约已交还 (run interrupted; lease released)") == 1


# --------------------------------------------------------------------------------------------------
# Running jobs
# --------------------------------------------------------------------------------------------------

@dataclass
class _Run:
    name: str
    owner: str
    started: float
    last_beat: float
    held: bool = True


_local = threading.local()
_current_by_owner: dict[str, str] = {}


def current_job(owner: str) -> str:
    """The job the worker ``owner`` is running now ("" between jobs); read by its heartbeat thread."""
    return _current_by_owner.get(owner, "")


def heartbeat() -> bool:
    """Called by a long job now and then: extends its lease and its worker's heartbeat.

    Cheap to call often (writes at most once a second). Answers False when the lease was lost (the job
    ran past its lease and another worker took it): the job may stop early; finishing is harmless too,
    since jobs are idempotent. Inside a transaction it does nothing (the write would not be visible
    before commit, and would hold the schedule row's lock); the worker's heartbeat thread still keeps
    the lease for up to ``JOB_MAX_RUNTIME_SECONDS``."""
    run: _Run | None = getattr(_local, "run", None)
    if run is None:
        return True
    mono = time.monotonic()
    if mono - run.last_beat < setting("JOB_HEARTBEAT_MIN_SECONDS", 1.0):
        return run.held
    if transaction.get_connection().in_atomic_block:
        return run.held
    now = timezone.now()
    run.last_beat = mono
    run.held = ScheduledJob.objects.filter(name=run.name, lease_owner=run.owner).update(
        lease_until=now + _lease()) == 1
    WorkerHeartbeat.objects.filter(id=run.owner).update(seen_at=now)
    if not run.held:
        log.warning("job %s: lease lost while running (owner %s)", run.name, run.owner)
    return run.held


def _error_text(exc: BaseException) -> str:
    limit = int(setting("JOB_ERROR_MAX_CHARS", 2000))
    text = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc))
    if len(text) > limit:
        half = max(1, limit // 2 - 3)
        text = text[:half] + "\n…\n" + text[-half:]
    return text


def _retry_delay(failures: int, every: float) -> float:
    cap = min(every, setting("JOB_RETRY_MAX_DELAY_SECONDS", 3600))
    return backoff.delay(failures, base=setting("JOB_RETRY_BASE_SECONDS", 1.0), cap=cap)


def _next_run(now: datetime, seconds: float) -> Case:
    """``now`` if the job was kicked while it ran, else ``now + seconds``."""
    return Case(When(kicked=True, then=Value(now)), default=Value(now + timedelta(seconds=seconds)),
                output_field=models.DateTimeField())


def run_claimed(job: Job, row: ScheduledJob, *, owner: str) -> bool:
    """Run a job whose lease ``owner`` holds and record the outcome; True on success.

    A KeyboardInterrupt/SystemExit (second SIGTERM) gives the lease back and propagates."""
    started = time.monotonic()
    _local.run = _Run(name=job.name, owner=owner, started=started, last_beat=started)
    _current_by_owner[owner] = job.name
    error: BaseException | None = None
    try:
        result = job.func()
        log.debug("job %s: %s", job.name, result)
    except Exception as exc:
        error = exc
        log.exception("job %s failed", job.name)
    except BaseException:
        release(job.name, owner=owner)
        raise
    finally:
        _local.run = None
        _current_by_owner.pop(owner, None)
    job.last_run = time.time()
    now = timezone.now()
    duration = time.monotonic() - started
    mine = ScheduledJob.objects.filter(Q(name=job.name), Q(lease_owner=owner) | Q(lease_owner=""))
    if error is None:
        done = mine.update(lease_owner="", lease_until=None, last_finished_at=now, last_duration_seconds=duration,
                           last_status=JobStatus.OK, last_error="", consecutive_failures=0,
                           next_run_at=_next_run(now, row.every_seconds))
    else:
        failures = row.consecutive_failures + 1
        wait = _retry_delay(failures, row.every_seconds)
        done = mine.update(lease_owner="", lease_until=None, last_finished_at=now, last_duration_seconds=duration,
                           last_status=JobStatus.FAILED, last_error=_error_text(error),
                           consecutive_failures=failures, next_run_at=_next_run(now, wait))
        log.warning("job %s: failure %d, retry in %.1f s", job.name, failures, wait)
    if not done:
        log.warning("job %s: finished after its lease passed to another worker; outcome not recorded", job.name)
    return error is None


def due_names(*, now: datetime | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Registered jobs that are due and claimable now, earliest first (a read; claiming decides)."""
    now = now or timezone.now()
    wanted = list(names) if names is not None else list(_jobs)
    return list(ScheduledJob.objects.filter(Q(name__in=wanted, enabled=True, next_run_at__lte=now),
                                            _free_or_expired(now))
                .order_by("next_run_at").values_list("name", flat=True))


def run_due(*, owner: str | None = None, now: datetime | None = None, sync: bool = True,
            names: Iterable[str] | None = None, stop: Callable[[], bool] | None = None) -> list[str]:
    """Claim and run, once each, the registered jobs that are due; answers the names that ran.

    ``sync`` first upserts the schedule rows (the worker does it once at start and passes False).
    ``stop()`` is checked between jobs (graceful shutdown)."""
    owner = owner or adhoc_owner()
    if sync:
        sync_schedule(now=now, names=names)
    ran: list[str] = []
    for name in due_names(now=now, names=names):
        if stop is not None and stop():
            break
        job = _jobs.get(name)
        if job is None:
            continue
        row = claim(name, owner=owner, now=now)
        if row is None:
            continue  # another worker was quicker
        run_claimed(job, row, owner=owner)
        ran.append(name)
    return ran


def seconds_until_due(*, now: datetime | None = None, names: Iterable[str] | None = None) -> float | None:
    """Seconds until the earliest registered job becomes claimable (0 if one is now), None if none is."""
    now = now or timezone.now()
    wanted = list(names) if names is not None else list(_jobs)
    best: float | None = None
    for next_run_at, owner, until in ScheduledJob.objects.filter(name__in=wanted, enabled=True).values_list(
            "next_run_at", "lease_owner", "lease_until"):
        at = next_run_at
        if owner and until is not None and until > at:
            at = until
        seconds = max(0.0, (at - now).total_seconds())
        best = seconds if best is None else min(best, seconds)
    return best


# --------------------------------------------------------------------------------------------------
# Kicks
# --------------------------------------------------------------------------------------------------

def kick(name: str, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Make job ``name`` due now and wake the workers. Call it after commit (see :func:`kick_on_commit`).

    If the job is running, it runs once more right after (``kicked``). A kick also skips a pending
    failure backoff: new work arrived. Repeated kicks of an already-due job write nothing. Answers
    whether the schedule changed."""
    now = timezone.now()
    changed = ScheduledJob.objects.using(using).filter(Q(name=name), Q(kicked=False) | Q(next_run_at__gt=now)).update(
        next_run_at=now, kicked=True)
    if not changed and name in _jobs and not ScheduledJob.objects.using(using).filter(name=name).exists():
        job = _jobs[name]
        ScheduledJob.objects.using(using).bulk_create(
            [ScheduledJob(name=name, every_seconds=job.every_seconds, next_run_at=now, kicked=True)],
            ignore_conflicts=True)
        changed = 1
    if changed:
        wakeup.notify(CHANNEL, name, using=using)
    elif name not in _jobs and not ScheduledJob.objects.using(using).filter(name=name).exists():
        log.warning("kick: unknown job %s", name)
    return bool(changed)


def kick_on_commit(name: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Kick ``name`` when the current transaction commits (at once outside one); a failed kick is logged,
    not raised: the job still runs at its interval."""
    transaction.on_commit(partial(kick, name, using=using), using=using, robust=True)


def set_enabled(name: str, enabled: bool) -> bool:
    """Pause or resume a job (operators: ``govshare worker --disable/--enable NAME``)."""
    return ScheduledJob.objects.filter(name=name).update(enabled=enabled) == 1


def status_rows() -> list[dict[str, Any]]:
    """The schedule table as plain dicts, for ``govshare worker --status``."""
    rows = []
    for r in ScheduledJob.objects.order_by("name"):
        rows.append({
            "name": r.name, "registered": r.name in _jobs, "enabled": r.enabled, "every_seconds": r.every_seconds,
            "next_run_at": r.next_run_at, "kicked": r.kicked, "last_status": r.last_status or "-",
            "last_started_at": r.last_started_at, "last_finished_at": r.last_finished_at,
            "last_duration_seconds": r.last_duration_seconds, "consecutive_failures": r.consecutive_failures,
            "runs": r.runs, "lost_runs": r.lost_runs, "lease_owner": r.lease_owner, "lease_until": r.lease_until,
            "last_error": r.last_error,
        })
    return rows
