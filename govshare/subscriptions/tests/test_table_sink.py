"""Table sinks (库表推送) into real databases: SQLite (in the allowed directory), PostgreSQL (a throwaway
schema) and MariaDB (database ``test``, a unique table). The final table equals the granted, masked, filtered
view. The server-backed cases are skipped when the server is unreachable, unless ``CI`` is set."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from govshare.conftest import client_for
from govshare.subscriptions.delivery import deliver_due
from govshare.subscriptions.models import Delivery, Subscription
from govshare.subscriptions.tests.test_webhook import some_changes
from govshare.subscriptions.tests.world import (
    World,
    run_until_idle,
)

pytestmark = pytest.mark.django_db
COLUMNS = ["id_number", "person_name", "gender", "current_address"]


@dataclass
class Sink:
    body: dict[str, Any]  # the API fields of the sink
    create_table: Callable[[], None]
    rows: Callable[[], dict[str, dict[str, Any]]]


def _unreachable(what: str, exc: Exception) -> None:
    if os.environ.get("CI"):
        raise AssertionError(f"{what} is required on CI: {exc}")
    pytest.skip(f"{what} not reachable: {exc}")


def _rows(cursor: Any, table: str) -> dict[str, dict[str, Any]]:
    cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {table}")  # noqa: S608 - test table names
    return {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in cursor.fetchall()}


@pytest.fixture
def sqlite_sink(tmp_path: Path, settings: Any) -> Sink:
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(tmp_path)]}
    path = tmp_path / "consumer_front.sqlite3"
    sqlite3.connect(path).close()

    def create() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute('CREATE TABLE "people" (id_number TEXT PRIMARY KEY, person_name TEXT, gender TEXT, '
                         "current_address TEXT)")

    def rows() -> dict[str, dict[str, Any]]:
        with sqlite3.connect(path) as conn:
            return _rows(conn.cursor(), "people")

    return Sink({"engine": "sqlite", "database": str(path), "table": "people", "key_column": "id_number"},
                create, rows)


@pytest.fixture
def postgres_sink() -> Iterator[Sink]:
    try:
        conn = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True,
                               connect_timeout=3)
    except psycopg.Error as exc:
        _unreachable("PostgreSQL", exc)
    schema = f"gs_sink_{uuid.uuid4().hex[:10]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')

    def create() -> None:
        conn.execute(f'CREATE TABLE "{schema}"."people" (id_number varchar(128) PRIMARY KEY, person_name text, '
                     "gender text, current_address text)")

    def rows() -> dict[str, dict[str, Any]]:
        with conn.cursor() as cur:
            return _rows(cur, f'"{schema}"."people"')

    try:
        yield Sink({"engine": "postgresql", "host": "127.0.0.1", "port": 5432, "database": "postgres",
                    "user": "postgres", "password": "", "table": f"{schema}.people", "key_column": "id_number"},
                   create, rows)
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture
def mariadb_sink() -> Iterator[Sink]:
    try:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                               charset="utf8mb4", autocommit=True, connect_timeout=3)
    except pymysql.MySQLError as exc:
        _unreachable("MariaDB", exc)
    table = f"gs_sink_{uuid.uuid4().hex[:10]}"

    def create() -> None:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{table}` (id_number varchar(128) PRIMARY KEY, person_name text, "
                        "gender text, current_address text) DEFAULT CHARSET=utf8mb4")

    def rows() -> dict[str, dict[str, Any]]:
        with conn.cursor() as cur:
            return _rows(cur, f"`{table}`")

    try:
        yield Sink({"engine": "mysql", "host": "127.0.0.1", "port": 3306, "database": "test", "user": "root",
                    "password": "", "table": table, "key_column": "id_number"}, create, rows)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
        conn.close()


@pytest.mark.parametrize("sink_name", ["sqlite_sink", "postgres_sink", "mariadb_sink"])
def test_table_sink_holds_the_granted_view(world: World, sink_name: str, request: pytest.FixtureRequest) -> None:
    sink: Sink = request.getfixturevalue(sink_name)
    world.allow(purpose="connector")
    body = {"grant_id": str(world.grant.pk), "name": "人社前置库", "kind": "table", "batch_size": 4, **sink.body}
    resp = client_for(world.consumer).post("/api/v1/subscriptions", body, content_type="application/json")
    assert resp.status_code == 201, resp.content
    created = resp.json()
    assert created["secret"] is None and "password" not in created and created["table"] == sink.body["table"]
    # The consumer has not created its table yet: the batch fails (and is kept in flight), nothing is lost.
    assert deliver_due() == {"failed": 1}
    sub = Subscription.objects.get(pk=created["id"])
    assert sub.in_flight is not None and "sink write failed" in sub.last_error
    sink.create_table()
    run_until_idle(deliver_due)
    assert sink.rows() == world.granted_view()
    some_changes(world)
    run_until_idle(deliver_due)
    assert sink.rows() == world.granted_view()
    # Resending a batch (a worker that died before moving the cursor) changes nothing: upserts and deletes by key.
    sub.refresh_from_db()
    last = Delivery.objects.filter(subscription=sub, status="ok", snapshot=False).order_by("-last_seq").first()
    assert last is not None
    before = sink.rows()
    Subscription.objects.filter(pk=sub.pk).update(cursor=last.first_seq - 1, in_flight={
        "kind": "changes", "first": last.first_seq, "last": last.last_seq})
    assert deliver_due() == {"delivered": 1}
    assert sink.rows() == before == world.granted_view()


def test_sink_host_must_be_allowlisted(world: World) -> None:
    body = {"grant_id": str(world.grant.pk), "name": "x", "kind": "table", "engine": "postgresql",
            "host": "10.9.8.7", "database": "front", "user": "reader", "password": "pw", "table": "people",
            "key_column": "id_number"}
    resp = client_for(world.consumer).post("/api/v1/subscriptions", body, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "host"
    bad = {**body, "host": "127.0.0.1", "table": 'people"; drop table x; --'}
    world.allow(purpose="connector")
    resp = client_for(world.consumer).post("/api/v1/subscriptions", bad, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "table"
    assert not Subscription.objects.exists()
