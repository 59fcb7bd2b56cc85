"""kill -9 of ``govshare worker`` (again and again) while it delivers a subscription and seals the audit log.

The demo's table subscription (库表推送 of 人口基本信息 into the consumer's SQLite 前置库) gets a backlog of
incremental batches, delivered 2 changes at a time; workers (short liveness timings: worker_settings.py) are killed
while the delivery cursor is early in the backlog, each time a new one is started. At the end the consumer's table
holds every record exactly as the platform does, every change was delivered (the successful deliveries cover the
change log without a hole or an overlap), and ``govshare audit verify`` passes.

(kill -9 in the middle of a webhook delivery and of a connector pull have their own tests:
govshare/subscriptions/tests/test_kill_worker.py, govshare/connectors/tests/test_resume.py.)
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from govshare.core.testing_processes import wait_for
from govshare.core.tests.reliability.conftest import City
from govshare.core.tests.reliability.load import PEOPLE, Ingest

pytestmark = pytest.mark.reliability

SETTINGS = "govshare.core.tests.reliability.worker_settings"
BATCHES = 40
KILLS = 3


def test_kill_9_worker_mid_delivery_and_sealing_loses_and_duplicates_nothing(demo_city: City) -> None:
    node = demo_city.node
    sub = node.query("SELECT s.id, s.sink_database, s.sink_table, s.sink_key_column, s.cursor FROM "
                     "subscriptions_subscription s JOIN exchange_grant g ON g.id = s.grant_id JOIN catalog_resource r "
                     "ON r.id = g.resource_id WHERE s.kind = 'table' AND r.name = %s", (PEOPLE,))
    assert len(sub) == 1, sub
    sub_id, sink_db, sink_table, sink_key, start_cursor = sub[0]
    node.execute("UPDATE subscriptions_subscription SET batch_size = 1 WHERE id = %s", (sub_id,))  # many batches
    # The backlog: 40 batches of 5 new residents, posted through the API while no worker runs.
    server = node.start_server(workers=2)
    ingest = Ingest(node, lambda: server.url, prefix="rel-kill-worker", batches=BATCHES)
    ingest.run(threading.Event())
    assert len(ingest.acked) == BATCHES, ingest.errors
    latest = int(node.scalar("SELECT last_seq FROM datasets_dataset WHERE id = %s", (node.uuid(ingest.dataset_id),)))
    assert start_cursor < latest

    def cursor() -> tuple[int, object, str]:
        row = node.query("SELECT cursor, in_flight, lease_owner FROM subscriptions_subscription WHERE id = %s",
                         (sub_id,))[0]
        return int(row[0]), row[1], str(row[2] or "")

    # The test holds the write lock of the consumer's SQLite 前置库 to catch each worker in the middle of a
    # delivery: the batch is marked in flight and the worker waits for the sink when it is killed. Between two
    # kills the lock is let go for a moment, so each worker also delivers some batches.
    sink = sqlite3.connect(sink_db, timeout=30, isolation_level=None)
    sink.execute("BEGIN IMMEDIATE")
    killed_at: list[tuple[int, int]] = []
    posted = list(ingest.rows)

    def delivered() -> int:
        return int(node.scalar("SELECT count(*) FROM subscriptions_delivery WHERE subscription_id = %s AND "
                               "status = 'ok'", (sub_id,)))

    env = {"DJANGO_SETTINGS_MODULE": SETTINGS}
    dead = ""
    try:
        for k in range(KILLS):
            worker = node.spawn(f"worker-{k}", "worker", "--jobs-only", "--jobs", "subscriptions.*,audit.*", env=env)
            # It takes the subscription (after the dead worker's lease has passed) and waits for the sink.
            wait_for(lambda dead=dead: cursor()[2] not in ("", dead) and cursor()[1] is not None, timeout=120,
                     interval=0.05, message=f"worker {k} has a batch in flight", logs=node.logs)
            dead = cursor()[2]
            if k:
                sink.execute("COMMIT")  # a moment of progress …
                time.sleep(0.2)
                sink.execute("BEGIN IMMEDIATE")  # … and it waits again, with the next batch in flight
                wait_for(lambda: cursor()[1] is not None, timeout=30, interval=0.02, message="next batch in flight")
                # New changes while the worker is stuck: delivered as changes after the initial data.
                more = Ingest(node, lambda: server.url, prefix=f"rel-kill-worker-more{k}", batches=2,
                              start=3000 + 10 * k)
                more.run(threading.Event())
                assert len(more.acked) == 2, more.errors
                posted.extend(more.rows)
            time.sleep(0.3)
            node.kill9(worker)
            now, in_flight, _ = cursor()
            killed_at.append((now, delivered()))
            assert now < latest and in_flight is not None, killed_at
    finally:
        sink.execute("COMMIT")
        sink.close()
        node.stop(server)
    latest = int(node.scalar("SELECT last_seq FROM datasets_dataset WHERE id = %s", (node.uuid(ingest.dataset_id),)))
    assert killed_at[-1][1] > killed_at[0][1], killed_at  # the workers between the kills delivered something
    last = node.spawn("worker-last", "worker", "--jobs-only", "--jobs", "subscriptions.*,audit.*", env=env)
    try:
        wait_for(lambda: cursor()[:2] == (latest, None), timeout=120, message="the last worker catches up",
                 logs=node.logs)
    finally:
        node.stop(last)
    node.run("audit", "seal")  # what the last worker had not sealed yet

    # The consumer's table is the platform's granted view: every record, once (the key is its primary key).
    dataset = node.uuid(ingest.dataset_id)
    live = node.scalar("SELECT row_count FROM datasets_dataset WHERE id = %s", (dataset,))
    con = sqlite3.connect(sink_db)
    try:
        sink_rows = con.execute(f'SELECT "{sink_key}", person_name FROM "{sink_table}"').fetchall()  # noqa: S608
    finally:
        con.close()
    assert len(sink_rows) == live == len({r[0] for r in sink_rows})
    held = dict(sink_rows)
    for row in posted:
        assert held.get(row["id_number"]) == row["person_name"]
    # Every change went out: after the initial data (the snapshot, taken at snapshot_seq, if the subscription still
    # had it to send) the successful deliveries cover (…, latest] without a hole; a batch resent after a kill covers
    # exactly the range it covered before (same boundaries, same key).
    base = max(start_cursor, int(node.scalar("SELECT COALESCE(snapshot_seq, 0) FROM subscriptions_subscription "
                                             "WHERE id = %s", (sub_id,))))
    ranges = sorted({(int(a), int(b)) for a, b in node.query(
        "SELECT first_seq, last_seq FROM subscriptions_delivery WHERE subscription_id = %s AND status = 'ok' "
        "AND NOT snapshot AND last_seq > %s", (sub_id, base))})
    covered = base
    for first, last_seq in ranges:
        assert first == covered + 1, (covered, ranges)
        covered = last_seq
    assert covered == latest
    lost = node.scalar("SELECT COALESCE(SUM(lost_runs), 0) FROM core_scheduledjob")
    verified = node.run("audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"\nkill -9 of the worker, each with a batch in flight, at (cursor, deliveries) {killed_at}, backlog "
          f"{start_cursor}→{latest} (snapshot up to {base}); "
          f"runs reported lost by the reaper: {lost}; {len(ranges)} delivery ranges, no hole")
