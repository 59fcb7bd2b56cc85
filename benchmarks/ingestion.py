"""Ingestion with validation (datasets services) against a raw bulk load of the same rows (DESIGN.md §7).

    python benchmarks/ingestion.py --rows 1000000 --pg postgres://postgres@127.0.0.1:5432/postgres
    options: --json out.json

- ``load_rows``: :func:`govshare.datasets.services.load_rows` into a freshly mounted population resource: every
  row validated (身份证号 checksum and area code, required items, types), staged, swapped in as the new
  generation, each row a change in the change log, the upload audited — the path of ``govshare dataset load``.
- baseline: the same rows (key + JSON document) written raw into a table shaped like the record table
  (``CREATE TABLE … (LIKE datasets_datasetrecord INCLUDING ALL)``: same columns, same unique index): ``COPY``
  on PostgreSQL, ``executemany`` INSERT in one transaction on SQLite. No validation, no change log.

Rows are generated before either clock starts. Peak memory is ru_maxrss of this process after each phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import drop_database, engine_version, machine, peak_rss_mb, setup_database, write_json  # noqa: E402


def _people(rows: int) -> list[dict[str, Any]]:
    from govshare.core.identifiers import make_resident_id

    base = dt.date(1940, 1, 1)
    districts = ["445102", "445103", "445122"]
    out = []
    for n in range(rows):
        area = districts[n % 3]
        out.append({"id_number": make_resident_id(area, base + dt.timedelta(days=n // 800), n % 800 + 100),
                    "person_name": f"张{n}", "gender": "男" if n % 2 else "女", "mobile": f"13{n % 10}{n:08d}",
                    "current_address": f"广东省潮州市{'湘桥区' if n % 10 else '潮安区'}西马路{n}号"})
    return out


def _dataset() -> tuple[Any, Any]:
    from govshare import testing
    from govshare.accounts.choices import Role
    from govshare.catalog.services import ItemSpec
    from govshare.datasets.services import mount_resource

    city = testing.node("445100", name="潮州市", level="city")
    office = testing.user(Role.DATA_OFFICE, at=city, dept=testing.department(city, name="市政务服务数据管理局",
                                                                             is_data_office=True))
    provider = testing.user(Role.PROVIDER, dept=testing.department(city, name="市公安局"))
    items = [ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
             ItemSpec(name="姓名", element_code="DE0002", required=True), ItemSpec(name="性别", element_code="DE0003"),
             ItemSpec(name="现住址", element_code="DE0007"), ItemSpec(name="手机号码", element_code="DE0008")]
    resource = testing.resource(provider.department, items=items, share_modes=["api"], publish_by=office)
    return provider, mount_resource(actor=provider, resource=resource)


def _raw(people: list[dict[str, Any]], dataset_id: Any) -> float:
    from django.db import connection, transaction

    from govshare.datasets.models import DatasetRecord

    table = DatasetRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE bench_raw (LIKE {table} INCLUDING ALL)")
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL", [table])
            for (ddl,) in cursor.fetchall():
                ddl = ddl.replace(f'"{table}"', '"bench_raw"')
                ddl = ddl.replace("CREATE UNIQUE INDEX \"", "CREATE UNIQUE INDEX \"bench_raw_")
                ddl = ddl.replace("CREATE INDEX \"", "CREATE INDEX \"bench_raw_")
                cursor.execute(ddl)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy("COPY bench_raw (dataset_id, generation, key, data) FROM STDIN") as copy:
                for p in people:
                    copy.write_row((dataset_id, 1, p["id_number"], json.dumps(p, ensure_ascii=False)))
        else:
            cursor.executemany("INSERT INTO bench_raw (dataset_id, generation, key, data) VALUES (%s, %s, %s, %s)",
                               [(dataset_id, 1, p["id_number"], json.dumps(p, ensure_ascii=False)) for p in people])
    return time.perf_counter() - started


def run(rows: int) -> dict[str, Any]:
    from govshare.datasets.services import load_rows

    started = time.perf_counter()
    people = _people(rows)
    generate_s = time.perf_counter() - started
    provider, dataset = _dataset()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    up = load_rows(actor=provider, dataset=dataset, rows=people)
    load_s = time.perf_counter() - started
    rss_load = peak_rss_mb()
    if up.status != "applied" or up.rows_valid != rows:
        raise RuntimeError(f"load_rows: {up.status} {up.rows_valid}/{rows} {up.problems[:3]}")
    from django.db import connection

    raw_s = _raw(people, type(dataset)._meta.pk.get_db_prep_value(dataset.pk, connection))
    result = {"engine": engine_version(), "rows": rows, "generate_s": round(generate_s, 2),
              "load_rows": {"seconds": round(load_s, 2), "rows_per_min": round(rows / load_s * 60)},
              "raw_bulk": {"method": "COPY" if "postgresql" in engine_version() else "executemany",
                           "seconds": round(raw_s, 2), "rows_per_min": round(rows / raw_s * 60)},
              "ratio": round(raw_s / load_s, 3),
              "peak_rss_mb": {"before_load": rss_before, "after_load_rows": rss_load, "end": peak_rss_mb()},
              "machine": machine()}
    return result


def markdown(r: dict[str, Any]) -> str:
    return "\n".join([
        f"### Ingestion — {r['engine']}, {r['rows']:,} rows", "",
        "| path | seconds | rows/min | peak RSS MB |", "|---|---:|---:|---:|",
        f"| load_rows (validated, staged, change log, audited) | {r['load_rows']['seconds']} | "
        f"{r['load_rows']['rows_per_min']:,} | {r['peak_rss_mb']['after_load_rows']} |",
        f"| baseline: raw {r['raw_bulk']['method']} | {r['raw_bulk']['seconds']} | "
        f"{r['raw_bulk']['rows_per_min']:,} | {r['peak_rss_mb']['end']} |",
        f"| ratio (validated / raw throughput) | | {r['ratio']:.2f} | |"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg")
    parser.add_argument("--db-prefix", default="govshare_bench_ingest")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    dbname = setup_database(args.pg, args.db_prefix)
    try:
        result = run(args.rows)
    finally:
        from govshare.audit.writer import stop_writer

        stop_writer()
        drop_database(args.pg, dbname)
    result["markdown"] = markdown(result)
    write_json(args.json, result)
    print(result["markdown"])


if __name__ == "__main__":
    main()
