"""Data-plane smoke benchmark (not a test): verify throughput in process, and what the hot path costs.

Usage (from the repository root)::

    python benchmarks/dataplane_smoke.py                    # SQLite file in a fresh temporary home
    python benchmarks/dataplane_smoke.py --pg postgres://postgres@127.0.0.1:5432/postgres
    options: --rows 10000 --threads 8 --calls 300 (per thread) --json results.json

Builds a population resource with ``--rows`` people, a grant (plain / masked / verify_only items, a row
filter) and a credential, then:

1. hot path, one thread: the cost of each step of one verify call, measured separately;
2. throughput: ``--threads`` threads, each a :class:`govshare.client.GovshareClient` signing real requests and
   sending them through :func:`govshare.client.wsgi_transport` to ``govshare.wsgi.application`` (path
   dispatch, full WSGI environ; no sockets), random keys, the group-commit audit writer;
3. baseline, same threads: the same indexed lookup plus one durable audit INSERT + COMMIT per call
   (``record_event`` in autocommit), no HTTP parsing, no signature, no counters;
4. consistency: the day counter equals the number of accepted calls, every call has its audit event.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _setup(pg: str | None) -> str | None:
    os.environ["GOVSHARE_HOME"] = tempfile.mkdtemp(prefix="govshare-bench-dp-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    dbname = None
    if pg:
        import psycopg

        dbname = f"govshare_bench_dp_{os.getpid()}"
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        os.environ["DATABASE_URL"] = pg.rsplit("/", 1)[0] + "/" + dbname
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if CONN_MAX_AGE is not None:  # the settings default is 0: a new connection per request
        settings.DATABASES["default"]["CONN_MAX_AGE"] = CONN_MAX_AGE
    if ASYNC_ADMISSION:
        settings.GOVSHARE["DATAPLANE_ADMISSION_SYNCHRONOUS_COMMIT"] = False

    call_command("migrate", verbosity=0)
    return dbname


def _world(rows: int) -> dict[str, Any]:
    from django.db import transaction
    from django.utils import timezone

    from govshare import testing
    from govshare.accounts.choices import Role
    from govshare.catalog.services import ItemSpec
    from govshare.core.identifiers import make_resident_id
    from govshare.datasets.services import load_rows, mount_resource
    from govshare.exchange.choices import ApplicationStatus
    from govshare.exchange.models import Application
    from govshare.exchange.services.grants import Decision, create_grant
    from govshare.registry.services import create_system, issue_credential

    city = testing.node("445100", name="潮州市", level="city")
    office = testing.user(Role.DATA_OFFICE, at=city, dept=testing.department(city, name="市政务服务数据管理局",
                                                                             is_data_office=True))
    provider = testing.user(Role.PROVIDER, dept=testing.department(city, name="市公安局"))
    consumer = testing.user(Role.CONSUMER, dept=testing.department(city, name="市人社局"))
    admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
    items = [ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
             ItemSpec(name="姓名", element_code="DE0002", required=True), ItemSpec(name="性别", element_code="DE0003"),
             ItemSpec(name="现住址", element_code="DE0007"), ItemSpec(name="手机号码", element_code="DE0008")]
    resource = testing.resource(provider.department, items=items, share_modes=["api"], publish_by=office)
    people = []
    base = dt.date(1950, 1, 1)
    for n in range(rows):
        people.append({"id_number": make_resident_id("445102", base + dt.timedelta(days=n // 500), n % 500 + 100),
                       "person_name": f"张{n}", "gender": "男", "mobile": f"138{n:08d}",
                       "current_address": f"广东省潮州市{'湘桥区' if n % 10 else '潮安区'}西马路{n}号"})
    ds = mount_resource(actor=provider, resource=resource)
    load_rows(actor=provider, dataset=ds, rows=people)
    resource.refresh_from_db()
    system = create_system(actor=admin, department=consumer.department, name="社保经办系统")
    cred = issue_credential(actor=admin, system=system)
    today = timezone.localdate()
    app = Application.objects.create(
        node=city, number="BENCH-1", resource=resource, resource_version=resource.published_version.number,
        provider=resource.provider, consumer=consumer.department, system=system, applicant=consumer,
        items=["id_number", "person_name", "gender", "current_address", "mobile"], modes=["query", "verify"],
        purpose="基准测试", valid_from=today, valid_to=today + dt.timedelta(days=30), status=ApplicationStatus.APPROVED)
    with transaction.atomic():
        grant = create_grant(actor=provider, app=app, decision=Decision(
            items={"id_number": "plain", "person_name": "masked", "gender": "plain", "current_address": "plain",
                   "mobile": "verify_only"}, modes=["query", "verify"], rate_limit_per_minute=10**8,
            daily_quota=10**8, verify_quota_per_key=10**6, row_filter='current_address prefix "广东省潮州市湘桥区"'),
            override_reason="benchmark")
    return {"code": resource.code, "app_key": cred.credential.app_key, "secret": cred.app_secret, "people": people,
            "grant": grant, "resource": resource}


CONN_MAX_AGE: int | None = None
ASYNC_ADMISSION = False
REFS = {"operator": "王五", "case_number": "BJ20250001", "item_code": "11445100MB2D1234XY",
        "purpose": "社保参保登记核验"}


def _run(threads: int, calls: int, work: Callable[[int, int], None]) -> tuple[float, list[float]]:
    from django.db import connections

    barrier = threading.Barrier(threads + 1)
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def body(n: int) -> None:
        mine: list[float] = []
        try:
            barrier.wait()
            for i in range(calls):
                t0 = time.perf_counter()
                work(n, i)
                mine.append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            with lock:
                latencies.extend(mine)
            connections.close_all()

    pool = [threading.Thread(target=body, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, latencies


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


HOT_PATH_REPEAT = 300


def hot_path(w: dict[str, Any], repeat: int = HOT_PATH_REPEAT) -> dict[str, float]:
    """Microseconds per step of one verify call, each step timed alone (single thread, warm cache)."""
    from django.db import connection
    from django.utils import timezone

    from govshare.exchange.dataplane import audit, limits, records, signing, verify
    from govshare.exchange.dataplane.app import application
    from govshare.exchange.dataplane.cache import read_epoch

    snap = application.cache.snapshot(read_epoch(), 3600)
    cred = snap.credential(w["app_key"])
    assert cred is not None
    grant = snap.grants_for(cred.system_id, w["code"])[0]
    people = [p for p in w["people"] if "湘桥区" in p["current_address"]]
    body = json.dumps({"resource": w["code"], "key": people[0]["id_number"], "claims": {"mobile": "1"}}).encode()
    canonical = signing.canonical_string("POST", "/dp/v1/verify", None, body, "1700000000", "n" * 20)
    sig = signing.hmac_signature(w["secret"], canonical)
    out: dict[str, float] = {}

    def timed(name: str, fn: Callable[[int], Any]) -> None:
        fn(0)
        t0 = time.perf_counter()
        for i in range(repeat):
            fn(i)
        out[name] = (time.perf_counter() - t0) / repeat * 1e6

    now = timezone.now()
    timed("epoch read (SELECT core_authzepoch)", lambda i: read_epoch())
    timed("canonical string + HMAC-SM3 check", lambda i: signing.signature_matches(
        cred.secret, signing.canonical_string("POST", "/dp/v1/verify", None, body, "1700000000", "n" * 20), sig))
    timed("audit key HMAC (blind index)", lambda i: audit.key_hmac(people[i % len(people)]["id_number"]))
    plan = verify.plan_verify(grant, json.loads(body))
    timed("plan (claim hash)", lambda i: verify.plan_verify(grant, json.loads(body)))
    counters = limits.counters_for(minute=timezone.localtime(now), day=timezone.localdate(now), rate_limit=10**8,
                                   daily_quota=10**8, verify_key_hmac=plan.key_hmac, verify_quota=10**6)
    timed("admission txn (nonce + 3 counters + claim, COMMIT)", lambda i: limits.admit(
        nonce_value=f"bench:{time.perf_counter_ns()}:{i}", nonce_expires=now + dt.timedelta(minutes=6),
        grant_db_id=grant.db_id, day=timezone.localdate(now), counters=counters,
        claim=limits.Claim(plan.key_hmac, plan.claim_hash)))
    timed("indexed lookup + row filter", lambda i: records.fetch_by_keys(grant, [people[i % len(people)]["id_number"]]))
    event = {"action": "dataplane.bench", "actor_id": "bench", "actor_label": "bench", "result": "ok",
             "data": {"key_hmacs": [plan.key_hmac], "grant": grant.id}}
    timed("audit event, group commit (1 thread: 1 commit/event)", lambda i: audit.log(event))
    connection.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=300, help="verify calls per thread")
    parser.add_argument("--conn-max-age", type=int, default=None,
                        help="override CONN_MAX_AGE (seconds; the settings use 0 = reconnect per request)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval (seconds; Python's default is 0.005)")
    parser.add_argument("--async-admission", action="store_true",
                        help="DATAPLANE_ADMISSION_SYNCHRONOUS_COMMIT = False (PostgreSQL only)")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    global CONN_MAX_AGE, ASYNC_ADMISSION
    CONN_MAX_AGE = args.conn_max_age
    ASYNC_ADMISSION = args.async_admission
    dbname = _setup(args.pg)
    try:
        result = run(args)
    finally:
        from govshare.audit.writer import stop_writer

        stop_writer()
        if args.pg and dbname:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from govshare.audit.models import AuditEvent
    from govshare.audit.services import record_event
    from govshare.client import GovshareClient, GovshareError, wsgi_transport
    from govshare.exchange.dataplane import records
    from govshare.exchange.dataplane.app import application as dp
    from govshare.exchange.dataplane.cache import read_epoch
    from govshare.exchange.models import UsageCounter
    from govshare.wsgi import application

    t0 = time.perf_counter()
    w = _world(args.rows)
    print(f"world: {args.rows} rows in {time.perf_counter() - t0:.1f} s; engine {connection.vendor}")
    steps = hot_path(w)
    keys = [p["id_number"] for p in w["people"]]
    by_key = {p["id_number"]: p for p in w["people"]}
    rng = random.Random(7)
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def verify_call(n: int, i: int, clients: dict[int, GovshareClient] = {}) -> None:  # noqa: B006
        gs = clients.get(n)
        if gs is None:
            gs = clients[n] = GovshareClient("http://bench", w["app_key"], w["secret"],
                                             transport=wsgi_transport(application), **REFS)
        key = rng.choice(keys)
        try:
            gs.verify(w["code"], key, {"mobile": by_key[key]["mobile"], "person_name": by_key[key]["person_name"]})
            code = "ok"
        except GovshareError as exc:
            code = exc.code
        with lock:
            outcomes[code] = outcomes.get(code, 0) + 1

    before = AuditEvent.objects.filter(action="dataplane.verify").count()
    _run(args.threads, 5, verify_call)  # warm-up: caches, connections, the writer thread
    outcomes.clear()
    from govshare.audit.writer import get_writer
    from govshare.exchange.dataplane import limits

    b0, j0 = limits._batcher.batches, limits._batcher.jobs
    writer = get_writer()
    w0, e0 = writer.batches, writer.events
    elapsed, lat = _run(args.threads, args.calls, verify_call)
    batching = {"admission_batches": limits._batcher.batches - b0,
                "admission_jobs_per_batch": round((limits._batcher.jobs - j0)
                                                  / max(1, limits._batcher.batches - b0), 2),
                "audit_batches": writer.batches - w0,
                "audit_events_per_batch": round((writer.events - e0) / max(1, writer.batches - w0), 2)}
    total = args.threads * args.calls
    dp_result = {"requests": total, "seconds": round(elapsed, 3), "rps": round(total / elapsed, 1),
                 "p50_ms": round(_pct(lat, 50), 2), "p99_ms": round(_pct(lat, 99), 2), "outcomes": dict(outcomes)}

    snap = dp.cache.snapshot(read_epoch(), 3600)
    cred = snap.credential(w["app_key"])
    assert cred is not None
    grant = snap.grants_for(cred.system_id, w["code"])[0]

    def baseline_call(n: int, i: int) -> None:
        key = rng.choice(keys)
        records.fetch_by_keys(grant, [key])
        record_event(actor=f"bench-{n}", action="baseline.verify", target_type="grant", target_id=grant.id,
                     data={"key_hmacs": [f"{i:064x}"], "resource": w["code"]})

    _run(args.threads, 5, baseline_call)
    b_elapsed, b_lat = _run(args.threads, args.calls, baseline_call)
    base = {"requests": total, "seconds": round(b_elapsed, 3), "rps": round(total / b_elapsed, 1),
            "p50_ms": round(_pct(b_lat, 50), 2), "p99_ms": round(_pct(b_lat, 99), 2)}

    day = UsageCounter.objects.filter(grant=w["grant"], bucket__startswith="d:").values_list("count", flat=True)
    events = AuditEvent.objects.filter(action="dataplane.verify").count() - before
    accepted = sum(v for k, v in outcomes.items() if k == "ok")
    consistency = {"day_counter": int(day[0]) if day else 0, "audit_events": events,
                   "expected_counter": accepted + 5 * args.threads + HOT_PATH_REPEAT + 1,
                   "expected_events": total + 5 * args.threads}
    result = {"engine": connection.vendor, "rows": args.rows, "threads": args.threads, "dataplane_verify": dp_result,
              "baseline_lookup_plus_audit_insert": base, "ratio": round(dp_result["rps"] / base["rps"], 3),
              "hot_path_us": {k: round(v, 1) for k, v in steps.items()}, "consistency": consistency,
              "batching": batching}
    print(f"\n| {connection.vendor}, {args.rows} rows, {args.threads} threads | req/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(f"| data plane verify (signed, counted, audited) | {dp_result['rps']} | {dp_result['p50_ms']} | "
          f"{dp_result['p99_ms']} |")
    print(f"| baseline: lookup + audit INSERT/COMMIT | {base['rps']} | {base['p50_ms']} | {base['p99_ms']} |")
    print(f"\nratio {result['ratio']}; outcomes {dp_result['outcomes']}; group commit {batching}")
    print("\n| hot-path step (1 thread) | µs |\n|---|---:|")
    for k, v in steps.items():
        print(f"| {k} | {v:.0f} |")
    print(f"\nconsistency: {consistency}")
    ok = consistency["day_counter"] == consistency["expected_counter"] and events == consistency["expected_events"]
    print("counters and audit events consistent" if ok else "INCONSISTENT counters or audit events")
    return result


if __name__ == "__main__":
    main()
