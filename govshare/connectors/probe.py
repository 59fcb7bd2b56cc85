"""Testing a connection: reach the database (after the allowlist), read the source's columns without reading
rows, and check that every column the connector selects exists. Nothing is written anywhere."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import pymysql  # type: ignore[import-untyped,unused-ignore]

from govshare.connectors.drivers import ConnectionFailed, Endpoint, connect, driver_errors, scrub_error
from govshare.connectors.source import SourcePlan


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str
    field: str | None = None  # the input to fix when not ok
    server_version: str = ""
    columns: tuple[str, ...] = ()
    elapsed_ms: int = 0


def server_version(conn: Any) -> str:
    if isinstance(conn, sqlite3.Connection):
        return f"SQLite {sqlite3.sqlite_version}"
    if isinstance(conn, psycopg.Connection):
        v = conn.info.server_version
        return f"PostgreSQL {v // 10000}.{v % 10000}"
    if isinstance(conn, pymysql.connections.Connection):
        return f"MySQL {conn.get_server_info()}"
    return ""


def probe(endpoint: Endpoint, plan: SourcePlan, *, node: Any, timeout: float = 10.0) -> ConnectionReport:
    """Connect and check the source. An allowlist refusal raises ``ValidationFailed`` (field ``host`` or
    ``database``); every other problem is reported with ``ok=False`` and the field to fix."""
    started = time.monotonic()

    def done(ok: bool, message: str, fld: str | None = None, version: str = "",
             columns: list[str] | None = None) -> ConnectionReport:
        return ConnectionReport(ok=ok, message=message, field=fld, server_version=version, columns=tuple(columns or ()),
                                elapsed_ms=round((time.monotonic() - started) * 1000))

    try:
        conn = connect(endpoint, purpose="connector", node=node, timeout=timeout, readonly=True, autocommit=True)
    except ConnectionFailed as exc:
        return done(False, exc.message, "database" if endpoint.engine == "sqlite" else "host")
    relation_field = "source_query" if plan.relation.startswith("(") else "source_table"
    try:
        version = server_version(conn)
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT * FROM {plan.relation} src WHERE 1 = 0")  # noqa: S608 - quoted / validated
            available = [str(d[0]) for d in cur.description or ()]
        except driver_errors() as exc:
            return done(False, f"无法读取数据源: {scrub_error(exc, endpoint)} (cannot read the source)",
                        relation_field, version)
        fold = endpoint.engine != "postgresql"  # MySQL and SQLite column names are case-insensitive
        have = {c.casefold() if fold else c for c in available}
        missing = [c for c in plan.columns if (c.casefold() if fold else c) not in have]
        if missing:
            fld = "column_map"
            if plan.columns[plan.key_index] in missing:
                fld = "key_column"
            elif plan.inc_index is not None and plan.columns[plan.inc_index] in missing:
                fld = "incremental_column"
            return done(False, f"数据源缺少列: {', '.join(missing)}（现有列: {', '.join(available)}） "
                               "(columns missing in the source)", fld, version, available)
        try:
            cur.execute(plan.probe_sql())
        except driver_errors() as exc:
            return done(False, f"无法读取数据源: {scrub_error(exc, endpoint)} (cannot read the source)",
                        relation_field, version, available)
        return done(True, f"连接成功 ({version})", None, version, available)
    finally:
        try:
            conn.close()
        except driver_errors():
            pass
