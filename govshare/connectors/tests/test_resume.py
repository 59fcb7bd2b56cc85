"""Resumable runs: leases, replayed pages, a crash inside a page, time budgets, and kill -9 of a real worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from govshare.audit.models import AuditEvent
from govshare.connectors import dispatch as dispatcher
from govshare.connectors import pull as pull_module
from govshare.connectors.choices import ConnectorStatus, RunStatus
from govshare.connectors.leases import LeaseLost, renew
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.tests.conftest import connect_source, platform_rows, run_now, source_as_platform
from govshare.connectors.tests.sources import PG, PgSource, expected, person
from govshare.datasets.models import Dataset, DatasetChange

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[3]
PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def lite(make_source: Any, dataset: Any, provider: Any, allow_local: Any) -> tuple[Any, SourceConnector]:
    src = make_source("sqlite").create(person(n) for n in range(1, 26))
    return src, connect_source(src, dataset, provider)


def _seq(dataset: Dataset) -> int:
    return Dataset.objects.get(pk=dataset.pk).last_seq


def test_replayed_pages_change_nothing(lite: Any, dataset: Dataset) -> None:
    src, connector = lite
    first = run_now(connector)
    assert first is not None and first.status == RunStatus.SUCCEEDED
    seq, changes = _seq(dataset), DatasetChange.objects.filter(dataset=dataset).count()
    # As if the run's progress had been lost after its pages were applied: same run, same page numbers,
    # so the same batch ids — every page is a replay.
    ConnectorRun.objects.filter(pk=first.pk).update(
        status=RunStatus.RUNNING, lease_owner="dead-worker", lease_until=timezone.now() - dt.timedelta(seconds=1),
        pages=0, rows_read=0, inserted=0, updated=0, unchanged=0, progress={"lower": None, "cursor": None})
    stats = dispatcher.dispatch(budget_seconds=30)
    assert stats["resumed"] == 1 and stats["succeeded"] == 1
    again = ConnectorRun.objects.get(pk=first.pk)
    assert again.status == RunStatus.SUCCEEDED and again.pages == 3 and again.lost_leases == 1
    assert _seq(dataset) == seq and DatasetChange.objects.filter(dataset=dataset).count() == changes
    assert platform_rows(dataset) == source_as_platform(src)


def test_crash_inside_a_page_rolls_the_page_back(lite: Any, dataset: Dataset, monkeypatch: Any) -> None:
    src, connector = lite
    calls = {"n": 0}

    def flaky_renew(run_id: int, owner: str, **updates: Any) -> None:
        if "pages" in updates:
            calls["n"] += 1
            if calls["n"] == 2:  # page 2 is applied, then the worker "dies" before its progress commits
                raise RuntimeError("simulated crash")
        renew(run_id, owner, **updates)

    monkeypatch.setattr(pull_module, "renew", flaky_renew)
    failed = run_now(connector)
    assert failed is not None and failed.status == RunStatus.FAILED and "simulated crash" in failed.error
    assert failed.pages == 1 and _seq(dataset) == 10  # page 2 rolled back with its progress
    connector.refresh_from_db()
    assert connector.consecutive_failures == 1 and connector.next_pull_at > timezone.now()
    assert connector.watermark["value"].endswith("08:10:00")  # advanced with page 1 only
    monkeypatch.setattr(pull_module, "renew", renew)
    retry = run_now(connector)
    assert retry is not None and retry.status == RunStatus.SUCCEEDED
    assert (retry.inserted, retry.updated) == (15, 0)
    assert platform_rows(dataset) == source_as_platform(src)
    keys = list(DatasetChange.objects.filter(dataset=dataset).values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 25
    connector.refresh_from_db()
    assert connector.consecutive_failures == 0 and connector.last_error == ""


def test_one_run_per_connector_and_one_claimant_per_expired_lease(lite: Any) -> None:
    _src, connector = lite
    run = dispatcher.start_run(connector.pk, "worker-a")
    assert run is not None and run.lease_owner == "worker-a"
    SourceConnector.objects.filter(pk=connector.pk).update(next_pull_at=PAST, next_reconcile_at=PAST)
    assert dispatcher.start_run(connector.pk, "worker-b") is None  # already running
    ConnectorRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    claimed = dispatcher._claim_expired(run.pk, "worker-b")
    assert claimed is not None and claimed.lease_owner == "worker-b" and claimed.lost_leases == 1
    assert dispatcher._claim_expired(run.pk, "worker-c") is None
    with pytest.raises(LeaseLost):
        renew(run.pk, "worker-a")
    # the old owner finishing late writes nothing
    assert dispatcher.execute(run, owner="worker-a", deadline=time.monotonic() + 30) == "lost"
    assert ConnectorRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert dispatcher.execute(claimed, owner="worker-b", deadline=time.monotonic() + 30) == "succeeded"


def test_time_budget_yields_and_the_next_pass_resumes(lite: Any, dataset: Dataset) -> None:
    src, connector = lite
    run = dispatcher.start_run(connector.pk, "worker-a")
    assert run is not None
    assert dispatcher.execute(run, owner="worker-a", deadline=time.monotonic() - 1) == "yielded"
    held = ConnectorRun.objects.get(pk=run.pk)
    assert held.status == RunStatus.RUNNING and held.lease_owner == "" and held.progress["lower"] is None
    stats = dispatcher.dispatch(budget_seconds=30)
    assert stats == {"resumed": 1, "succeeded": 1}
    done = ConnectorRun.objects.get(pk=run.pk)
    assert done.status == RunStatus.SUCCEEDED and done.lost_leases == 0 and done.attempts == 2
    assert platform_rows(dataset) == source_as_platform(src)


def test_run_abandoned_after_repeated_lost_leases_and_pause_stops_a_run(lite: Any) -> None:
    _src, connector = lite
    run = dispatcher.start_run(connector.pk, "w")
    assert run is not None
    ConnectorRun.objects.filter(pk=run.pk).update(lost_leases=5, lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert dispatcher._claim_expired(run.pk, "w2") is None
    gone = ConnectorRun.objects.get(pk=run.pk)
    assert gone.status == RunStatus.FAILED and "abandoned" in gone.error
    SourceConnector.objects.filter(pk=connector.pk).update(next_pull_at=PAST)
    run = dispatcher.start_run(connector.pk, "w")
    assert run is not None
    SourceConnector.objects.filter(pk=connector.pk).update(status=ConnectorStatus.PAUSED)
    assert dispatcher.execute(run, owner="w", deadline=time.monotonic() + 30) == "succeeded"
    stopped = ConnectorRun.objects.get(pk=run.pk)
    assert stopped.report["stopped"] == "paused" and stopped.pages == 0


def test_unreachable_source_fails_with_backoff_then_recovers(lite: Any, dataset: Dataset) -> None:
    src, connector = lite
    moved = src.path.with_suffix(".bak")
    src.path.rename(moved)
    failed = run_now(connector)
    assert failed is not None and failed.status == RunStatus.FAILED and "不存在" in failed.error
    connector.refresh_from_db()
    assert connector.consecutive_failures == 1 and connector.last_error == failed.error
    assert timezone.now() + dt.timedelta(seconds=25) < connector.next_pull_at
    event = AuditEvent.objects.filter(action="connector.run_failed").latest("seq")
    assert event.actor_label == f"connector:{connector.pk}" and event.result == "failed"
    moved.rename(src.path)
    ok = run_now(connector)
    assert ok is not None and ok.status == RunStatus.SUCCEEDED and ok.inserted == 25
    connector.refresh_from_db()
    assert connector.consecutive_failures == 0


# ---------------------------------------------------------------------------------------------
# kill -9 of a real `govshare worker` in the middle of a pull
# ---------------------------------------------------------------------------------------------


def _script(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "govshare.connectors.tests.killscript", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_state(env: dict[str, str], home: Path) -> tuple[str, int] | None:
    sql = "SELECT status, pages FROM connectors_connectorrun ORDER BY id DESC LIMIT 1"
    if "DATABASE_URL" in env:
        with psycopg.connect(env["DATABASE_URL"], connect_timeout=5) as conn:
            row = conn.execute(sql).fetchone()
    else:
        with sqlite3.connect(home / "govshare.sqlite3", timeout=10) as conn:
            row = conn.execute(sql).fetchone()
    return (str(row[0]), int(row[1])) if row else None


@pytest.mark.django_db(transaction=True)
def test_kill_9_worker_mid_pull_loses_and_duplicates_nothing(pg_database: str, tmp_path: Path) -> None:
    """A real ``govshare worker`` pulls a slow PostgreSQL source (every page waits in pg_sleep) and is killed
    with SIGKILL after a few pages; the next dispatcher pass resumes the run once its lease has passed."""
    total, page = 200, 10
    src = PgSource(pg_database).create(person(n) for n in range(1, total + 1))
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GOVSHARE_TEST_SQLITE")}
    env.update(GOVSHARE_HOME=str(home), PYTHONPATH=str(REPO))
    # The worker and the helper script share the platform database of this test session (migrated already):
    # PostgreSQL's test database itself; SQLite's in-memory one copied to a file.
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (f"postgres://{connection.settings_dict['USER'] or PG['user']}@{PG['host']}:"
                               f"{PG['port']}/{connection.settings_dict['NAME']}")
    else:
        connection.ensure_connection()
        copy = sqlite3.connect(home / "govshare.sqlite3")
        connection.connection.backup(copy)
        copy.close()
    worker = None
    try:
        _script(env, "setup", pg_database, src.table)
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "govshare.cli", "worker", "--jobs-only", "--jobs",
                                       "connectors.*"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 90
            state = None
            while time.monotonic() < deadline:
                state = _run_state(env, home)
                if state is not None and state[0] == "running" and state[1] >= 3:
                    break
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                time.sleep(0.05)
            assert state is not None and state[0] == "running" and state[1] >= 3, state
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        killed_at = _run_state(env, home)
        assert killed_at is not None and killed_at[0] == "running" and 3 <= killed_at[1] < total // page, killed_at

        out = _script(env, "resume")
        assert len(out["running_before"]) == 1 and out["running_before"][0]["lease_owner"]
        runs = out["runs"]
        assert len(runs) == 1, runs
        run = runs[0]
        assert run["status"] == "succeeded" and run["lost_leases"] == 1, run
        assert (run["pages"], run["rows_read"], run["inserted"]) == (total // page, total, total), run
        assert out["rows"] == {k: expected(r) for k, r in src.rows().items()}
        assert out["row_count"] == total and out["last_seq"] == total
        seqs = [c[0] for c in out["changes"]]
        keys = [c[1] for c in out["changes"]]
        assert seqs == list(range(1, total + 1)) and len(set(keys)) == total  # one change per row, none twice
        batch_ids = [b[0] for b in out["batches"]]
        prefix = batch_ids[0].rsplit(":page:", 1)[0]
        assert prefix.endswith(f":run:{run['pk']}")
        assert batch_ids == [f"{prefix}:page:{n}" for n in range(1, total // page + 1)]  # each page once
        assert sum(b[3] for b in out["batches"]) == total
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        src.drop()
