"""Demo: a provider department's 前置库 (a SQLite file under ``<home>/connect``) and a connector pulling from it.

:func:`build_demo_connector` writes a staging table shaped like the dataset's columns plus ``gxsj`` (更新时间),
filled with every record the platform already holds (as a department's staging database would be) plus a few
new records, and one record whose value changed without its 更新时间 moving (so the reconciliation report has
something to show). It lists 127.0.0.1 on the node's allowlist (connector purpose) for a local server-based
前置库, registers the connector and — with ``run=True`` — runs one pull and one reconciliation at once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.utils import timezone

from govshare.catalog.choices import DataType, Validator
from govshare.connectors import services
from govshare.connectors.config import Config
from govshare.connectors.dispatch import execute, start_run
from govshare.connectors.drivers import quote_ident
from govshare.connectors.leases import worker_id
from govshare.connectors.models import SourceConnector
from govshare.core.errors import Conflict
from govshare.core.identifiers import make_resident_id, make_uscc
from govshare.datasets.changes import iter_live_records
from govshare.datasets.models import Dataset
from govshare.datasets.validation import CellError, Column, build_checker, columns_for
from govshare.registry.services import add_allowed_host

DEMO_ACTOR = "demo"
DEMO_NAME = "前置库增量同步（演示）"


def _candidates(col: Column, n: int) -> Iterator[Any]:
    """Plausible raw values for a column; each is checked by the column's own checker before use."""
    if col.validator == Validator.RESIDENT_ID:
        yield make_resident_id("445102", dt.date(2001, 1, 1) + dt.timedelta(days=n), 900 + n % 99)
    elif col.validator == Validator.USCC:
        yield make_uscc("9", "1", "445100", f"D{n:07d}"[-8:])
    elif col.validator == Validator.MOBILE:
        yield f"139{n:08d}"
    if col.enum_values:
        first = col.enum_values[n % len(col.enum_values)]
        yield first.get("code") if isinstance(first, dict) else first
    typed: dict[str, Any] = {
        DataType.INTEGER: n, DataType.DECIMAL: f"{n}.50", DataType.DATE: (dt.date(2020, 1, 1) + dt.timedelta(days=n)),
        DataType.DATETIME: dt.datetime(2024, 1, 1, 9, 0) + dt.timedelta(hours=n), DataType.BOOLEAN: n % 2 == 0,
    }
    yield typed.get(col.data_type, f"{col.name}{n}"[: col.length or 50])


def _value(col: Column, n: int) -> str | None:
    check = build_checker(col)
    try:
        for raw in _candidates(col, n):
            try:
                return check(raw)
            except CellError:
                continue
    except ValueError:  # an identifier helper refused the generated parts
        return None
    return None


def _new_records(columns: list[Column], key: str, taken: set[str], count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n in itertools.count(1):
        if len(out) >= count or n > count * 20:
            break
        record = {c.column_name: _value(c, n) for c in columns}
        if any(record[c.column_name] is None for c in columns if c.required) or record[key] in taken:
            continue
        taken.add(str(record[key]))
        out.append(record)
    return out


def _write_source(path: Path, table: str, columns: list[Column], rows: list[dict[str, Any]],
                  stamps: list[str]) -> None:
    names = [c.column_name for c in columns]
    cols = ", ".join(f"{quote_ident('sqlite', n)} TEXT" for n in names)
    marks = ", ".join("?" * (len(names) + 1))
    quoted = ", ".join(quote_ident("sqlite", n) for n in names)
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({cols}, gxsj TEXT NOT NULL)")
        conn.executemany(f"INSERT INTO {table} ({quoted}, gxsj) VALUES ({marks})",  # noqa: S608 - quoted names
                         [[r.get(n) for n in names] + [s] for r, s in zip(rows, stamps, strict=True)])
        conn.execute(f"CREATE INDEX {table}_gxsj ON {table} (gxsj)")
        conn.commit()
    finally:
        conn.close()


def build_demo_connector(*, dataset: Dataset, actor: Any, home: Path, new_rows: int = 20, drift: bool = True,
                         run: bool = True) -> SourceConnector:
    """Create the demo 前置库 file for ``dataset`` under ``home/connect`` and a connector pulling from it.

    The 前置库 holds every record the platform holds (a reconciliation against a partial copy would delete the
    rest), so pick a dataset of modest size; ``home/connect`` must be inside ``SQLITE_CONNECTOR_DIRS`` (the
    default is ``<GOVSHARE_HOME>/connect``)."""
    dataset = Dataset.objects.select_related("resource", "resource__published_version").get(pk=dataset.pk)
    existing = SourceConnector.objects.filter(dataset=dataset, name=DEMO_NAME).first()
    if existing is not None:  # built already (idempotent)
        return existing
    columns = columns_for(dataset.resource)
    key = dataset.key_column
    directory = Path(home) / "connect"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"qzk_{dataset.resource.sequence:06d}.sqlite3"
    table = "qzk_sjjh"  # 前置库_数据交换

    held = [data for _key, data in iter_live_records(dataset=dataset)]
    fresh = _new_records(columns, key, {str(r[key]) for r in held}, new_rows)
    now = timezone.localtime().replace(microsecond=0, tzinfo=None)
    old = now - dt.timedelta(days=2)
    stamps = [(old + dt.timedelta(seconds=i)).isoformat(sep=" ") for i in range(len(held))]
    stamps += [(now - dt.timedelta(minutes=len(fresh) - i)).isoformat(sep=" ") for i in range(len(fresh))]
    source_rows = [dict(r) for r in held] + fresh
    _write_source(path, table, columns, source_rows, stamps)

    try:
        add_allowed_host(actor=DEMO_ACTOR, node=dataset.node, host="127.0.0.1", purpose="connector",
                         note="演示：本机前置库 (demo: local staging databases)")
    except Conflict:
        pass
    connector = services.create_connector(actor=actor, dataset=dataset, config=Config(
        name=DEMO_NAME, engine="sqlite", database=str(path), source_table=table,
        incremental_column="gxsj", page_size=200))
    if not run:
        return connector
    owner = worker_id()
    _run_once(connector, "pull", owner, actor)
    if drift and held:
        _drift(path, table, columns, key, held[0])
    _run_once(connector, "reconcile", owner, actor)
    connector.refresh_from_db()
    return connector


def _drift(path: Path, table: str, columns: list[Column], key: str, record: dict[str, Any]) -> None:
    """Correct one text value at the source without touching 更新时间: only the reconciliation sees it."""
    col = next((c for c in columns if c.data_type == DataType.STRING and not c.is_key and not c.validator
                and not c.enum_values and (c.length or 50) >= 4), None)
    if col is None:
        return
    value = ("源端已更正" + str(record.get(col.column_name) or ""))[: col.length or 50]
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"UPDATE {table} SET {quote_ident('sqlite', col.column_name)} = ? "  # noqa: S608 - quoted
                     f"WHERE {quote_ident('sqlite', key)} = ?", [value, record[key]])
        conn.commit()
    finally:
        conn.close()


def _run_once(connector: SourceConnector, kind: str, owner: str, actor: Any) -> None:
    services.request_run(actor=actor, connector=connector, kind=kind)
    started = start_run(connector.pk, owner)
    if started is not None:
        execute(started, owner=owner, deadline=time.monotonic() + 600)
