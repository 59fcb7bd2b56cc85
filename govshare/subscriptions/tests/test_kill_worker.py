"""kill -9 of ``govshare worker`` in the middle of a webhook delivery: the receiver has the batch, the worker dies
before it can move the cursor. Another worker resends that batch with the same idempotency key and carries on:
every change arrives at least once, and exactly once after the receiver dedupes by key.

The workers are real ``python -m govshare.cli worker`` processes (worker_settings.py: short liveness timings
and lease) against the test database: on PostgreSQL the pytest database itself (the test commits); on SQLite a
file copy of the in-memory test database, read back with the sqlite3 module.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from govshare.datasets.changes import changes_since
from govshare.exchange.dataplane.changes import project_change, usable_grant
from govshare.subscriptions.services import create_subscription
from govshare.subscriptions.tests.test_webhook import consumer_state, some_changes
from govshare.subscriptions.tests.world import (
    Receiver,
    World,
    apply_changes,
)

pytestmark = pytest.mark.django_db(transaction=True, available_apps=list(settings.INSTALLED_APPS))
REPO = Path(__file__).resolve().parents[3]


class SharedDb:
    def __init__(self, tmp_path: Path) -> None:
        self.path: Path | None = None
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            if connection.is_in_memory_db():
                self.path = tmp_path / "subs.sqlite3"
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

    def row(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        if self.path is not None:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                return tuple(db.execute(sql.replace("%s", "?"), params).fetchone())
            finally:
                db.close()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return tuple(cursor.fetchone())


def start_worker(db: SharedDb, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "govshare.subscriptions.tests.worker_settings",
           "DATABASE_URL": db.url, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "govshare.cli", "worker", "--jobs-only", "--jobs",
                                 "subscriptions.deliver"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for(what: Callable[[], Any], timeout: float, log: Path, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out: {message}\n{log.read_text(errors='replace')[-4000:]}")


def test_kill_9_mid_delivery_loses_and_duplicates_nothing(city: Any, provider: Any, consumer: Any,
                                                          data_office: Any, receiver: Receiver,
                                                          tmp_path: Path) -> None:
    world = World(city, provider, consumer, data_office)
    world.allow()
    sub = create_subscription(actor=world.consumer, grant=world.grant, name="kill test", kind="webhook",
                              url=receiver.url, batch_size=3, initial_data=False).subscription
    start = world.granted_view()  # what the consumer holds already (no initial data asked for)
    some_changes(world)
    latest = type(world.dataset).objects.get(pk=world.dataset.pk).last_seq
    receiver.hang_at = 2  # the second batch is received, but never answered
    db = SharedDb(tmp_path)
    log = tmp_path / "workers.log"
    a = start_worker(db, log)
    try:
        wait_for(lambda: len(receiver.requests) >= 2, 60, log, "worker A sends the second batch")
        os.kill(a.pid, signal.SIGKILL)
        a.wait(10)
    finally:
        if a.poll() is None:
            a.kill()
    first, hung = receiver.requests[0], receiver.requests[1]
    cursor = db.row("SELECT cursor FROM subscriptions_subscription WHERE id = %s", (_id(sub.pk),))[0]
    assert cursor == first.payload["last_seq"] < hung.payload["first_seq"]  # killed before moving the cursor
    receiver.hang_at = None
    receiver.release.set()

    b = start_worker(db, log)
    try:
        wait_for(lambda: db.row("SELECT cursor, in_flight FROM subscriptions_subscription WHERE id = %s",
                                (_id(sub.pk),)) in ((latest, None),), 60, log, "worker B catches up")
    finally:
        b.send_signal(signal.SIGTERM)
        try:
            b.wait(15)
        except subprocess.TimeoutExpired:
            b.kill()
    # The hung batch went out twice with the same key; a receiver that dedupes by key keeps it once.
    assert [r.key for r in receiver.requests].count(hung.key) == 2
    resent = [r for r in receiver.requests if r.key == hung.key]
    assert resent[0].body == resent[1].body
    _, kept = consumer_state(receiver)
    for r in receiver.delivered():
        apply_changes(start, r.payload["changes"])
    assert start == world.granted_view()
    info = usable_grant(world.grant.pk).grant
    assert info is not None
    expected = []
    for c in changes_since(dataset=world.dataset.pk, after=12, limit=1000):
        projected = project_change(info, c)
        if projected is not None:
            expected.append((c.seq, projected[1]))
    assert kept == expected  # every change once, in order, after dedupe
    received = [(c["seq"], c["key"]) for r in receiver.requests if not r.payload["snapshot"]
                for c in r.payload["changes"]]
    assert set(received) == set(expected) and len(received) > len(expected)  # at least once; the resend shows


def _id(pk: Any) -> Any:
    """The primary key as the table stores it (SQLite keeps UUIDs as 32 hex characters)."""
    return pk.hex if connection.vendor == "sqlite" else pk
