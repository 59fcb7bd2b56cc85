"""DB-API access to departments' databases (前置库 / 中间库): PostgreSQL (psycopg 3), MySQL / MariaDB (PyMySQL)
and SQLite (sqlite3). Used by source connectors and by subscription table sinks.

Every connection is checked by :mod:`govshare.registry.netpolicy` first (the allowlist kept by ``sys_admin``;
SQLite files only inside ``SQLITE_CONNECTOR_DIRS``) and then made to the address the check resolved, so a
changed DNS answer cannot redirect it. Passwords never appear in logs, reprs or error messages.

Identifiers: letters (Chinese included), digits and ``_``, at most 63 UTF-8 bytes (PostgreSQL's limit), always
quoted; a table may be ``schema.table``. Quotes, spaces, dots inside a name and every other character are
refused, so a name can never break out of its quotes.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql  # type: ignore[import-untyped,unused-ignore]
from django.conf import settings

from govshare.core.errors import DomainError, ValidationFailed
from govshare.registry import netpolicy

ENGINES = ("postgresql", "mysql", "sqlite")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
IDENT_MAX_BYTES = 63
PG_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
DEFAULT_READ_TIMEOUT = 300

_IDENT = re.compile(r"\w+")


class ConnectionFailed(DomainError):
    """The database could not be reached or refused the login (the message never carries the password)."""

    status = 502
    code = "connection_failed"


@dataclass(frozen=True)
class Endpoint:
    engine: str  # "postgresql" | "mysql" | "sqlite"
    host: str
    port: int | None
    database: str  # database name; for SQLite the file path
    user: str
    password: str = field(repr=False)
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_port(self) -> int | None:
        return self.port or DEFAULT_PORTS.get(self.engine)


def _check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValidationFailed(f"不支持的数据库类型 {engine} (unsupported engine; one of {', '.join(ENGINES)})",
                               field="engine")
    return engine


def quote_ident(engine: str, name: str) -> str:
    """Validate one identifier and quote it for ``engine`` (``"name"``, MySQL `` `name` ``)."""
    _check_engine(engine)
    if not isinstance(name, str) or not _IDENT.fullmatch(name) or len(name.encode("utf-8")) > IDENT_MAX_BYTES:
        raise ValidationFailed(f"标识符无效: {str(name)[:80]!r}（只允许字母、汉字、数字和下划线，"
                               f"最多 {IDENT_MAX_BYTES} 字节） (invalid identifier: letters, digits and _ only)",
                               field="identifier",
                               details={"identifier": str(name)[:80]})
    return f"`{name}`" if engine == "mysql" else f'"{name}"'


def quote_table(engine: str, name: str) -> str:
    """A table name, optionally ``schema.table`` (MySQL: ``database.table``), each part validated and quoted."""
    parts = name.split(".") if isinstance(name, str) else [name]
    if not 1 <= len(parts) <= 2:
        raise ValidationFailed(f"表名无效: {str(name)[:80]!r} (invalid table name)", field="table")
    return ".".join(quote_ident(engine, p) for p in parts)


def placeholder(engine: str) -> str:
    """The DB-API parameter marker: ``%s`` for psycopg and PyMySQL, ``?`` for sqlite3."""
    return "?" if _check_engine(engine) == "sqlite" else "%s"


def upsert_sql(engine: str, table: str, columns: Sequence[str], key_column: str) -> str:
    """Insert a row or update it by ``key_column`` (which must have a unique index on the target table).

    PostgreSQL and SQLite (3.24+): ``ON CONFLICT (key) DO UPDATE SET c = excluded.c``; MySQL / MariaDB:
    ``ON DUPLICATE KEY UPDATE c = VALUES(c)`` (the form both MySQL 8 and MariaDB accept)."""
    if key_column not in columns:
        raise ValidationFailed("主键列必须在列清单中 (the key column must be among the columns)", field="key_column")
    cols = [quote_ident(engine, c) for c in columns]
    key = quote_ident(engine, key_column)
    marks = ", ".join([placeholder(engine)] * len(cols))
    head = f"INSERT INTO {quote_table(engine, table)} ({', '.join(cols)}) VALUES ({marks})"  # noqa: S608 - quoted identifiers
    others = [c for c in cols if c != key]
    if engine == "mysql":
        sets = ", ".join(f"{c} = VALUES({c})" for c in others) or f"{key} = {key}"
        return f"{head} ON DUPLICATE KEY UPDATE {sets}"
    if not others:
        return f"{head} ON CONFLICT ({key}) DO NOTHING"
    sets = ", ".join(f"{c} = excluded.{c}" for c in others)
    return f"{head} ON CONFLICT ({key}) DO UPDATE SET {sets}"


def delete_sql(engine: str, table: str, key_column: str) -> str:
    key = quote_ident(engine, key_column)
    return f"DELETE FROM {quote_table(engine, table)} WHERE {key} = {placeholder(engine)}"  # noqa: S608 - quoted


def _scrub(text: str, endpoint: Endpoint) -> str:
    if endpoint.password:
        text = text.replace(endpoint.password, "******")
    return text[:500]


def _fail(endpoint: Endpoint, exc: BaseException) -> ConnectionFailed:
    where = endpoint.database if endpoint.engine == "sqlite" else f"{endpoint.host}:{endpoint.effective_port}"
    reason = _scrub(str(exc).strip() or type(exc).__name__, endpoint)
    return ConnectionFailed(f"无法连接数据库 {where}: {reason} (connection failed)",
                            details={"engine": endpoint.engine, "reason": reason})


def connect(endpoint: Endpoint, *, purpose: str, node: Any = None, timeout: float = 10.0, readonly: bool = False,
            autocommit: bool = False) -> Any:
    """Open a DB-API connection after the outbound check (:mod:`govshare.registry.netpolicy`).

    ``readonly`` makes the session read-only where the engine can (PostgreSQL ``default_transaction_read_only``,
    MySQL ``SET SESSION TRANSACTION READ ONLY``, SQLite ``mode=ro``) — a second line of defence behind the
    read-only account the docs ask for. Raises ``ValidationFailed(field="host" | "database")`` when the
    destination is not allowed and :class:`ConnectionFailed` when it cannot be reached."""
    engine = _check_engine(endpoint.engine)
    if engine == "sqlite":
        return _connect_sqlite(endpoint, timeout=timeout, readonly=readonly, autocommit=autocommit)
    port = endpoint.effective_port
    addresses = netpolicy.check_host(endpoint.host, port, purpose=purpose, node=node, field="host")
    if engine == "postgresql":
        return _connect_postgresql(endpoint, addresses, timeout=timeout, readonly=readonly, autocommit=autocommit)
    return _connect_mysql(endpoint, addresses, timeout=timeout, readonly=readonly, autocommit=autocommit)


def _connect_sqlite(endpoint: Endpoint, *, timeout: float, readonly: bool, autocommit: bool) -> Any:
    path = netpolicy.check_sqlite_path(endpoint.database, field="database")
    if readonly and not path.exists():
        raise ValidationFailed(f"SQLite 文件不存在: {endpoint.database} (no such database file)", field="database")
    mode = "ro" if readonly else "rwc"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode={mode}", uri=True, timeout=timeout,
                               isolation_level=None if autocommit else "DEFERRED", check_same_thread=False)
        conn.execute("PRAGMA query_only = ON" if readonly else "PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise _fail(endpoint, exc) from None
    return conn


def _connect_postgresql(endpoint: Endpoint, addresses: list[str], *, timeout: float, readonly: bool,
                        autocommit: bool) -> Any:
    sslmode = endpoint.options.get("sslmode") or "prefer"
    if sslmode not in PG_SSLMODES:
        raise ValidationFailed(f"sslmode 无效: {sslmode} (invalid sslmode)", field="options")
    server_options = "-c default_transaction_read_only=on" if readonly else ""
    last: BaseException | None = None
    for address in addresses:
        try:
            return psycopg.connect(
                host=endpoint.host, hostaddr=address, port=endpoint.effective_port, dbname=endpoint.database,
                user=endpoint.user, password=endpoint.password, connect_timeout=max(1, round(timeout)),
                sslmode=sslmode, application_name="govshare", options=server_options, autocommit=autocommit,
            )
        except psycopg.Error as exc:
            last = exc
    raise _fail(endpoint, last or OSError("no address"))


def _connect_mysql(endpoint: Endpoint, addresses: list[str], *, timeout: float, readonly: bool,
                   autocommit: bool) -> Any:
    read_timeout = int(settings.GOVSHARE.get("CONNECTOR_READ_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT))
    last: BaseException | None = None
    for address in addresses:
        try:
            conn = pymysql.connect(
                host=address, port=endpoint.effective_port or 3306, user=endpoint.user, password=endpoint.password,
                database=endpoint.database, charset="utf8mb4", connect_timeout=max(1, round(timeout)),
                read_timeout=max(read_timeout, round(timeout)), write_timeout=max(read_timeout, round(timeout)),
                autocommit=autocommit, program_name="govshare",
            )
        except pymysql.MySQLError as exc:
            last = exc
            continue
        if readonly:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        return conn
    raise _fail(endpoint, last or OSError("no address"))


def driver_errors() -> tuple[type[BaseException], ...]:
    """The exception classes the three drivers raise for database errors (for callers' ``except``)."""
    return (psycopg.Error, pymysql.MySQLError, sqlite3.Error)


def scrub_error(exc: BaseException, endpoint: Endpoint) -> str:
    """A driver error as text for the user, without the password."""
    return _scrub(str(exc).strip() or type(exc).__name__, endpoint)
