"""kill -9 of ``govshare serve`` (gunicorn master and workers together, as a crash of the machine) while a provider
posts incremental batches and a consumer system makes data-plane calls, each of which writes an audit event.

After a restart the clients retry what was not answered. Then: every batch is applied exactly once (the
batch id is the idempotency key), the change log has no gap and no duplicate, every call that was answered has
its audit event, and ``govshare audit verify`` passes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from govshare.core.testing_processes import Server, wait_for
from govshare.core.tests.reliability.conftest import City
from govshare.core.tests.reliability.load import Ingest, Verifier, lift_limits

pytestmark = pytest.mark.reliability

BATCHES = 30
KILLS = 2


def test_kill_9_server_mid_ingestion_and_audit_writes(demo_city: City) -> None:
    node = demo_city.node
    lift_limits(node)
    server: list[Server] = [node.start_server(workers=2)]
    url = server[0].url
    ingest = Ingest(node, lambda: url, prefix="rel-kill-server", batches=BATCHES)
    verifier = Verifier(demo_city.credential(), demo_city.summary["verify"], lambda: url)
    before = node.query("SELECT row_count, last_seq FROM datasets_dataset WHERE id = %s",
                        (node.uuid(ingest.dataset_id),))[0]
    stop = threading.Event()
    threads = [threading.Thread(target=ingest.run, args=(stop,), daemon=True),
               threading.Thread(target=verifier.run, args=(stop,), daemon=True)]
    for t in threads:
        t.start()
    try:
        kills = []
        for k in range(KILLS):
            # Kill while both clients are busy: a batch or a call is almost always in flight.
            wait_for(lambda k=k: len(ingest.acked) >= (k + 1) * BATCHES // (KILLS + 1) and len(verifier.ok_ids)
                     >= 5 * (k + 1), timeout=120, message="load is flowing", logs=node.logs)
            kills.append((len(ingest.acked), len(verifier.ok_ids)))
            node.kill9(server[0])
            time.sleep(0.5)  # clients meet a dead port for a moment
            server[0] = node.start_server(port=server[0].port, workers=2)
        wait_for(ingest.done.is_set, timeout=180, message="every batch acknowledged", logs=node.logs)
        calls_before_end = len(verifier.ok_ids)
        wait_for(lambda: len(verifier.ok_ids) >= calls_before_end + 5, timeout=60, message="calls flow again")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert len(ingest.acked) == BATCHES, (ingest.acked.keys(), ingest.errors)
    assert ingest.retries > 0 and sum(verifier.failures.values()) > 0, "the kills interrupted nothing"

    # Every batch once: one ChangeBatch row per batch id, five inserts each, no gap in the change log.
    dataset = node.uuid(ingest.dataset_id)
    rows = node.query("SELECT batch_id, first_seq, last_seq, inserted FROM datasets_changebatch "
                      "WHERE dataset_id = %s AND batch_id LIKE %s ORDER BY first_seq",
                      (dataset, "rel-kill-server-%"))
    assert Counter(r[0] for r in rows) == Counter(f"rel-kill-server-{i}" for i in range(BATCHES))
    assert all(r[3] == ingest.per and r[2] - r[1] + 1 == ingest.per for r in rows), rows
    replayed = [i for i, answer in ingest.acked.items() if answer["replayed"]]
    for i, answer in ingest.acked.items():  # a replayed answer reports the batch as first applied
        row = next(r for r in rows if r[0] == f"rel-kill-server-{i}")
        assert (answer["first_seq"], answer["last_seq"]) == (row[1], row[2])
    row_count, last_seq = node.query("SELECT row_count, last_seq FROM datasets_dataset WHERE id = %s",
                                     (dataset,))[0]
    assert row_count == before[0] + BATCHES * ingest.per
    assert last_seq == before[1] + BATCHES * ingest.per
    seqs = [r[0] for r in node.query("SELECT seq FROM datasets_datasetchange WHERE dataset_id = %s AND seq > %s "
                                     "ORDER BY seq", (dataset, before[1]))]
    assert seqs == list(range(before[1] + 1, last_seq + 1))  # no gap, no duplicate
    keys = [r[0] for r in node.query("SELECT key FROM datasets_datasetchange WHERE dataset_id = %s AND seq > %s",
                                     (dataset, before[1]))]
    assert sorted(keys) == sorted(r["id_number"] for r in ingest.rows)

    # Every answered data-plane call has its audit event (committed before the answer); the chain verifies.
    logged = {r[0] for r in node.query("SELECT request_id FROM audit_auditevent WHERE request_id <> ''")}
    missing = [rid for rid in verifier.ok_ids if rid not in logged]
    assert not missing, f"{len(missing)} answered calls without an audit event: {missing[:5]}"
    node.stop(server[0])
    node.run("audit", "seal")
    verified = node.run("audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"\nkill -9 of the server at (batches acked, calls answered) = {kills}; batch retries {ingest.retries}, "
          f"replayed answers {len(replayed)}; calls answered {len(verifier.ok_ids)}, failed {verifier.failures}")
