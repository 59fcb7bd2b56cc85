"""drivers (the contract table sinks use too), typed watermark values and the source query check."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govshare.connectors import values
from govshare.connectors.drivers import (
    ConnectionFailed,
    Endpoint,
    connect,
    delete_sql,
    driver_errors,
    placeholder,
    quote_ident,
    quote_table,
    upsert_sql,
)
from govshare.connectors.source import validate_query
from govshare.connectors.tests.sources import MY, PG, require_server
from govshare.core.errors import ValidationFailed
from govshare.registry.services import add_allowed_host

ENGINES = ["postgresql", "mysql", "sqlite"]


@given(st.text(max_size=40))
def test_quote_ident_never_lets_a_name_out_of_its_quotes(name: str) -> None:
    for engine in ENGINES:
        try:
            quoted = quote_ident(engine, name)
        except ValidationFailed as exc:
            assert exc.field == "identifier"
            continue
        quote = "`" if engine == "mysql" else '"'
        assert quoted == f"{quote}{name}{quote}" and quote not in name
        assert all(ch.isalnum() or ch == "_" for ch in name) and name


def test_identifiers_tables_and_placeholders() -> None:
    assert quote_ident("postgresql", "人口_2024") == '"人口_2024"'
    assert quote_table("mysql", "qzk.rk_jbxx") == "`qzk`.`rk_jbxx`"
    for bad in ['a"b', "a b", "a;b", "", "x" * 64, "表" * 22, "a.b.c"]:
        with pytest.raises(ValidationFailed):
            quote_table("postgresql", bad)
    assert (placeholder("sqlite"), placeholder("postgresql"), placeholder("mysql")) == ("?", "%s", "%s")
    with pytest.raises(ValidationFailed) as exc:
        placeholder("oracle")
    assert exc.value.field == "engine"
    assert upsert_sql("sqlite", "t", ["k"], "k") == 'INSERT INTO "t" ("k") VALUES (?) ON CONFLICT ("k") DO NOTHING'
    assert upsert_sql("mysql", "t", ["k", "v"], "k") == (
        "INSERT INTO `t` (`k`, `v`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)")
    assert "password" not in repr(Endpoint("postgresql", "h", 1, "d", "u", "hunter2-Secret"))
    assert "hunter2" not in repr(Endpoint("postgresql", "h", 1, "d", "u", "hunter2-Secret"))


def _endpoint(engine: str, tmp_path: Any) -> Endpoint:
    if engine == "postgresql":
        require_server(str(PG["host"]), int(PG["port"]), "PostgreSQL")  # type: ignore[call-overload]
        return Endpoint("postgresql", "127.0.0.1", 5432, "postgres", "postgres", "")
    if engine == "mysql":
        require_server(str(MY["host"]), int(MY["port"]), "MariaDB")  # type: ignore[call-overload]
        return Endpoint("mysql", "127.0.0.1", 3306, "test", "root", "")
    return Endpoint("sqlite", "", None, str(tmp_path / "sink.sqlite3"), "", "")


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ENGINES)
def test_upsert_and_delete_sql_work_on_each_engine(engine: str, tmp_path: Any, city: Any, sqlite_dir: Any,
                                                   settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(tmp_path)]}
    add_allowed_host(actor=None, node=city, host="127.0.0.1", purpose="both")
    endpoint = _endpoint(engine, tmp_path)
    table = f"sink_{uuid.uuid4().hex[:8]}"
    conn = connect(endpoint, purpose="connector", node=city)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {quote_table(engine, table)} ({quote_ident(engine, '身份证号')} varchar(18) "
                    f"PRIMARY KEY, {quote_ident(engine, '姓名')} varchar(50), xb varchar(4))")
        sql = upsert_sql(engine, table, ["身份证号", "姓名", "xb"], "身份证号")
        cur.execute(sql, ("1", "张三", "男"))
        cur.execute(sql, ("2", "李四", "女"))
        cur.execute(sql, ("1", "张三丰", "男"))  # the same key again: an update
        cur.execute(delete_sql(engine, table, "身份证号"), ("2",))
        conn.commit()
        cur.execute(f"SELECT * FROM {quote_table(engine, table)}")  # noqa: S608 - test table
        assert [tuple(r) for r in cur.fetchall()] == [("1", "张三丰", "男")]
    finally:
        try:
            conn.cursor().execute(f"DROP TABLE IF EXISTS {quote_table(engine, table)}")
            conn.commit()
        finally:
            conn.close()


@pytest.mark.django_db
def test_connect_checks_the_allowlist_and_hides_the_password(city: Any, sqlite_dir: Any) -> None:
    require_server(str(PG["host"]), int(PG["port"]), "PostgreSQL")  # type: ignore[call-overload]
    endpoint = Endpoint("postgresql", "127.0.0.1", 5432, "no_such_db_here", "nobody", "pw-Very-Secret-5")
    with pytest.raises(ValidationFailed) as refused:
        connect(endpoint, purpose="connector", node=city)
    assert refused.value.field == "host" and "127.0.0.1" in refused.value.message
    add_allowed_host(actor=None, node=city, host="127.0.0.1", port=5432, purpose="webhook")
    with pytest.raises(ValidationFailed):  # a webhook entry does not admit a database connection
        connect(endpoint, purpose="connector", node=city)
    add_allowed_host(actor=None, node=city, host="127.0.0.0/8", port=5432, purpose="connector")
    with pytest.raises(ConnectionFailed) as failed:
        connect(endpoint, purpose="connector", node=city)
    assert "pw-Very-Secret-5" not in failed.value.message and failed.value.status == 502


@given(st.one_of(st.integers(), st.decimals(allow_nan=False, allow_infinity=False),
                 st.datetimes(timezones=st.none() | st.just(dt.UTC)), st.dates(), st.text(max_size=30)))
def test_typed_values_round_trip(value: Any) -> None:
    assert values.decode(values.encode(value)) == value


def test_overlap_keeps_the_source_layout() -> None:
    kw = {"incremental_type": "timestamp", "seconds": 300, "count": 7}
    assert values.minus_overlap("2025-01-01 08:10:00", **kw) == "2025-01-01 08:05:00"
    assert values.minus_overlap("2025-01-01T08:10:00.250000", **kw) == "2025-01-01T08:05:00.250000"
    assert values.minus_overlap("2025-01-01T00:02:00Z", **kw) == "2024-12-31T23:57:00Z"
    assert values.minus_overlap("2025-01-01", **kw) == "2024-12-31"
    assert values.minus_overlap("v17", **kw) == "v17"  # not a time: cannot move, reconciliation catches up
    assert values.minus_overlap(dt.datetime(2025, 1, 1, 8, 10), **kw) == dt.datetime(2025, 1, 1, 8, 5)
    assert values.minus_overlap(1000, **kw) == 700  # epoch seconds
    assert values.minus_overlap(1000, **{**kw, "incremental_type": "number"}) == 993
    assert values.minus_overlap(Decimal("10.5"), **{**kw, "incremental_type": "number"}) == Decimal("3.5")
    assert values.later(2, None) and not values.later(None, 1) and not values.later("a", 1)


def test_source_query_check() -> None:
    assert validate_query("  select * from t ;; ") == "select * from t"
    assert validate_query("/* 说明 */ -- 注释\nWITH a AS (SELECT 1) SELECT * FROM a").startswith("/*")
    for bad in ["", "DELETE FROM t", "SELECT 1; SELECT 2", "UPDATE t SET a = 1", "-- only a comment",
                "EXPLAIN SELECT 1", "SELECT 1\x00"]:
        with pytest.raises(ValidationFailed) as exc:
            validate_query(bad)
        assert exc.value.field == "source_query"


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ENGINES)
def test_read_only_sessions_refuse_writes(engine: str, tmp_path: Any, city: Any, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(tmp_path)]}
    add_allowed_host(actor=None, node=city, host="127.0.0.1", purpose="connector")
    endpoint = _endpoint(engine, tmp_path)
    table = f"ro_{uuid.uuid4().hex[:8]}"
    writer = connect(endpoint, purpose="connector", node=city)
    try:
        writer.cursor().execute(f"CREATE TABLE {table} (k varchar(8))")
        writer.commit()
        reader = connect(endpoint, purpose="connector", node=city, readonly=True, autocommit=True)
        try:
            with pytest.raises(driver_errors()) as refused:
                reader.cursor().execute(f"INSERT INTO {table} (k) VALUES ('x')")  # noqa: S608
            assert "read" in str(refused.value).lower()
        finally:
            reader.close()
    finally:
        writer.cursor().execute(f"DROP TABLE {table}")
        writer.commit()
        writer.close()
