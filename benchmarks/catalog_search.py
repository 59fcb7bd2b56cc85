"""Catalog search latency sanity check (not a test).

Builds a throw-away database (Django's test-database machinery: never the configured one), writes N
resources with realistic Chinese names straight into the tables, indexes them, then times
``search_resources`` (facets on, first page of 20, default relevance order) over a fixed set of 2–6
character queries and prints p50 / p95.

    # SQLite (a temporary file)
    GOVSHARE_HOME=$(mktemp -d) python benchmarks/catalog_search.py --count 20000
    # PostgreSQL (creates and drops the database "govshare_bench_search" on that server)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/catalog_search.py --count 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUERIES = [
    "社保", "医保", "户籍", "低保", "企业", "人口", "税务", "学籍", "养老", "险参",
    "公积金", "不动产", "社会保险", "营业执照", "婚姻登记", "行政许可", "市场监管", "交通违法",
    "登记信息", "最低生活保障",
]

SUBJECTS = [
    "城乡居民", "企业", "个体工商户", "流动人口", "退役军人", "残疾人", "低保对象", "特困人员", "建设项目",
    "道路运输", "食品生产", "药品经营", "中小学校", "医疗机构", "养老机构", "社会组织", "农民专业合作社",
    "律师事务所", "出租车", "危险化学品", "特种设备", "房地产开发", "物业服务", "公共租赁住房", "职业技能",
    "失业人员", "高校毕业生", "新生儿", "疫苗接种", "学生学籍", "机动车", "驾驶人", "不动产", "土地出让",
    "林地", "排污单位", "水资源", "气象灾害", "文物保护单位", "旅行社", "住房公积金", "社会保险", "基本医疗保险",
    "婚姻登记", "户籍人口", "市场主体", "纳税人", "行政许可", "行政处罚", "信用修复", "政务服务事项",
    "交通违法", "个体工商户营业执照",
]
OBJECTS = [
    "基本信息", "登记信息", "参保信息", "缴费记录", "许可信息", "处罚信息", "年报信息", "证照信息", "备案信息",
    "补贴发放信息", "资格认定信息", "检查记录", "统计数据", "变更记录", "注销信息", "名单", "台账", "监测数据",
    "评价结果", "投诉举报信息", "审批结果", "缴存信息", "提取信息", "待遇发放信息", "信用评价",
]
DEPARTMENTS = [
    "公安局", "民政局", "人力资源和社会保障局", "医疗保障局", "市场监督管理局", "税务局", "自然资源局",
    "住房和城乡建设局", "教育局", "卫生健康委员会", "交通运输局", "生态环境局", "应急管理局", "农业农村局",
    "退役军人事务局", "残疾人联合会", "住房公积金管理中心", "司法局", "财政局", "统计局", "文化广电旅游体育局",
    "水务局", "城市管理和综合执法局", "商务局", "发展和改革局", "工业和信息化局", "科学技术局", "林业局",
    "气象局", "政务服务数据管理局",
]


def _setup_django(args: argparse.Namespace) -> Path | None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    tmp: Path | None = None
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        tmp = Path(tempfile.mkdtemp(prefix="govshare-bench-"))
        os.environ["GOVSHARE_TEST_SQLITE"] = str(tmp / "bench.sqlite3")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    return tmp


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _generate(count: int, seed: int) -> dict[str, Any]:
    from faker import Faker

    from govshare import testing
    from govshare.accounts.choices import Role
    from govshare.catalog.choices import OpenType, ResourceFormat, ResourceStatus, ShareType, UpdateCycle
    from govshare.catalog.models import Classification, DataElement, Resource
    from govshare.catalog.search import build_search_text, rebuild_search_index
    from govshare.catalog.seeding import seed_catalog

    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    seed_catalog(actor=None)
    city = testing.node("445100", name="潮州市", level="city")
    depts = [testing.department(city, name=f"市{name}") for name in DEPARTMENTS]
    reader = testing.user(Role.CONSUMER, dept=depts[0])
    leaves = list(Classification.objects.filter(level="mu"))
    element_names = list(DataElement.objects.values_list("name", flat=True))
    formats = list(ResourceFormat.values)
    cycles = list(UpdateCycle.values)
    sequences: dict[str, int] = {}
    started = time.perf_counter()
    batch: list[Resource] = []
    for _ in range(count):
        cls = rng.choice(leaves)
        dept = rng.choice(depts)
        place = fake.city_name() if rng.random() < 0.3 else ""
        name = f"{place}{rng.choice(SUBJECTS)}{rng.choice(OBJECTS)}"
        items = rng.sample(element_names, rng.randint(3, 8))
        summary = (f"{dept.name}汇集的{name}，包括{'、'.join(items[:3])}等信息项，"
                   f"{dict(UpdateCycle.choices)[rng.choice(cycles)]}更新。{fake.sentence(nb_words=12)}")
        sequences[cls.code] = sequences.get(cls.code, 0) + 1
        listed = rng.random() < 0.9
        r = Resource(
            node=city, provider=dept, classification=cls, category=cls.category, name=name[:200],
            code=f"{city.code_prefix}/{cls.code}/{sequences[cls.code]:06d}", sequence=sequences[cls.code],
            summary=summary, formats=rng.sample(formats, rng.randint(1, 3)),
            share_type=rng.choice([ShareType.UNCONDITIONAL, ShareType.CONDITIONAL, ShareType.CONDITIONAL]),
            open_type=rng.choice(list(OpenType.values)), update_cycle=rng.choice(cycles),
            sensitivity=rng.randint(1, 4), tags=[fake.word()] if rng.random() < 0.3 else [],
            status=ResourceStatus.PUBLISHED if listed else ResourceStatus.DRAFT, is_listed=listed,
            published_on=(dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))) if listed else None,
        )
        r.search_text = build_search_text(r, items)
        batch.append(r)
        if len(batch) >= 1000:
            Resource.objects.bulk_create(batch)
            batch = []
    if batch:
        Resource.objects.bulk_create(batch)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    indexed = rebuild_search_index()
    return {"reader": reader, "generate_s": generated, "index_s": time.perf_counter() - started,
            "indexed": indexed}


def _time_queries(reader: Any, repeat: int, **kw: Any) -> tuple[list[float], dict[str, tuple[int, float]]]:
    from govshare.catalog.search import search_resources

    all_ms: list[float] = []
    per_query: dict[str, tuple[int, float]] = {}
    for q in QUERIES:  # warm-up (jieba, caches, statistics)
        search_resources(user=reader, q=q, filters={}, sort="", cursor=None, limit=20, **kw)
    for q in QUERIES:
        times = []
        total = 0
        for _ in range(repeat):
            started = time.perf_counter()
            result = search_resources(user=reader, q=q, filters={}, sort="", cursor=None, limit=20, **kw)
            times.append((time.perf_counter() - started) * 1000)
            total = result.total
        all_ms.extend(times)
        per_query[q] = (total, statistics.median(times))
    return all_ms, per_query


def markdown(r: dict[str, Any]) -> str:
    f, nf, b = r["search_with_facets"], r["search_without_facets"], r["bare_fulltext"]
    return "\n".join([
        f"### Catalog search — {r['engine']}, {r['resources']:,} resources, {len(r['queries'])} queries × "
        f"{r['repeat']}, peak RSS {r['peak_rss_mb']} MB", "",
        "| query path | p50 ms | p95 ms | max ms | p95 vs bare |", "|---|---:|---:|---:|---:|",
        f"| search_resources with facets (first page of 20) | {f['p50_ms']} | {f['p95_ms']} | {f['max_ms']} | "
        f"{f['p95_ms'] / max(b['p95_ms'], 1e-9):.1f}× |",
        f"| search_resources without facets | {nf['p50_ms']} | {nf['p95_ms']} | {nf['max_ms']} | "
        f"{nf['p95_ms'] / max(b['p95_ms'], 1e-9):.1f}× |",
        f"| baseline: bare full-text query, top 20 by rank | {b['p50_ms']} | {b['p95_ms']} | {b['max_ms']} | 1.0× |"])


def _bare_queries(repeat: int) -> tuple[list[float], dict[str, int]]:
    """The baseline: the same query rendered for the engine, run as one bare full-text query on the same index
    (top 20 by the engine's rank; no visibility rules, no facets, no filters, no keyset paging)."""
    from django.db import connection

    from govshare.catalog.search.text import parse_query, to_fts5, to_tsquery

    if connection.vendor == "postgresql":
        sql = ("SELECT resource_id FROM catalog_search_doc, to_tsquery('simple', %s) q WHERE document @@ q "
               "ORDER BY ts_rank(document, q) DESC LIMIT 20")
        render = to_tsquery
    else:
        sql = ("SELECT d.resource_id FROM catalog_search_fts JOIN catalog_search_doc d ON d.id = "
               "catalog_search_fts.rowid WHERE catalog_search_fts MATCH %s ORDER BY bm25(catalog_search_fts) "
               "LIMIT 20")
        render = to_fts5
    rendered = {q: render(parse_query(q).tree()) for q in QUERIES}
    all_ms: list[float] = []
    hits: dict[str, int] = {}
    with connection.cursor() as cursor:
        for q in QUERIES:
            cursor.execute(sql, [rendered[q]])
            cursor.fetchall()
        for q in QUERIES:
            for _ in range(repeat):
                started = time.perf_counter()
                cursor.execute(sql, [rendered[q]])
                hits[q] = len(cursor.fetchall())
                all_ms.append((time.perf_counter() - started) * 1000)
    return all_ms, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per query")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--db-name", default="govshare_bench_search", help="PostgreSQL database to create and drop")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    tmp = _setup_django(args)

    from django.db import connection

    if connection.vendor == "postgresql":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = args.db_name
    configured_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        built = _generate(args.count, args.seed)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # what autovacuum would do soon after a bulk load
        print(f"backend={connection.vendor} resources={args.count} generate={built['generate_s']:.1f}s "
              f"index={built['index_s']:.1f}s")
        results: dict[str, Any] = {"engine": connection.vendor, "resources": args.count,
                                   "generate_s": round(built["generate_s"], 1), "index_s": round(built["index_s"], 1),
                                   "queries": QUERIES, "repeat": args.repeat}
        for label, kw in (("search_with_facets", {}), ("search_without_facets", {"with_facets": False})):
            all_ms, per_query = _time_queries(built["reader"], args.repeat, **kw)
            results[label] = {"runs": len(all_ms), "p50_ms": round(_percentile(all_ms, 50), 2),
                              "p95_ms": round(_percentile(all_ms, 95), 2), "max_ms": round(max(all_ms), 2),
                              "per_query": {q: {"hits": t, "p50_ms": round(m, 2)} for q, (t, m) in per_query.items()}}
            print(f"\n{label}: {len(all_ms)} runs  p50={_percentile(all_ms, 50):.1f} ms  "
                  f"p95={_percentile(all_ms, 95):.1f} ms  max={max(all_ms):.1f} ms")
            if not kw:
                for q, (total, median) in per_query.items():
                    print(f"  {q:<8}{total:>7} hits  p50 {median:7.1f} ms")
        bare_ms, _hits = _bare_queries(args.repeat)
        results["bare_fulltext"] = {"runs": len(bare_ms), "p50_ms": round(_percentile(bare_ms, 50), 2),
                                    "p95_ms": round(_percentile(bare_ms, 95), 2), "max_ms": round(max(bare_ms), 2)}
        print(f"\nbare full-text query (baseline): p50={results['bare_fulltext']['p50_ms']} ms  "
              f"p95={results['bare_fulltext']['p95_ms']} ms")
        import resource

        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        results["markdown"] = markdown(results)
        if args.json:
            import json

            Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(configured_name, verbosity=0)
        if tmp is not None and not args.keep:
            for f in tmp.glob("*"):
                f.unlink()
            tmp.rmdir()


if __name__ == "__main__":
    main()
