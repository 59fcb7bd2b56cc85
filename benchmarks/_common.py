"""Shared plumbing of the benchmark scripts: a throw-away database, peak memory, percentiles, JSON output."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_database(pg: str | None, prefix: str, *, migrate: bool = True) -> str | None:
    """A fresh GOVSHARE_HOME and a fresh database (``<prefix>_<pid>`` on the PostgreSQL server ``pg``, or the
    SQLite file in the new home); ``django.setup()``; migrations. Returns the PostgreSQL database name."""
    os.environ["GOVSHARE_HOME"] = tempfile.mkdtemp(prefix=f"{prefix}-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    dbname = None
    if pg:
        import psycopg

        dbname = f"{prefix}_{os.getpid()}"
        with psycopg.connect(server_url(pg), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        os.environ["DATABASE_URL"] = server_url(pg).rsplit("/", 1)[0] + "/" + dbname
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return dbname


def server_url(pg: str) -> str:
    """The URL of the server's maintenance database (``postgres``), whatever database ``pg`` names."""
    return pg.rsplit("/", 1)[0] + "/postgres"


def drop_database(pg: str | None, dbname: str | None) -> None:
    if not (pg and dbname):
        return
    from django.db import connections

    connections.close_all()
    import psycopg

    with psycopg.connect(server_url(pg), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident set size (ru_maxrss, KiB on Linux) of this process, or of its largest waited-for child."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a running process, from /proc; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def engine_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        return f"{connection.vendor} {cursor.fetchone()[0]}"


def write_json(path: str | Path | None, result: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
