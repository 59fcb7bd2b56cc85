"""Periodic jobs run by ``govshare worker``: idempotent functions that apps register at start-up.

The durable schedule table, heartbeat reaper and retries with backoff arrive with the resource-center
issue (DESIGN.md §4); until then each worker runs every registered job when its interval has passed, and
every job is safe to run twice or concurrently (each takes row locks and skips work already done).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("govshare.worker")


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[], object]
    last_run: float = field(default=0.0)


_jobs: dict[str, Job] = {}


def register(name: str, every_seconds: float, func: Callable[[], object]) -> None:
    _jobs[name] = Job(name=name, every_seconds=every_seconds, func=func)


def jobs() -> list[Job]:
    return list(_jobs.values())


def run_due(now: float | None = None) -> list[str]:
    """Run every job whose interval has passed; a failing job is logged and retried next round."""
    now = time.monotonic() if now is None else now
    ran = []
    for job in _jobs.values():
        if job.last_run and now - job.last_run < job.every_seconds:
            continue
        try:
            result = job.func()
            log.info("job %s: %s", job.name, result)
        except Exception:
            log.exception("job %s failed", job.name)
        job.last_run = now
        ran.append(job.name)
    return ran
