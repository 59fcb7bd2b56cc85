"""Data-plane throughput over HTTP against its fair baselines (DESIGN.md §7), same server, same load generator.

    python benchmarks/dataplane_http.py --rows 1000000 --pg postgres://postgres@127.0.0.1:5432/postgres
    options: --clients 1,8,32 --duration 10 --workers 4 --generator auto|wrk|python --json out.json

Builds a population resource of ``--rows`` people (the world of :mod:`dataplane_smoke`: plain, masked and
verify_only items, a row filter), then serves, one after the other, with the gunicorn settings of
``govshare serve`` (:mod:`bench_server`):

- ``static``: a fixed answer, no database: the ceiling of this server + load generator pair;
- ``govshare``: the product (``/dp/v1/verify`` and ``/dp/v1/query`` by key: signature, nonce, counters, grant,
  lookup, masking, group-committed audit event);
- ``lookup_audit``: the fair baseline: the same indexed lookup plus the same durable audit insert;
- ``lookup``: the bare lookup.

Load generator: ``wrk`` (when installed) with :file:`wrk_presigned.lua`, or else a multi-process Python
generator (http.client). Either way every request is signed on its own (fresh nonce and timestamp, HMAC-SM3)
before the run starts, so signing costs nothing during the measurement; requests are random keys of the
population (10 % outside the row filter). Each (application, endpoint, clients) point runs ``--duration`` s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    children,
    drop_database,
    engine_version,
    machine,
    peak_rss_mb,
    percentile,
    setup_database,
    vm_hwm_mb,
    write_json,
)

REFS = {"operator": "王五", "case_number": "BJ20250001", "item_code": "11445100MB2D1234XY",
        "purpose": "社保参保登记核验"}
APPS = ["static", "govshare", "lookup_audit", "lookup"]
ENDPOINTS = ["verify", "query"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _build(world: dict[str, Any], endpoint: str, count: int, signed: bool, sign: Any,
           encode: Any) -> list[tuple[str, bytes, dict[str, str]]]:
    rng = random.Random(secrets.randbits(32))
    people = world["people"]
    path = f"/dp/v1/{endpoint}"
    ts = int(time.time())
    refs = {"X-GS-Operator": encode(REFS["operator"]), "X-GS-Case-Number": encode(REFS["case_number"]),
            "X-GS-Item-Code": encode(REFS["item_code"]), "X-GS-Purpose": encode(REFS["purpose"])}
    out = []
    for _ in range(count):
        p = people[rng.randrange(len(people))]
        if endpoint == "verify":
            payload: dict[str, Any] = {"resource": world["code"], "key": p[0],
                                       "claims": {"mobile": p[2], "person_name": p[1]}}
        else:
            payload = {"resource": world["code"], "keys": [p[0]]}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **refs}
        if signed:
            headers.update(sign("POST", path, None, body, world["secret"], ts, secrets.token_hex(12),
                                app_key=world["app_key"]))
        out.append((path, body, headers))
    return out


def _encoder() -> Any:
    from govshare.exchange.dataplane.signing import encode_header_value

    return encode_header_value


# --- load generators ------------------------------------------------------------------------------------------

def _wrk(url: str, clients: int, duration: int, reqs: list[tuple[str, bytes, dict[str, str]]],
         tmp: Path) -> dict[str, Any]:
    threads = min(clients, os.cpu_count() or 1)
    base = tmp / "reqs"
    for t in range(threads):
        with open(f"{base}.{t + 1}.tsv", "wb") as fh:
            for path, body, headers in reqs[t::threads]:
                fields = [path.encode(), body] + [f"{k}: {v}".encode() for k, v in headers.items()]
                fh.write(b"\t".join(fields) + b"\n")
    cmd = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{duration}s", "--timeout", "10s",
           "-s", str(HERE / "wrk_presigned.lua"), url, "--", str(base)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120, check=True)  # noqa: S603
    out = done.stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r: dict[str, Any] = json.loads(line[len("WRKJSON "):])
    secs = r["duration_us"] / 1e6
    return {"requests": r["requests"], "seconds": round(secs, 2), "rps": round(r["requests"] / secs, 1),
            "non_2xx": r["status_errors"], "socket_errors": r["connect"] + r["read"] + r["write"] + r["timeout"],
            "p50_ms": r["p50"] / 1000, "p95_ms": r["p95"] / 1000, "p99_ms": r["p99"] / 1000,
            "wrapped": r["wrapped"]}


def _py_worker(job: tuple[str, int, int, float, list[tuple[str, bytes, dict[str, str]]]]) -> dict[str, Any]:
    import http.client
    import threading

    host, port, conns, deadline, reqs = job
    lat: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    errors = [0]
    nxt = [0]
    wrapped = [0]

    def loop() -> None:
        mine: list[float] = []
        while time.time() < deadline:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(reqs):
                wrapped[0] += 1
            path, body, headers = reqs[i % len(reqs)]
            t0 = time.perf_counter()
            try:
                c = http.client.HTTPConnection(host, port, timeout=10)
                c.request("POST", path, body=body, headers=headers)
                resp = c.getresponse()
                resp.read()
                c.close()
                status = resp.status
            except OSError:
                with lock:
                    errors[0] += 1
                continue
            mine.append(time.perf_counter() - t0)
            with lock:
                codes[status] = codes.get(status, 0) + 1
        with lock:
            lat.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(conns)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"lat": lat, "codes": codes, "errors": errors[0], "wrapped": wrapped[0]}


def _python(url: str, clients: int, duration: int, reqs: list[tuple[str, bytes, dict[str, str]]],
            tmp: Path) -> dict[str, Any]:
    """Processes × threads, one blocking http.client connection per request (gunicorn's sync workers close the
    connection after each answer anyway)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    procs = min(clients, 2 * (os.cpu_count() or 1))
    start = time.time() + 1.0
    deadline = start + duration
    jobs = [(host, int(port), clients // procs + (1 if p < clients % procs else 0), deadline, reqs[p::procs])
            for p in range(procs)]
    with Pool(procs) as pool:
        results = pool.map(_py_worker, jobs)
    lat = [x for r in results for x in r["lat"]]
    codes: dict[int, int] = {}
    for r in results:
        for k, v in r["codes"].items():
            codes[k] = codes.get(k, 0) + v
    n = len(lat)
    return {"requests": n, "seconds": duration, "rps": round(n / duration, 1),
            "non_2xx": sum(v for k, v in codes.items() if not 200 <= k < 300),
            "socket_errors": sum(r["errors"] for r in results), "p50_ms": percentile(lat, 50) * 1000,
            "p95_ms": percentile(lat, 95) * 1000, "p99_ms": percentile(lat, 99) * 1000,
            "wrapped": sum(r["wrapped"] for r in results)}


# --- servers --------------------------------------------------------------------------------------------------

class Server:
    def __init__(self, app: str, workers: int, threads: int, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.proc = subprocess.Popen(  # noqa: S603 - our own arguments
            [sys.executable, str(HERE / "bench_server.py"), "--app", app, "--port", str(self.port),
             "--workers", str(workers), "--threads", str(threads)],
            env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip() == "READY":
                break
        else:
            raise RuntimeError(f"server {app} did not start; see {log}")
        # drain the access log (stdout) so the workers never block on a full pipe
        self._drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self._drain.start()
        time.sleep(0.5)

    def peak_rss(self) -> dict[str, float]:
        workers = [vm_hwm_mb(pid) for pid in children(self.proc.pid)]
        return {"master_mb": vm_hwm_mb(self.proc.pid), "largest_worker_mb": max(workers, default=0.0),
                "workers_total_mb": round(sum(workers), 1)}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.join(10)
        self.log.close()


def _world(rows: int) -> dict[str, Any]:
    import dataplane_smoke

    w = dataplane_smoke._world(rows)
    return {"code": w["code"], "app_key": w["app_key"], "secret": w["secret"],
            "people": [(p["id_number"], p["person_name"], p["mobile"]) for p in w["people"]]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from govshare.client import sign

    encode = _encoder()
    t0 = time.perf_counter()
    world = _world(args.rows)
    build_s = time.perf_counter() - t0
    engine = engine_version()
    print(f"world: {args.rows} rows in {build_s:.1f} s; {engine}", flush=True)
    connection.close()
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    gen = _wrk if generator == "wrk" else _python
    env = {**os.environ, "BENCH_APP_KEY": world["app_key"], "BENCH_RESOURCE": world["code"]}
    clients = [int(c) for c in args.clients.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="govshare-bench-http-"))
    results: dict[str, Any] = {"engine": engine, "rows": args.rows, "workers": args.workers,
                               "threads": args.threads,
                               "duration_s": args.duration, "generator": generator, "clients": clients,
                               "build_world_s": round(build_s, 1), "runs": {}}
    sign_us: list[float] = []
    server_rss: dict[str, dict[str, float]] = {}
    try:
        for app in APPS:
            server = Server(app, args.workers, args.threads, env, tmp / f"{app}.log")
            try:
                for endpoint in ENDPOINTS if app != "static" else ["verify"]:
                    for c in clients if app != "static" else [max(clients)]:
                        # enough distinct signed requests for the run (a baseline may reuse them: it does not
                        # check nonces); a wrap-around on the data plane would show up as non-2xx answers
                        count = args.duration * (args.max_rps if app == "govshare" else 2000)
                        s0 = time.perf_counter()
                        reqs = _build(world, endpoint, count, app == "govshare", sign, encode)
                        if app == "govshare":
                            sign_us.append((time.perf_counter() - s0) / count * 1e6)
                        r = gen(server.url, c, args.duration, reqs, tmp)
                        results["runs"].setdefault(app, {}).setdefault(endpoint, {})[str(c)] = r
                        print(f"{app:>13} {endpoint:>6} c={c:<3} {r['rps']:>8} req/s  p50 {r['p50_ms']:.1f}  "
                              f"p95 {r['p95_ms']:.1f}  p99 {r['p99_ms']:.1f} ms  non-2xx {r['non_2xx']}  "
                              f"errors {r['socket_errors']}", flush=True)
            finally:
                server_rss[app] = server.peak_rss()
                server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["presign_us_per_request"] = round(sum(sign_us) / max(1, len(sign_us)), 1)
    results["peak_rss_mb"] = {"bench_process": peak_rss_mb(), "servers": server_rss}
    results["ratios"] = ratios(results)
    results["machine"] = machine()
    return results


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    runs = results["runs"]
    for endpoint in ENDPOINTS:
        for c, r in runs.get("govshare", {}).get(endpoint, {}).items():
            base = runs.get("lookup_audit", {}).get(endpoint, {}).get(c)
            bare = runs.get("lookup", {}).get(endpoint, {}).get(c)
            out[f"{endpoint}@{c}"] = {
                "vs_lookup_audit": round(r["rps"] / base["rps"], 3) if base else None,
                "vs_bare_lookup": round(r["rps"] / bare["rps"], 3) if bare else None}
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [f"### Data plane over HTTP — {results['engine']}, {results['rows']:,} rows, gunicorn "
             f"{results['workers']} workers × {results.get('threads', 1)} threads, "
             f"load generator {results['generator']}, "
             f"{results['duration_s']} s per point", "",
             "| application | endpoint | clients | req/s | p50 ms | p95 ms | p99 ms | non-2xx | vs baseline |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for app, by_ep in results["runs"].items():
        for endpoint, by_c in by_ep.items():
            for c, r in by_c.items():
                ratio = ""
                if app == "govshare":
                    ratio = f"{results['ratios'][f'{endpoint}@{c}']['vs_lookup_audit']:.2f}"
                label = {"static": "static answer (generator ceiling)", "govshare": "**govshare data plane**",
                         "lookup_audit": "baseline: lookup + audit insert", "lookup": "baseline: bare lookup"}[app]
                ep = endpoint if app != "static" else "—"
                lines.append(f"| {label} | {ep} | {c} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                             f"{r['p99_ms']:.1f} | {r['non_2xx']} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="PostgreSQL server URL (a throw-away database is created there)")
    parser.add_argument("--db-prefix", default="govshare_bench_http")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=max(1, min(4, 2 * (os.cpu_count() or 1))))
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (> 1: gthread)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--max-rps", type=int, default=2500,
                        help="distinct signed requests per second of run to prepare for the data plane")
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
    print()
    print(result["markdown"])


if __name__ == "__main__":
    main()
