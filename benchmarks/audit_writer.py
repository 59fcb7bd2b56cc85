"""Audit log throughput: group-commit writer vs one INSERT+COMMIT per event; seal and verify rates.

Usage (from the repository root)::

    python benchmarks/audit_writer.py                       # SQLite file in a fresh temporary home
    python benchmarks/audit_writer.py --pg postgres://postgres@127.0.0.1:5432/postgres
                                                            # a temporary database on that server
    options: --threads 32 --events 8000 --seal-events 200000 --json results.json

Each event looks like a data-plane call: a system actor, ``data.query``, a grant id, one key HMAC
(so each event also writes one AuditKeyRef row) and a small ``data`` object.

- baseline: ``--threads`` threads, each calling ``record_event`` in autocommit (INSERT + COMMIT per
  event, its own connection);
- writer: the same threads calling ``AuditWriter.submit(...).wait()`` (one background thread, one
  multi-row INSERT and one COMMIT per batch);
- hash: canonical encoding + SM3 fold over rows already in memory (the sealer's CPU work alone);
- seal / verify: ``seal_pending`` and ``verify_chain`` end to end over ``--seal-events`` events.

Writes a JSON result (``--json``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


DB_PREFIX = "govshare_bench_audit"


def _setup(pg: str | None) -> tuple[str | None, str]:
    home = tempfile.mkdtemp(prefix="govshare-bench-audit-")
    os.environ["GOVSHARE_HOME"] = home
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    dbname = None
    if pg:
        import psycopg

        dbname = f"{DB_PREFIX}_{os.getpid()}"
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        os.environ["DATABASE_URL"] = pg.rsplit("/", 1)[0] + "/" + dbname
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return dbname, home


def _drop(pg: str, dbname: str) -> None:
    import psycopg

    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def _event(n: int, i: int) -> dict[str, Any]:
    from govshare.audit.services import actor_fields

    return {
        "action": "data.query", "target_type": "grant", "target_id": str(uuid.UUID(int=n * 1_000_003 + i)),
        "data": {"key_hmacs": [f"{(n * 7919 + i) % 2**256:064x}"], "purpose": "办件", "items": 3,
                 "matter_code": "11440500MB2C12345X4440100"},
        **actor_fields(f"app-{n:02d}"),
    }


def _run_threads(threads: int, per_thread: int, work: Any) -> float:
    from django.db import connection

    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def body(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                work(n, i)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=body, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def bench_baseline(threads: int, events: int) -> dict[str, Any]:
    from govshare.audit.services import record_event

    per = events // threads

    def work(n: int, i: int) -> None:
        e = _event(n, i)
        record_event(actor=f"app-{n:02d}", action=e["action"], target_type=e["target_type"],
                     target_id=e["target_id"], data=e["data"])

    elapsed = _run_threads(threads, per, work)
    return {"events": per * threads, "seconds": elapsed, "events_per_s": per * threads / elapsed}


def bench_writer(threads: int, events: int, max_batch: int, writers: int) -> dict[str, Any]:
    from govshare.audit.writer import AuditWriter

    per = events // threads
    writer = AuditWriter(max_batch=max_batch, threads=writers).start()

    def work(n: int, i: int) -> None:
        writer.submit(_event(n, i)).wait(120)

    try:
        elapsed = _run_threads(threads, per, work)
    finally:
        writer.stop()
    total = per * threads
    return {"events": total, "seconds": elapsed, "events_per_s": total / elapsed, "batches": writer.batches,
            "mean_batch": total / max(writer.batches, 1), "writer_threads": writers}


def _fill(events: int) -> None:
    """Insert events fast (not measured) for the seal and verify runs."""
    from django.db import transaction

    from govshare.audit.models import AuditEvent, AuditKeyRef
    from govshare.audit.services import clean_event

    chunk = 5000
    for start in range(0, events, chunk):
        batch = [AuditEvent(**clean_event(_event(i % 97, start + i))) for i in range(min(chunk, events - start))]
        with transaction.atomic():
            AuditEvent.objects.bulk_create(batch)
            AuditKeyRef.objects.bulk_create(
                [AuditKeyRef(key_hmac=e.data["key_hmacs"][0], seq=e.seq) for e in batch], ignore_conflicts=True)


def bench_hash(sample: int) -> dict[str, Any]:
    from govshare.audit import store
    from govshare.audit.chain import canonical_row, event_digest, fold_step

    rows = list(store.event_rows(1, 10**15))[:sample]
    started = time.perf_counter()
    head = b"\0" * 32
    for row in rows:
        head = fold_step(head, event_digest(canonical_row(row)))
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    canon = [canonical_row(row) for row in rows]
    encode = time.perf_counter() - started
    started = time.perf_counter()
    head = b"\0" * 32
    for c in canon:
        head = fold_step(head, event_digest(c))
    sm3 = time.perf_counter() - started
    return {"events": len(rows), "seconds": elapsed, "events_per_s": len(rows) / elapsed,
            "encode_events_per_s": len(rows) / encode, "sm3_events_per_s": len(rows) / sm3,
            "mean_canonical_bytes": sum(map(len, canon)) / max(len(canon), 1)}


def bench_seal_verify(events: int, block_events: int, jobs: int) -> dict[str, Any]:
    from govshare.audit.models import NodeKey
    from govshare.audit.seal import seal_pending
    from govshare.audit.verify import verify_chain

    started = time.perf_counter()
    result = seal_pending(max_events=events * 2, block_events=block_events)
    seal_s = time.perf_counter() - started
    key = NodeKey.objects.get(active=True).public_key
    started = time.perf_counter()
    report = verify_chain(pinned_keys=[key])
    verify_s = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError("\n".join(report.lines()))
    started = time.perf_counter()
    parallel = verify_chain(pinned_keys=[key], jobs=jobs)
    parallel_s = time.perf_counter() - started
    if not parallel.ok or parallel.events_checked != report.events_checked:
        raise RuntimeError("\n".join(parallel.lines()))
    return {"events": result.events, "blocks": len(result.blocks), "seal_seconds": seal_s,
            "seal_events_per_s": result.events / seal_s, "verify_seconds": verify_s,
            "verify_events_per_s": report.events_checked / verify_s, "jobs": jobs,
            "verify_parallel_seconds": parallel_s,
            "verify_parallel_events_per_s": parallel.events_checked / parallel_s}


def markdown(results: dict[str, Any], threads: int) -> str:
    b, w, h, s = results["baseline"], results["writer"], results["hash"], results["seal_verify"]
    w2 = results["writer2"]
    return "\n".join([
        f"### Audit log — {results['database']}, {threads} threads, {results['cpus']} CPUs, "
        f"SM2 {results['sm2_provider']}, peak RSS {results['peak_rss_mb']} MB", "",
        "| measurement | events | events/s |", "|---|---:|---:|",
        f"| INSERT+COMMIT per event (baseline) | {b['events']} | {b['events_per_s']:,.0f} |",
        f"| group-commit writer (mean batch {w['mean_batch']:.1f}) | {w['events']} | {w['events_per_s']:,.0f} |",
        f"| group-commit writer, 2 writer threads (mean batch {w2['mean_batch']:.1f}) | {w2['events']} | "
        f"{w2['events_per_s']:,.0f} |",
        f"| writer / baseline | | {results['writer_vs_baseline']:.2f}x |",
        f"| hash only: canonical + SM3 fold ({h['mean_canonical_bytes']:.0f} B/event) | {h['events']} | "
        f"{h['events_per_s']:,.0f} |",
        f"| — canonical encoding alone | | {h['encode_events_per_s']:,.0f} |",
        f"| — SM3 (2 digests per event) alone | | {h['sm3_events_per_s']:,.0f} |",
        f"| seal end to end ({s['blocks']} blocks) | {s['events']} | {s['seal_events_per_s']:,.0f} |",
        f"| verify end to end (pinned key) | {s['events']} | {s['verify_events_per_s']:,.0f} |",
        f"| verify end to end, {s['jobs']} processes | {s['events']} | {s['verify_parallel_events_per_s']:,.0f} |"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", help="PostgreSQL server URL (a temporary database is created there)")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--events", type=int, default=8000)
    parser.add_argument("--max-batch", type=int, default=1000)
    parser.add_argument("--seal-events", type=int, default=200_000)
    parser.add_argument("--block-events", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for parallel verify")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--db-prefix", default="govshare_bench_audit")
    args = parser.parse_args()
    globals()["DB_PREFIX"] = args.db_prefix

    dbname, home = _setup(args.pg)
    try:
        from django.db import connection

        from govshare.core.crypto import provider_name

        results: dict[str, Any] = {"database": connection.vendor, "threads": args.threads,
                                   "sm2_provider": provider_name(), "cpus": os.cpu_count()}
        results["baseline"] = bench_baseline(args.threads, args.events)
        results["writer"] = bench_writer(args.threads, args.events, args.max_batch, 1)
        results["writer2"] = bench_writer(args.threads, args.events, args.max_batch, 2)
        results["writer_vs_baseline"] = results["writer"]["events_per_s"] / results["baseline"]["events_per_s"]
        _fill(max(0, args.seal_events - 3 * (args.events // args.threads) * args.threads))
        results["hash"] = bench_hash(min(args.seal_events, 100_000))
        results["seal_verify"] = bench_seal_verify(args.seal_events, args.block_events, args.jobs)
        connection.close()
    finally:
        if args.pg and dbname:
            _drop(args.pg, dbname)
        import shutil

        shutil.rmtree(home, ignore_errors=True)

    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["markdown"] = markdown(results, args.threads)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(results["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
