"""``govshare worker``: runs the periodic jobs apps register (schedule table with leases) and the queued
django-tasks (database backend), until stopped. See docs/background-work.md.

kill -9 loses nothing: jobs keep their state in domain tables and are idempotent; the dead worker's
heartbeat goes stale and the reaper of any other worker frees its leases and returns its RUNNING tasks
to the queue. SIGTERM/SIGINT stop gracefully: the current job or task finishes, leases are given back,
the heartbeat row is removed; a second signal stops at once (the lease is still given back).
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from fnmatch import fnmatch
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from govshare.core import backoff, periodic, reaper, wakeup

log = logging.getLogger("govshare.worker")


class _Stop(Exception):
    """Control flow: a stop signal arrived while the worker slept."""


def _fmt(dt: Any) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M:%S") if dt else "-"


def import_extra_job_modules() -> list[str]:
    """Import ``GOVSHARE["EXTRA_JOB_MODULES"]``: modules that register jobs outside the installed apps
    (a deployment hook: site-specific jobs, or the test jobs of the worker's own tests)."""
    names = list(getattr(settings, "GOVSHARE", {}).get("EXTRA_JOB_MODULES", []) or [])
    for name in names:
        importlib.import_module(name)
    return names


class BackgroundWorker:
    """The worker loop: reap, run due jobs, run queued tasks, sleep until the next due job or a wake-up."""

    def __init__(self, *, worker_id: str, interval: float, once: bool, jobs_only: bool, queues: list[str],
                 write: Callable[[str], None], names: list[str] | None = None) -> None:
        self.worker_id = worker_id
        self.names = names
        self.interval = interval
        self.once = once
        self.jobs_only = jobs_only
        self.queues = queues
        self.write = write
        self.stopping = False
        self.sleeping = False
        self._last_reap = 0.0
        self._old_handlers: dict[int, Any] = {}

    # -- signals ---------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            log.warning("worker %s: %s again - stopping now", self.worker_id, signal.strsignal(signum))
            raise KeyboardInterrupt
        log.warning("worker %s: %s - finishing the current job, then stopping", self.worker_id,
                    signal.strsignal(signum))
        self.stopping = True
        if self.sleeping:
            raise _Stop

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signals(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    # -- one round -------------------------------------------------------------------------------
    def _run_tasks(self) -> int:
        if self.jobs_only or self.stopping:
            return 0
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, task_backends
        from django_tasks_db.management.commands.db_worker import Worker as TaskWorker
        from django_tasks_db.models import DBTaskResult

        alias = DEFAULT_TASK_BACKEND_ALIAS
        if not isinstance(task_backends[alias], DatabaseBackend):
            return 0
        ready = DBTaskResult.objects.ready().filter(backend_name=alias)
        if "*" not in self.queues:
            ready = ready.filter(queue_name__in=self.queues)
        if not ready.exists():  # a read: no exclusive SQLite transaction when the queue is empty
            return 0
        worker = TaskWorker(queue_names=self.queues, interval=0, batch=True, backend_name=alias,
                            startup_delay=False, worker_id=self.worker_id, excluded_queue_names=[],
                            max_tasks=int(periodic.setting("WORKER_TASKS_PER_ROUND", 20)))
        worker.run()
        return int(worker._run_tasks)

    def _round(self) -> bool:
        if not connection.in_atomic_block:  # (in tests, call_command runs inside the test's transaction)
            close_old_connections()  # drop a connection the database closed, or one past CONN_MAX_AGE
        mono = time.monotonic()
        if mono - self._last_reap >= periodic.setting("REAPER_INTERVAL_SECONDS", 10):
            self._last_reap = mono
            reaper.reap()
        if self.once:
            reaper.beat(self.worker_id)
        ran = periodic.run_due(owner=self.worker_id, sync=False, names=self.names, stop=lambda: self.stopping)
        tasks = self._run_tasks()
        if self.once:
            self.write(f"jobs run: {', '.join(ran) or 'none'}; tasks run: {tasks}")
        return bool(ran or tasks)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        reaper.register_worker(self.worker_id)
        periodic.sync_schedule()
        heart: reaper.HeartbeatThread | None = None
        waiter: wakeup.Waiter | None = None
        if not self.once:
            self._install_signals()
            heart = reaper.HeartbeatThread(self.worker_id)
            heart.start()
            waiter = wakeup.Waiter([periodic.CHANNEL])
        errors = 0
        try:
            while not self.stopping:
                try:
                    busy = self._round()
                    errors = 0
                except DatabaseError:
                    if self.once:
                        raise
                    errors += 1
                    pause = backoff.delay(errors, base=0.5, cap=30)
                    log.exception("worker %s: database error; retrying in %.1f s", self.worker_id, pause)
                    connection.close()
                    self._sleep(time.sleep, pause)
                    continue
                if self.once:
                    break
                if busy:
                    continue
                timeout = self.interval
                due = periodic.seconds_until_due(names=self.names)
                if due is not None:
                    timeout = min(timeout, due)
                if timeout > 0 and waiter is not None:
                    self._sleep(waiter.wait, timeout)
        finally:
            if heart is not None:
                heart.stop()
            if waiter is not None:
                waiter.close()
            self._restore_signals()
            try:
                reaper.unregister_worker(self.worker_id)
            except DatabaseError:
                log.warning("worker %s: could not unregister (the reaper will)", self.worker_id, exc_info=True)

    def _sleep(self, how: Callable[[float], object], seconds: float) -> None:
        self.sleeping = True
        try:
            if not self.stopping:
                how(seconds)
        except _Stop:
            pass
        finally:
            self.sleeping = False


class Command(BaseCommand):
    help = "Run periodic jobs and background tasks (后台工作进程)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=None,
                            help="longest sleep when idle, seconds (default: WORKER_POLL_SECONDS=0.2 on SQLite, "
                                 "WORKER_IDLE_SECONDS=1.0 on PostgreSQL, where NOTIFY wakes it sooner)")
        parser.add_argument("--once", action="store_true", help="one round of due jobs and queued tasks, then exit")
        parser.add_argument("--jobs-only", action="store_true", help="run the periodic jobs, not the task queue")
        parser.add_argument("--jobs", default="",
                            help="run only the periodic jobs matching these comma-separated patterns "
                                 "(fnmatch, e.g. 'subscriptions.*'); default: all")
        parser.add_argument("--queues", default="*", help="task queues to serve, comma-separated (default: all)")
        parser.add_argument("--worker-id", default="", help="worker id (default: generated; must be unique)")
        parser.add_argument("--status", action="store_true",
                            help="print the schedule table, the workers and the task queue, then exit")
        parser.add_argument("--enable", metavar="JOB", help="resume a paused job, then exit")
        parser.add_argument("--disable", metavar="JOB", help="pause a job (no worker claims it), then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        import_extra_job_modules()
        if options["status"]:
            self._status()
            return
        for flag, enabled in (("enable", True), ("disable", False)):
            if options[flag]:
                if not periodic.set_enabled(options[flag], enabled):
                    raise CommandError(f"未知任务 (unknown job): {options[flag]}")
                self.stdout.write(f"{options[flag]}: {'enabled' if enabled else 'disabled'}")
                return
        interval = options["interval"]
        if interval is None:
            interval = (periodic.setting("WORKER_IDLE_SECONDS", 1.0) if wakeup.supports_notify()
                        else wakeup.poll_seconds())
        if options["verbosity"] < 2:
            logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        worker_id = options["worker_id"] or reaper.new_worker_id()
        if len(worker_id) > 64:
            raise CommandError("worker id: at most 64 characters")
        patterns = [p.strip() for p in options["jobs"].split(",") if p.strip()]
        selected = [j.name for j in periodic.jobs() if not patterns or any(fnmatch(j.name, p) for p in patterns)]
        self.stdout.write(f"govshare worker {worker_id}: periodic jobs: {', '.join(selected) or 'none'}")
        BackgroundWorker(worker_id=worker_id, interval=max(0.0, interval), once=options["once"],
                         jobs_only=options["jobs_only"], queues=[q for q in options["queues"].split(",") if q],
                         write=self.stdout.write, names=selected if patterns else None).run()

    def _status(self) -> None:
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        from govshare.core.models.jobs import WorkerHeartbeat

        now = timezone.now()
        out = self.stdout.write
        out("定时任务 (schedule)")
        out(f"{'job':<34} {'every':>7} {'next run':<19} {'status':<8} {'fail':>4} {'runs':>6} {'lost':>4}"
            "  lease owner")
        for r in periodic.status_rows():
            name = r["name"] + ("" if r["registered"] else " (?)") + ("" if r["enabled"] else " (paused)")
            lease = r["lease_owner"] or "-"
            if r["lease_owner"] and r["lease_until"]:
                lease += f" until {_fmt(r['lease_until'])}"
            out(f"{name:<34} {r['every_seconds']:>6g}s {_fmt(r['next_run_at']):<19} {r['last_status']:<8} "
                f"{r['consecutive_failures']:>4} {r['runs']:>6} {r['lost_runs']:>4}  {lease}")
            if r["last_status"] in ("failed", "lost") and r["last_error"]:
                out(f"    {r['last_error'].splitlines()[0][:150]}")
        out("")
        out("工作进程 (workers)")
        dead_after = periodic.setting("WORKER_DEAD_SECONDS", 30)
        for w in WorkerHeartbeat.objects.order_by("started_at"):
            age = (now - w.seen_at).total_seconds()
            state = "alive" if age <= dead_after else "DEAD"
            out(f"{w.id:<48} {w.hostname}:{w.pid} seen {age:.0f}s ago ({state}) {w.current_job or ''}")
        out("")
        counts = dict(DBTaskResult.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        out("任务队列 (tasks): " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
