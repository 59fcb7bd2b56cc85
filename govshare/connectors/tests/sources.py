"""Real source databases for connector tests: a 前置库 table of people in PostgreSQL, MariaDB or SQLite.

PostgreSQL: a throwaway database per test session (dropped at the end); MariaDB: the ``test`` database with a
uniquely named table per test (dropped after); SQLite: a file in a per-test allowed directory. A server that
does not answer skips the test, unless the ``CI`` environment variable is set, then it fails.
"""

# ruff: noqa: S608  (SQL built from test table names generated here)

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pymysql
import pytest

from govshare.core.identifiers import make_resident_id

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
ZONE = ZoneInfo("Asia/Shanghai")
BASE = dt.datetime(2025, 1, 1, 8, 0, 0)
COLUMN_MAP = {"sfzh": "id_number", "xm": "person_name", "xb": "gender", "csrq": "birth_date", "xzz": "current_address"}


def require_server(host: str, port: int, what: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=1.5):
            return
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"{what} at {host}:{port} is not reachable (CI is set)")
        pytest.skip(f"{what} at {host}:{port} is not reachable")


def rid(n: int) -> str:
    return make_resident_id("445102", dt.date(1980, 1, 1) + dt.timedelta(days=n % 5000), n % 1000)


def person(n: int, *, minutes: float | None = None, name: str | None = None) -> tuple[Any, ...]:
    """(sfzh, xm, xb, csrq, xzz, gxsj) — gxsj 更新时间 is BASE + ``minutes`` (default n) minutes, naive local."""
    stamp = BASE + dt.timedelta(minutes=n if minutes is None else minutes)
    return (rid(n), name or f"张{n}", "男" if n % 2 else "女", dt.date(1980, 1, 1) + dt.timedelta(days=n % 5000),
            f"广东省潮州市湘桥区西马路{n}号", stamp)


def expected(row: Sequence[Any]) -> dict[str, Any]:
    """What the platform should hold for a source row."""
    return {"id_number": row[0], "person_name": row[1], "gender": row[2], "birth_date": row[3].isoformat(),
            "current_address": row[4]}


class Source:
    """One people table in one engine; ``gxsj`` (更新时间) is the incremental column."""

    engine: str
    mark = "%s"

    def __init__(self) -> None:
        self.table = f"rk_{uuid.uuid4().hex[:10]}"  # 人口 staging table, unique per test

    # -- to override ----------------------------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def ddl(self) -> str:
        raise NotImplementedError

    def stamp(self, value: dt.datetime) -> Any:
        return value

    def endpoint(self) -> dict[str, Any]:
        raise NotImplementedError

    def drop(self) -> None:
        self.run(f"DROP TABLE IF EXISTS {self.table}")

    # -- shared ---------------------------------------------------------------------------------
    def run(self, sql: str, params: Sequence[Any] | Iterable[Sequence[Any]] = (), *, many: bool = False) -> None:
        conn = self.connect()
        try:
            cur = conn.cursor()
            if many:
                cur.executemany(sql, list(params))  # type: ignore[arg-type]
            else:
                cur.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    def create(self, rows: Iterable[Sequence[Any]] = ()) -> Source:
        self.run(self.ddl())
        self.insert(rows)
        return self

    def insert(self, rows: Iterable[Sequence[Any]]) -> None:
        rows = [(*r[:5], self.stamp(r[5])) for r in rows]
        if rows:
            m = self.mark
            self.run(f"INSERT INTO {self.table} (sfzh, xm, xb, csrq, xzz, gxsj) VALUES ({m}, {m}, {m}, {m}, {m}, {m})",
                     rows, many=True)

    def update_name(self, key: str, name: str, *, stamp: dt.datetime | None = None) -> None:
        m = self.mark
        if stamp is None:  # drift: the value changes, the 更新时间 does not
            self.run(f"UPDATE {self.table} SET xm = {m} WHERE sfzh = {m}", (name, key))
        else:
            self.run(f"UPDATE {self.table} SET xm = {m}, gxsj = {m} WHERE sfzh = {m}", (name, self.stamp(stamp), key))

    def delete(self, keys: Iterable[str]) -> None:
        self.run(f"DELETE FROM {self.table} WHERE sfzh = {self.mark}", [(k,) for k in keys], many=True)

    def rows(self) -> dict[str, tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT sfzh, xm, xb, csrq, xzz, gxsj FROM {self.table}")
            out = {}
            for r in cur.fetchall():
                csrq = r[3] if isinstance(r[3], dt.date) else dt.date.fromisoformat(str(r[3]))
                out[r[0]] = (r[0], r[1], r[2], csrq, r[4], r[5])
            return out
        finally:
            conn.close()


class PgSource(Source):
    engine = "postgresql"

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database

    def connect(self) -> Any:
        return psycopg.connect(dbname=self.database, connect_timeout=5, **PG)

    def ddl(self) -> str:
        return (f"CREATE TABLE {self.table} (sfzh varchar(18) PRIMARY KEY, xm varchar(50) NOT NULL, xb varchar(4), "
                "csrq date, xzz varchar(200), gxsj timestamptz NOT NULL)")

    def stamp(self, value: dt.datetime) -> Any:
        return value.replace(tzinfo=ZONE)

    def endpoint(self) -> dict[str, Any]:
        return {"engine": "postgresql", "host": "127.0.0.1", "port": 5432, "database": self.database,
                "user": "postgres", "password": "pg-Conn-Secret-771"}


class MySource(Source):
    engine = "mysql"

    def connect(self) -> Any:
        return pymysql.connect(charset="utf8mb4", connect_timeout=5, **MY)  # type: ignore[arg-type]

    def ddl(self) -> str:
        return (f"CREATE TABLE {self.table} (sfzh varchar(18) PRIMARY KEY, xm varchar(50) NOT NULL, xb varchar(4), "
                "csrq date, xzz varchar(200), gxsj datetime(6) NOT NULL) DEFAULT CHARSET=utf8mb4")

    def endpoint(self) -> dict[str, Any]:
        return {"engine": "mysql", "host": "127.0.0.1", "port": 3306, "database": "test", "user": "root",
                "password": ""}


class LiteSource(Source):
    engine = "sqlite"
    mark = "?"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.path = directory / "qianzhiku.sqlite3"

    def connect(self) -> Any:
        return sqlite3.connect(self.path)

    def ddl(self) -> str:
        return (f"CREATE TABLE {self.table} (sfzh TEXT PRIMARY KEY, xm TEXT NOT NULL, xb TEXT, csrq TEXT, xzz TEXT, "
                "gxsj TEXT NOT NULL)")

    def stamp(self, value: dt.datetime) -> Any:
        return value.isoformat(sep=" ")

    def endpoint(self) -> dict[str, Any]:
        return {"engine": "sqlite", "host": "", "port": None, "database": str(self.path), "user": "", "password": ""}

    def insert(self, rows: Iterable[Sequence[Any]]) -> None:
        super().insert([(*r[:3], r[3].isoformat(), *r[4:]) for r in rows])


def create_pg_database(prefix: str = "gs_conn_src") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
