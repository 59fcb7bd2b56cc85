"""Subscription delivery (订阅推送) into a consumer's table: change-to-subscriber latency and batched throughput.

    python benchmarks/subscription.py --pg postgres://postgres@127.0.0.1:5432/postgres
    options: --rows 9000 --changes 20000 --samples 40 --json out.json

A population resource of ``--rows`` people (the subscription tests' world: plain / masked / verify_only items,
a row filter), a grant with the subscription mode and a table subscription (库表推送) into a local SQLite file
(the consumer's 前置库, batch size 1000). Delivery runs in a real ``govshare worker --jobs-only --jobs
subscriptions.deliver`` process, woken as in production (LISTEN/NOTIFY on PostgreSQL, short polling on SQLite).

- latency: ``--samples`` times, one change (one record updated through ``apply_batch``) is committed and the
  consumer table is polled (every 2 ms) until the new value is there: commit → visible in the sink;
- throughput: ``--changes`` record updates (rounds over the people inside the filter), committed in batches
  of 5,000 while the delivery job is paused (``periodic.set_enabled``), then the job is resumed and kicked;
  changes/s = changes / (all visible in the sink − resume). The producer's own commit time is reported
  apart (``commit_s``).
- baseline: the same number of rows written straight into the same SQLite table with ``executemany`` in
  one transaction per 1,000 rows (the sink's floor: no change log, projection, masking, cursor or audit).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    drop_database,
    engine_version,
    machine,
    peak_rss_mb,
    percentile,
    setup_database,
    vm_hwm_mb,
    write_json,
)


def _world(rows: int) -> Any:
    from govshare import testing
    from govshare.accounts.choices import Role
    from govshare.subscriptions.tests.world import World

    city = testing.node("445100", name="潮州市", level="city")
    office = testing.user(Role.DATA_OFFICE, at=city, dept=testing.department(city, name="市政务服务数据管理局",
                                                                             is_data_office=True))
    provider = testing.user(Role.PROVIDER, dept=testing.department(city, name="市公安局"))
    consumer = testing.user(Role.CONSUMER, dept=testing.department(city, name="市人社局"))
    return World(city, provider, consumer, office, people=rows)


def _poll(path: Path, sql: str, params: tuple[Any, ...], want: Any, timeout: float = 120.0) -> float:
    deadline = time.time() + timeout
    conn = sqlite3.connect(path, timeout=30)
    try:
        while time.time() < deadline:
            try:
                row = conn.execute(sql, params).fetchone()
            except sqlite3.OperationalError:
                row = None
            if row is not None and row[0] == want:
                return time.perf_counter()
            time.sleep(0.002)
    finally:
        conn.close()
    raise TimeoutError(f"sink never showed {want!r}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    from govshare.core import periodic
    from govshare.subscriptions.services import JOB_NAME, SinkSpec, create_subscription
    from govshare.subscriptions.tests.world import person

    started = time.perf_counter()
    world = _world(args.rows)
    build_s = time.perf_counter() - started
    sink_dir = Path(settings.GOVSHARE_HOME) / "connect"
    sink_dir.mkdir(exist_ok=True)
    path = sink_dir / "front.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE "people" (id_number TEXT PRIMARY KEY, person_name TEXT, gender TEXT, '
                     "current_address TEXT)")
    create_subscription(actor=world.consumer, grant=world.grant, name="基准订阅", kind="table",
                        sink=SinkSpec(engine="sqlite", database=str(path), table="people", key_column="id_number"),
                        batch_size=1000, initial_data=False)
    connection.close()
    log = open(Path(settings.GOVSHARE_HOME) / "worker.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "govshare.cli", "worker", "--jobs-only", "--jobs",
                               "subscriptions.deliver"], env=os.environ.copy(), stdout=log, stderr=log)
    inside = [person(n) for n in range(1, args.rows + 1, 2)]  # odd people are inside the row filter
    try:
        # warm-up: the worker has started and delivered one change (not measured)
        p = inside[-1]
        world.change(upserts=[{**p, "current_address": "广东省潮州市湘桥区预热1号"}])
        _poll(path, "SELECT current_address FROM people WHERE id_number = ?", (p["id_number"],),
              "广东省潮州市湘桥区预热1号")
        # latency: one change at a time
        lat: list[float] = []
        for i in range(args.samples):
            p = inside[i % len(inside)]
            address = f"广东省潮州市湘桥区延迟{i}号"
            world.change(upserts=[{**p, "current_address": address}])
            t0 = time.perf_counter()
            t1 = _poll(path, "SELECT current_address FROM people WHERE id_number = ?", (p["id_number"],), address)
            lat.append(t1 - t0)
            time.sleep(0.05)
        # throughput: many changes committed while the delivery job is paused, then the time to drain them
        # (rounds over the people inside the filter, each round a new address, so every upsert is a change)
        rounds = max(1, -(-args.changes // len(inside)))
        n = rounds * len(inside)
        targets = inside
        periodic.set_enabled(JOB_NAME, False)
        c0 = time.perf_counter()
        step = 5000
        for r in range(rounds):
            for start in range(0, len(inside), step):
                world.change(upserts=[{**p, "current_address": f"广东省潮州市湘桥区批量{r}路{i}号"}
                                      for i, p in enumerate(inside[start:start + step], start)])
        committed = time.perf_counter() - c0
        periodic.set_enabled(JOB_NAME, True)
        periodic.kick(JOB_NAME)
        t0 = time.perf_counter()
        t1 = _poll(path, "SELECT count(*) FROM people WHERE current_address LIKE ?",
                   (f"广东省潮州市湘桥区批量{rounds - 1}路%",), len(inside), timeout=600)
        thr_s = t1 - t0
    finally:
        worker_rss = vm_hwm_mb(worker.pid)
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    # baseline: the same number of rows straight into the same table
    base = sink_dir / "baseline.sqlite3"
    with sqlite3.connect(base) as conn:
        conn.execute('CREATE TABLE "people" (id_number TEXT PRIMARY KEY, person_name TEXT, gender TEXT, '
                     "current_address TEXT)")
    rows = [(p["id_number"], p["person_name"], p["gender"], f"广东省潮州市湘桥区批量{r}路{i}号")
            for r in range(rounds) for i, p in enumerate(targets)]
    b0 = time.perf_counter()
    conn = sqlite3.connect(base)
    for start in range(0, n, 1000):
        with conn:
            conn.executemany('INSERT INTO "people" VALUES (?, ?, ?, ?) ON CONFLICT (id_number) DO UPDATE SET '
                             "person_name = excluded.person_name, gender = excluded.gender, "
                             "current_address = excluded.current_address", rows[start:start + 1000])
    conn.close()
    base_s = time.perf_counter() - b0
    return {"engine": engine_version(), "rows": args.rows, "build_world_s": round(build_s, 1),
            "latency": {"samples": len(lat), "p50_ms": round(percentile(lat, 50) * 1000, 1),
                        "p95_ms": round(percentile(lat, 95) * 1000, 1), "max_ms": round(max(lat) * 1000, 1)},
            "throughput": {"changes": n, "commit_s": round(committed, 2), "seconds": round(thr_s, 2),
                           "changes_per_s": round(n / thr_s)},
            "baseline_direct_sqlite": {"rows": n, "seconds": round(base_s, 3), "rows_per_s": round(n / base_s)},
            "ratio": round(base_s / thr_s, 3),
            "peak_rss_mb": {"bench_process": peak_rss_mb(), "worker_process": worker_rss},
            "machine": machine()}


def markdown(r: dict[str, Any]) -> str:
    lt, th, b = r["latency"], r["throughput"], r["baseline_direct_sqlite"]
    return "\n".join([
        f"### Subscription delivery (table sink, local SQLite) — {r['engine']}, {r['rows']:,} people", "",
        "| measurement | value |", "|---|---:|",
        f"| change → subscriber table, p50 / p95 / max ({lt['samples']} single changes) | {lt['p50_ms']} / "
        f"{lt['p95_ms']} / {lt['max_ms']} ms |",
        f"| batched delivery: {th['changes']:,} changes queued, resume → all in the sink | {th['seconds']} s = "
        f"{th['changes_per_s']:,} changes/s |",
        f"| baseline: the same rows upserted straight into SQLite (executemany) | {b['rows_per_s']:,} rows/s |",
        f"| ratio (delivery / direct) | {r['ratio']:.2f} |",
        f"| peak RSS: worker / bench process | {r['peak_rss_mb']['worker_process']} / "
        f"{r['peak_rss_mb']['bench_process']} MB |"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg")
    parser.add_argument("--db-prefix", default="govshare_bench_subs")
    parser.add_argument("--rows", type=int, default=9_000, help="people (≤ 9999: the test world's mobile numbers)")
    parser.add_argument("--changes", type=int, default=20_000,
                        help="changes for the throughput run (rounds of updates over the people in the filter)")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--json")
    args = parser.parse_args()
    dbname = setup_database(args.pg, args.db_prefix)
    try:
        result = run(args)
    finally:
        from govshare.audit.writer import stop_writer

        stop_writer()
        drop_database(args.pg, dbname)
    result["markdown"] = markdown(result)
    write_json(args.json, result)
    print(result["markdown"])


if __name__ == "__main__":
    main()
