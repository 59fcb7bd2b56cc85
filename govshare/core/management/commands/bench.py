"""``govshare bench``: run the performance scenarios of ``benchmarks/`` against their baselines (DESIGN.md §7).

The scenario code stays in ``benchmarks/`` (reproducible runs, not product code, not installed with the
package); this command finds that directory next to the package (a source checkout) and runs each scenario as
its own Python process, on throw-away databases — a temporary SQLite home, and with ``--database-url`` a
temporary PostgreSQL database per scenario on that server — never on the configured database. One process per
scenario gives each a clean Django set-up, its own database and its own peak memory figure.

Writes ``bench.json`` (every figure, per scenario and engine) and ``bench.md`` (the tables and the §7 targets
with measured value, baseline and ratio) into ``--out``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

import govshare

SCENARIOS = ("dataplane", "search", "ingestion", "subscription", "audit")
QUICK = {"rows": 2000, "resources": "2000", "duration": 2, "clients": "1,8", "ingest_rows": 5000,
         "audit_events": 2000, "seal_events": 5000, "subs_rows": 1000, "subs_changes": 500, "subs_samples": 5,
         "search_repeat": 2}


def benchmarks_dir() -> Path:
    path = Path(govshare.__file__).resolve().parents[1] / "benchmarks"
    if not (path / "dataplane_http.py").is_file():
        raise CommandError(f"找不到 benchmarks/ 目录 ({path})：govshare bench 需在源码目录中运行 "
                           "(benchmarks/ is not installed with the package; run from a source checkout)")
    return path


def default_workers() -> int:
    return max(1, min(4, 2 * (os.cpu_count() or 1)))


class Command(BaseCommand):
    help = "性能基准：数据面、目录检索、入库、订阅推送、审计封存 (run the DESIGN.md §7 benchmarks)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default="", help="结果目录，默认 benchmarks/results/<时间>（不入库 git-ignored）")
        parser.add_argument("--database-url", default="",
                            help="PostgreSQL 服务器 URL；每个场景在其上新建并删除临时数据库 (targets are judged here)")
        parser.add_argument("--engines", default="",
                            help="sqlite,postgresql（默认：给了 --database-url 时两者都跑，否则只跑 sqlite）")
        parser.add_argument("--only", default=",".join(SCENARIOS), help=f"场景，逗号分隔：{','.join(SCENARIOS)}")
        parser.add_argument("--quick", action="store_true", help="小规模快速运行（冒烟用，数字不作准）")
        parser.add_argument("--rows", type=int, default=1_000_000, help="数据面人口库行数，默认 1000000")
        parser.add_argument("--ingest-rows", type=int, default=None, help="入库行数，默认同 --rows")
        parser.add_argument("--resources", default="100000,500000", help="目录资源数，逗号分隔")
        parser.add_argument("--clients", default="1,8,32", help="并发客户端数")
        parser.add_argument("--duration", type=int, default=10, help="每个测点秒数")
        parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn 工作进程数")
        parser.add_argument("--threads", type=int, default=1,
                            help="每个工作进程的线程数（>1 用 gthread，同 govshare serve --threads）")
        parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
        parser.add_argument("--db-prefix", default="govshare_bench", help="临时 PostgreSQL 数据库名前缀")

    def handle(self, *args: Any, **options: Any) -> None:
        bench = benchmarks_dir()
        only = [s.strip() for s in options["only"].split(",") if s.strip()]
        unknown = sorted(set(only) - set(SCENARIOS))
        if unknown:
            raise CommandError(f"未知场景 {unknown} (unknown scenario); 可选 {', '.join(SCENARIOS)}")
        pg = options["database_url"]
        engines = [e.strip() for e in (options["engines"] or ("sqlite,postgresql" if pg else "sqlite")).split(",")]
        if "postgresql" in engines and not pg.startswith("postgres"):
            raise CommandError("postgresql 需要 --database-url postgres://… (a PostgreSQL server URL)")
        if options["quick"]:
            sizes = dict(QUICK)
        else:
            sizes = {"rows": options["rows"], "resources": options["resources"], "duration": options["duration"],
                     "clients": options["clients"], "ingest_rows": options["ingest_rows"] or options["rows"],
                     "audit_events": 8000, "seal_events": 200_000, "subs_rows": 9_000, "subs_changes": 20_000,
                     "subs_samples": 40, "search_repeat": 10}
        out = Path(options["out"] or bench / "results" / f"{dt.datetime.now():%Y%m%d-%H%M%S}").resolve()
        out.mkdir(parents=True, exist_ok=True)
        report: dict[str, Any] = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                  "command": _command_line(),
                                  "sizes": sizes, "workers": options["workers"], "engines": engines,
                                  "machine": _machine(), "results": {}, "failed": {}}
        for engine in engines:
            for scenario in only:
                for label, argv in self._argv(bench, scenario, engine, pg, sizes, options):
                    name = f"{label}-{engine}"
                    path = out / f"{name}.json"
                    self.stdout.write(f"== {name}: {' '.join(shlex.quote(a) for a in argv[1:])}")
                    started = time.perf_counter()
                    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
                    if engine == "postgresql" and scenario == "search":
                        env["DATABASE_URL"] = pg
                    else:
                        env.pop("DATABASE_URL", None)
                    code = self._run([*argv, "--json", str(path)], env)
                    seconds = round(time.perf_counter() - started, 1)
                    if code == 0 and path.is_file():
                        result = json.loads(path.read_text())
                        result["wall_s"] = seconds
                        report["results"][name] = result
                    else:
                        report["failed"][name] = f"exit {code}"
                        self.stderr.write(f"{name} failed (exit {code})")
        report["targets"] = targets(report["results"])
        (out / "bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
        (out / "bench.md").write_text(render(report))
        self.stdout.write(f"\n{render_targets(report['targets'])}\n\n结果 (results): {out}/bench.md, {out}/bench.json")
        if report["failed"]:
            raise CommandError(f"失败的场景 (failed): {', '.join(report['failed'])}")

    def _run(self, argv: list[str], env: dict[str, str]) -> int:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            self.stdout.write("   " + line.rstrip())
        return proc.wait()

    def _argv(self, bench: Path, scenario: str, engine: str, pg: str, sizes: dict[str, Any],
              options: dict[str, Any]) -> list[tuple[str, list[str]]]:
        py = sys.executable
        pg_args = ["--pg", pg] if engine == "postgresql" else []
        prefix = options["db_prefix"]
        if scenario == "dataplane":
            return [("dataplane", [py, str(bench / "dataplane_http.py"), *pg_args, "--db-prefix", f"{prefix}_http",
                                   "--rows", str(sizes["rows"]), "--clients", str(sizes["clients"]),
                                   "--duration", str(sizes["duration"]), "--workers", str(options["workers"]),
                                   "--threads", str(options["threads"]),
                                   "--generator", options["generator"]])]
        if scenario == "search":
            return [(f"search{n}", [py, str(bench / "catalog_search.py"), "--count", n, "--repeat",
                                    str(sizes["search_repeat"]), "--db-name", f"{prefix}_search"])
                    for n in str(sizes["resources"]).split(",")]
        if scenario == "ingestion":
            return [("ingestion", [py, str(bench / "ingestion.py"), *pg_args, "--db-prefix", f"{prefix}_ingest",
                                   "--rows", str(sizes["ingest_rows"])])]
        if scenario == "subscription":
            return [("subscription", [py, str(bench / "subscription.py"), *pg_args, "--db-prefix", f"{prefix}_subs",
                                      "--rows", str(sizes["subs_rows"]), "--changes", str(sizes["subs_changes"]),
                                      "--samples", str(sizes["subs_samples"])])]
        return [("audit", [py, str(bench / "audit_writer.py"), *pg_args, "--db-prefix", f"{prefix}_audit",
                           "--events", str(sizes["audit_events"]), "--seal-events", str(sizes["seal_events"])])]


def _command_line() -> str:
    argv = sys.argv[1:]
    if "bench" in argv:
        argv = argv[argv.index("bench") + 1:]
    return "govshare bench " + " ".join(shlex.quote(a) for a in argv)


def _machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


def _check(ok: bool | None) -> str:
    return "—" if ok is None else ("达标 met" if ok else "未达标 missed")


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each DESIGN.md §7 target per engine: measured value, baseline, ratio, met or not."""
    rows: list[dict[str, Any]] = []
    for name, r in sorted(results.items()):
        scenario, engine = name.rsplit("-", 1)
        if scenario == "dataplane":
            top = str(max(r["clients"]))
            for ep in ("verify", "query"):
                gs = r["runs"].get("govshare", {}).get(ep, {}).get(top)
                base = r["runs"].get("lookup_audit", {}).get(ep, {}).get(top)
                if gs and base:
                    ratio = gs["rps"] / base["rps"]
                    rows.append({"engine": engine, "target": f"data plane {ep}, {top} clients: ≥ 70% of lookup + "
                                 f"audit insert; p99 < 50 ms ({r['rows']:,} rows)",
                                 "value": f"{gs['rps']:,.0f} req/s, p99 {gs['p99_ms']:.1f} ms",
                                 "baseline": f"{base['rps']:,.0f} req/s, p99 {base['p99_ms']:.1f} ms",
                                 "ratio": round(ratio, 2), "met": ratio >= 0.7 and gs["p99_ms"] < 50})
        elif scenario.startswith("search"):
            f, b = r["search_with_facets"], r["bare_fulltext"]
            rows.append({"engine": engine, "target": f"catalog search with facets p95 < 50 ms ({r['resources']:,} "
                         "resources; target size 500k)", "value": f"p95 {f['p95_ms']} ms (p50 {f['p50_ms']})",
                         "baseline": f"bare full-text p95 {b['p95_ms']} ms", "ratio":
                         round(f["p95_ms"] / max(b["p95_ms"], 1e-9), 1), "met": f["p95_ms"] < 50})
        elif scenario == "ingestion":
            lr, raw = r["load_rows"], r["raw_bulk"]
            rows.append({"engine": engine, "target": f"ingestion with validation ≥ 1M rows/min and ≥ 30% of raw "
                         f"({r['rows']:,} rows)", "value": f"{lr['rows_per_min']:,} rows/min",
                         "baseline": f"{raw['method']} {raw['rows_per_min']:,} rows/min", "ratio": r["ratio"],
                         "met": lr["rows_per_min"] >= 1_000_000 and r["ratio"] >= 0.3})
        elif scenario == "subscription":
            lt, th = r["latency"], r["throughput"]
            rows.append({"engine": engine, "target": "subscription change → subscriber p95 < 1 s; ≥ 10k changes/s",
                         "value": f"p95 {lt['p95_ms']} ms; {th['changes_per_s']:,} changes/s",
                         "baseline": f"direct SQLite upsert {r['baseline_direct_sqlite']['rows_per_s']:,} rows/s",
                         "ratio": r["ratio"], "met": lt["p95_ms"] < 1000 and th["changes_per_s"] >= 10_000})
        elif scenario == "audit":
            s = r["seal_verify"]
            rows.append({"engine": engine, "target": f"audit seal / verify ≥ 200k events/s ({s['events']:,} events)",
                         "value": f"seal {s['seal_events_per_s']:,.0f}/s; verify {s['verify_events_per_s']:,.0f}/s "
                         f"({s['verify_parallel_events_per_s']:,.0f}/s with {s['jobs']} processes)",
                         "baseline": f"hash only {r['hash']['events_per_s']:,.0f}/s",
                         "ratio": round(s["seal_events_per_s"] / r["hash"]["events_per_s"], 2),
                         "met": min(s["seal_events_per_s"], s["verify_events_per_s"]) >= 200_000})
    return rows


def render_targets(rows: list[dict[str, Any]]) -> str:
    lines = ["| engine | DESIGN.md §7 target | measured | baseline (same run) | ratio | |",
             "|---|---|---|---|---:|---|"]
    lines += [f"| {t['engine']} | {t['target']} | {t['value']} | {t['baseline']} | {t['ratio']} | {_check(t['met'])} |"
              for t in rows]
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    parts = [f"# govshare bench — {report['started']}", "",
             f"`{report['command']}`", "",
             f"Machine: {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}; gunicorn "
             f"{report['workers']} workers. Sizes: `{json.dumps(report['sizes'], ensure_ascii=False)}`.", "",
             "## Targets", "", render_targets(report["targets"]), ""]
    for name, r in report["results"].items():
        parts += [f"## {name} ({r.get('wall_s', '?')} s)", "", r.get("markdown", ""), ""]
    if report["failed"]:
        parts += ["## Failed", "", *[f"- {k}: {v}" for k, v in report["failed"].items()], ""]
    return "\n".join(parts)
