"""``govshare worker`` as real processes: kill -9 mid-job, two workers on one job, kicks, SIGTERM.

The workers run ``python -m govshare.cli worker`` with the test settings (background_settings.py: test
jobs via ``EXTRA_JOB_MODULES``, liveness in seconds) against the test database: on PostgreSQL the
pytest database itself (transactional tests commit); on SQLite a file copy of the in-memory test
database, read back with the sqlite3 module. The jobs leave evidence rows (background_jobs.py).
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[3]


class SharedDb:
    """The database the worker subprocesses and this test both see."""

    def __init__(self, tmp_path: Path) -> None:
        self.path: Path | None = None
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            if connection.is_in_memory_db():
                self.path = tmp_path / "workers.sqlite3"
                target = sqlite3.connect(self.path)
                connection.connection.backup(target)
                target.close()
            else:
                self.path = Path(connection.settings_dict["NAME"])
            self.url = f"sqlite:///{self.path}"
        else:
            sd = connection.settings_dict
            auth = quote(sd["USER"] or "") + (":" + quote(sd["PASSWORD"]) if sd.get("PASSWORD") else "")
            self.url = f"postgres://{auth}@{sd['HOST'] or 'localhost'}:{sd['PORT'] or 5432}/{sd['NAME']}"
        self.execute("CREATE TABLE IF NOT EXISTS bg_test_evidence "
                     "(job VARCHAR(100), event VARCHAR(20), pid INTEGER, at DOUBLE PRECISION)")
        self.execute("DELETE FROM bg_test_evidence")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.path is not None:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                return list(db.execute(sql.replace("%s", "?"), params).fetchall())
            finally:
                db.close()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def execute(self, sql: str) -> None:
        if self.path is not None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.execute(sql)
            finally:
                db.close()
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql)

    def evidence(self, job: str) -> list[tuple[str, int, float]]:
        return [(e, int(p), float(a)) for e, p, a in
                self.query("SELECT event, pid, at FROM bg_test_evidence WHERE job = %s ORDER BY at", (job,))]

    def schedule(self, job: str) -> dict[str, Any]:
        cols = ["last_status", "runs", "lost_runs", "consecutive_failures", "lease_owner", "last_error"]
        rows = self.query("SELECT last_status, runs, lost_runs, consecutive_failures, lease_owner, last_error "
                          "FROM core_scheduledjob WHERE name = %s", (job,))
        return dict(zip(cols, rows[0], strict=True)) if rows else {}

    def workers(self) -> list[tuple[str, int]]:
        return [(i, int(p)) for i, p in self.query("SELECT id, pid FROM core_workerheartbeat")]


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[SharedDb]:
    db = SharedDb(tmp_path)
    yield db
    if db.path is None:
        db.execute("DROP TABLE IF EXISTS bg_test_evidence")


class Workers:
    def __init__(self, db: SharedDb, tmp_path: Path) -> None:
        self.db = db
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[Any] = []

    def env(self, jobs: str, **extra: str) -> dict[str, str]:
        return {**os.environ, "DJANGO_SETTINGS_MODULE": "govshare.core.tests.background_settings",
                "DATABASE_URL": self.db.url, "GS_BG_TEST_JOBS": jobs, "PYTHONUNBUFFERED": "1", **extra}

    def start(self, jobs: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"worker-{len(self.procs)}.log", "wb")
        self.files.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "govshare.cli", "worker", "--jobs-only", "--jobs", jobs],
                                cwd=REPO, env=self.env(jobs, **extra), stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.tmp_path.glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for f in self.files:
            f.close()


@pytest.fixture
def workers(shared: SharedDb, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(shared, tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


def wait_for(what: Callable[[], Any], timeout: float, workers: Workers, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out: {message}\n{workers.logs()}")


def test_kill_9_mid_job_another_worker_finishes_it(shared: SharedDb, workers: Workers) -> None:
    a = workers.start("bgtest.slow", GS_BG_SLOW_SECONDS="3")
    wait_for(lambda: shared.evidence("bgtest.slow"), 20, workers, "worker A starts the slow job")
    row = shared.schedule("bgtest.slow")
    assert row["last_status"] == "running" and row["lease_owner"].startswith("gsw-")
    holder = row["lease_owner"]
    os.kill(a.pid, signal.SIGKILL)
    a.wait(10)
    time.sleep(0.2)
    assert shared.schedule("bgtest.slow")["lease_owner"] == holder  # the dead worker still holds the lease

    b = workers.start("bgtest.slow", GS_BG_SLOW_SECONDS="1")
    wait_for(lambda: ("finish", b.pid) in [(e, p) for e, p, _ in shared.evidence("bgtest.slow")], 25, workers,
             "worker B runs the job again and finishes it")
    events = [(e, p) for e, p, _ in shared.evidence("bgtest.slow")]
    assert events == [("start", a.pid), ("start", b.pid), ("finish", b.pid)]
    # The evidence commits inside the job; the worker records the outcome right after it returns.
    row = wait_for(lambda: (r := shared.schedule("bgtest.slow"))["last_status"] == "ok" and r, 10, workers,
                   "worker B records the run")
    assert (row["last_status"], row["runs"], row["lost_runs"], row["consecutive_failures"], row["lease_owner"]) == (
        "ok", 2, 1, 0, "")

    b.send_signal(signal.SIGTERM)
    assert b.wait(15) == 0, workers.logs()
    pids = [p for _, p in shared.workers()]
    assert b.pid not in pids  # a graceful exit removes its heartbeat row
    assert pids in ([a.pid], [])  # the dead worker's row stays until forgotten


def _intervals(events: list[tuple[str, int, float]]) -> list[tuple[float, float, int]]:
    open_at: dict[int, float] = {}
    spans = []
    for event, pid, at in events:
        if event == "start":
            assert pid not in open_at
            open_at[pid] = at
        else:
            spans.append((open_at.pop(pid), at, pid))
    assert not open_at, f"a run did not finish: {open_at}"
    return sorted(spans)


def test_two_workers_never_run_one_job_at_once_and_stop_gracefully(shared: SharedDb, workers: Workers) -> None:
    a = workers.start("bgtest.overlap")
    b = workers.start("bgtest.overlap")

    def enough() -> bool:
        done = [p for e, p, _ in shared.evidence("bgtest.overlap") if e == "finish"]
        return len(done) >= 16 and {a.pid, b.pid} <= set(done)

    wait_for(enough, 30, workers, "both workers ran the job")
    for proc in (a, b):
        proc.send_signal(signal.SIGTERM)
    assert a.wait(15) == 0 and b.wait(15) == 0, workers.logs()
    spans = _intervals(shared.evidence("bgtest.overlap"))  # SIGTERM let the current run finish
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert start >= end, "two runs of one job overlapped"
    assert {pid for _, _, pid in spans} == {a.pid, b.pid}
    row = shared.schedule("bgtest.overlap")
    assert row["lease_owner"] == "" and row["runs"] >= 16 and row["lost_runs"] == 0
    assert shared.workers() == []


KICKER = """
import sys, time
import django
django.setup()
from govshare.core import periodic
for _ in range(3):
    periodic.kick("bgtest.kicked")
    print(time.time(), flush=True)
    time.sleep(0.8)
"""


def test_kick_from_another_process_runs_the_job_within_a_second(shared: SharedDb, workers: Workers) -> None:
    workers.start("bgtest.kicked")
    wait_for(lambda: shared.schedule("bgtest.kicked").get("last_status") == "ok", 20, workers,
             "the first (due at start) run")
    run = subprocess.run([sys.executable, "-c", KICKER], cwd=REPO, env=workers.env("bgtest.kicked"),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    kicks = [float(line) for line in run.stdout.split()]
    wait_for(lambda: len(shared.evidence("bgtest.kicked")) >= 4, 10, workers, "three kicked runs")
    starts = [at for _, _, at in shared.evidence("bgtest.kicked")][1:4]
    latencies = [s - k for s, k in zip(starts, kicks, strict=True)]
    assert all(lat >= 0 for lat in latencies), latencies
    # PostgreSQL: NOTIFY wakes the worker at once (the idle sleep is 1 s); SQLite: 0.2 s short polls.
    limit = 0.5 if connection.vendor == "postgresql" else 1.0
    assert max(latencies) < limit, latencies
