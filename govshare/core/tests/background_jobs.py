"""Jobs for the worker's own tests, registered through ``GOVSHARE["EXTRA_JOB_MODULES"]`` in the worker
subprocesses (see background_settings.py) and imported directly by the in-process tests.

Each job leaves evidence in ``bg_test_evidence`` (a plain table the tests create and drop: job, event,
pid, time), committed at once, so a test can see what a worker did even after it was killed.
``GS_BG_TEST_JOBS`` (comma-separated) chooses which jobs a subprocess registers.
"""

from __future__ import annotations

import os
import time

from django.db import connection
from django_tasks import task

from govshare.core import periodic


def ensure_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bg_test_evidence "
                       "(job VARCHAR(100), event VARCHAR(20), pid INTEGER, at DOUBLE PRECISION)")


def record(job: str, event: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bg_test_evidence (job, event, pid, at) VALUES (%s, %s, %s, %s)",
                       [job, event, os.getpid(), time.time()])


def slow() -> str:
    """Runs GS_BG_SLOW_SECONDS (3 s), calling periodic.heartbeat() as a long job should."""
    record("bgtest.slow", "start")
    until = time.monotonic() + float(os.environ.get("GS_BG_SLOW_SECONDS", "3"))
    while time.monotonic() < until:
        time.sleep(0.05)
        periodic.heartbeat()
    record("bgtest.slow", "finish")
    return "slow done"


def overlap() -> str:
    record("bgtest.overlap", "start")
    time.sleep(0.15)
    record("bgtest.overlap", "finish")
    return "overlap done"


def kicked() -> str:
    record("bgtest.kicked", "start")
    return "kicked done"


@task()
def touch_task(marker: str) -> str:
    """A django-tasks task for the reaper tests."""
    return marker


JOBS = {
    "bgtest.slow": (3600.0, slow),
    "bgtest.overlap": (0.1, overlap),
    "bgtest.kicked": (3600.0, kicked),
}

for _name in [n.strip() for n in os.environ.get("GS_BG_TEST_JOBS", "").split(",") if n.strip()]:
    ensure_table()
    _every, _func = JOBS[_name]
    periodic.register(_name, _every, _func)
