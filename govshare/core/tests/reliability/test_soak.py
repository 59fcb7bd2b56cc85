"""Soak: a demo city served by ``govshare serve`` (2 workers) with ``govshare worker`` beside it, under steady load
for ``GOVSHARE_SOAK_SECONDS`` (default 20 s here; the full run is 120 s, see docs/reliability.md):

- data-plane verify calls (signed; each writes an audit event), back to back;
- a signed-in consumer reading the catalog API and the portal home page, back to back;
- a provider posting one incremental batch a second to 人口基本信息, which the worker delivers to the demo's
  table subscription (库表推送) while it seals the audit log.

Zero errors, and the resident memory of the server (master and workers) is flat: after the warm-up (the first
third) it grows by less than 10 % (and less than 30 MiB).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import pytest

from govshare.core.testing_processes import WebSession, group_rss_kib, wait_for
from govshare.core.tests.reliability.conftest import City
from govshare.core.tests.reliability.load import Ingest, Verifier, lift_limits
from govshare.demo.city import DEMO_PASSWORD

pytestmark = pytest.mark.reliability

SECONDS = float(os.environ.get("GOVSHARE_SOAK_SECONDS", "20"))


@dataclass
class Reader:
    base_url: str
    username: str
    ok: int = 0
    errors: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        web = WebSession(self.base_url)
        web.sign_in(self.username, DEMO_PASSWORD)
        paths = ["/api/v1/catalog/resources", "/"]
        n = 0
        while not stop.is_set():
            path = paths[n % len(paths)]
            n += 1
            try:
                status, _ = web.request("GET", path)
            except OSError as exc:
                self.errors.append(f"{path}: {exc!r}")
                continue
            if status == 200:
                self.ok += 1
            else:
                self.errors.append(f"{path}: HTTP {status}")


def test_soak_steady_load_zero_errors_and_flat_memory(demo_city: City) -> None:
    node = demo_city.node
    lift_limits(node)
    server = node.start_server(workers=2)
    node.start_worker("--jobs-only")
    consumer = str(node.scalar("SELECT username FROM accounts_user WHERE role = 'consumer' AND is_active "
                               "ORDER BY username"))
    verifier = Verifier(demo_city.credential(), demo_city.summary["verify"], lambda: server.url)
    reader = Reader(server.url, consumer)
    batches = int(SECONDS) + 5
    ingest = Ingest(node, lambda: server.url, prefix="soak", batches=batches, per=2)
    stop = threading.Event()
    threads = [threading.Thread(target=verifier.run, args=(stop,), daemon=True),
               threading.Thread(target=reader.run, args=(stop,), daemon=True),
               threading.Thread(target=ingest.run, args=(stop,), kwargs={"pace": 1.0}, daemon=True)]
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        while (elapsed := time.monotonic() - started) < SECONDS:
            samples.append((elapsed, group_rss_kib(server.pid)))
            assert server.process.poll() is None, node.logs()
            time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    calls, reads, posted = len(verifier.ok_ids), reader.ok, len(ingest.acked)
    assert not verifier.failures and not reader.errors and not ingest.errors, (
        verifier.failures, reader.errors[:5], ingest.errors[:5])
    assert calls > 0 and reads > 0 and posted > 0
    warm = [rss for t, rss in samples if t >= SECONDS / 3]
    assert len(warm) >= 3, samples
    base, end = statistics.mean(warm[:3]), statistics.mean(warm[-3:])
    growth = end - base
    assert growth < 0.10 * base, f"memory grew {growth / 1024:.1f} MiB: {samples}"
    assert growth < 30 * 1024, f"memory grew {growth / 1024:.1f} MiB: {samples}"
    p95 = sorted(verifier.latencies)[int(0.95 * (len(verifier.latencies) - 1))]
    node.stop(server)
    wait_for(lambda: node.run("audit", "seal").returncode == 0, timeout=60, message="sealed")
    done = node.run("audit", "verify", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"\nsoak {SECONDS:.0f} s ({node.backend.vendor}): {calls} verify calls ({calls / SECONDS:.1f}/s, p95 "
          f"{p95 * 1000:.0f} ms), {reads} reads, {posted} batches, 0 errors; server RSS after warm-up "
          f"{base / 1024:.1f} → {end / 1024:.1f} MiB ({growth / 1024:+.1f} MiB)")
