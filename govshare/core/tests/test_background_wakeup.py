"""Wake-up (wakeup.py): PostgreSQL LISTEN/NOTIFY latency and reconnects; SQLite short polling."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from govshare.core import wakeup

pytestmark = pytest.mark.django_db(transaction=True)


def _pg_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only; SQLite workers short-poll")


def test_sqlite_waiter_short_polls(settings: object) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    settings.GOVSHARE = {**settings.GOVSHARE, "WORKER_POLL_SECONDS": 0.05}  # type: ignore[attr-defined]
    wakeup.notify("gs_test")  # nothing to send
    with wakeup.Waiter(["gs_test"]) as waiter:
        started = time.monotonic()
        assert waiter.wait(10) is False
        assert time.monotonic() - started < 0.5


def _notify_later(delay: float, sent: list[float], channel: str, payload: str) -> threading.Thread:
    def run() -> None:
        try:
            time.sleep(delay)
            sent.append(time.monotonic())
            wakeup.notify(channel, payload)  # autocommit: delivered at once
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_notify_wakes_a_waiter_in_well_under_half_a_second() -> None:
    _pg_only()
    with wakeup.Waiter(["gs_test_a", "gs_test_b"]) as waiter:
        started = time.monotonic()
        assert waiter.wait(0.3) is False  # nothing sent: a plain timeout
        assert 0.25 <= time.monotonic() - started < 1.0
        latencies = []
        for i in range(3):
            sent: list[float] = []
            thread = _notify_later(0.2, sent, "gs_test_b", f"job-{i}")
            assert waiter.wait(5) is True
            woke = time.monotonic()
            thread.join()
            latencies.append(woke - sent[0])
            assert waiter.received[-1] == ("gs_test_b", f"job-{i}")
        assert max(latencies) < 0.5, latencies


def test_notify_is_delivered_only_at_commit() -> None:
    _pg_only()
    from django.db import transaction

    with wakeup.Waiter(["gs_test_tx"]) as waiter:
        with transaction.atomic():
            wakeup.notify("gs_test_tx", "in-tx")
            assert waiter.wait(0.3) is False  # not committed yet
        assert waiter.wait(2) is True
        assert waiter.received == [("gs_test_tx", "in-tx")]
        with pytest.raises(RuntimeError), transaction.atomic():
            wakeup.notify("gs_test_tx", "rolled-back")
            raise RuntimeError
        assert waiter.wait(0.3) is False


def test_waiter_reconnects_after_its_connection_is_killed() -> None:
    _pg_only()
    with wakeup.Waiter(["gs_test_r"]) as waiter:
        pid = waiter.backend_pid()
        assert pid is not None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while waiter.reconnects == 0 and time.monotonic() < deadline:
            assert waiter.wait(0.5) in (True, False)
        assert waiter.reconnects == 1 and waiter.backend_pid() not in (None, pid)
        sent: list[float] = []
        thread = _notify_later(0.1, sent, "gs_test_r", "after-reconnect")
        assert waiter.wait(5) is True
        thread.join()
        assert waiter.received[-1] == ("gs_test_r", "after-reconnect")
