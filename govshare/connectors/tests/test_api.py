"""The connectors REST API: registration (allowlist, connection test, encrypted password), run now, pause and
resume, runs with their reports and CSV / JSON twins."""

# ruff: noqa: S608  (SQL built from test table names generated here)

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.connectors.choices import RunStatus
from govshare.connectors.dispatch import dispatch
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.tests.conftest import platform_rows, source_as_platform
from govshare.connectors.tests.sources import COLUMN_MAP, person, rid
from govshare.core.crypto import decrypt_secret
from govshare.registry.services import add_allowed_host

pytestmark = pytest.mark.django_db
URL = "/api/v1/connectors"


def body(dataset: Any, src: Any, **over: Any) -> dict[str, Any]:
    return {"dataset_id": str(dataset.pk), "name": "户籍前置库", **src.endpoint(), "source_table": src.table,
            "column_map": COLUMN_MAP, "key_column": "sfzh", "incremental_column": "gxsj", "page_size": 50, **over}


def _nothing_written() -> None:
    assert not SourceConnector.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="connector.").exists()


@pytest.mark.parametrize("host", ["10.20.30.40", "169.254.169.254", "metadata.google.internal."])
def test_unlisted_host_is_refused_naming_host(host: str, dataset: Any, provider: Any, allow_local: Any,
                                              city: Any) -> None:
    # even a CIDR entry that covers link-local addresses does not admit the metadata address
    add_allowed_host(actor=None, node=city, host="169.254.0.0/16", purpose="connector")
    c = client_for(provider)
    resp = c.post(URL, {"dataset_id": str(dataset.pk), "name": "外部库", "engine": "postgresql", "host": host,
                        "database": "rk", "user": "reader", "password": "x-Secret-1", "source_table": "rk",
                        "column_map": COLUMN_MAP}, content_type="application/json")
    assert resp.status_code == 422, resp.content
    error = resp.json()["error"]
    assert error["details"]["field"] == "host" and host.rstrip(".") in error["message"]
    _nothing_written()


def test_sqlite_file_outside_the_allowed_directories_is_refused(dataset: Any, provider: Any, tmp_path: Any,
                                                                sqlite_dir: Any) -> None:
    c = client_for(provider)
    for path in [str(tmp_path / "elsewhere.sqlite3"), str(sqlite_dir / ".." / "escape.sqlite3"), "/etc/passwd"]:
        resp = c.post(URL, {"dataset_id": str(dataset.pk), "name": "文件库", "engine": "sqlite", "database": path,
                            "source_table": "rk", "column_map": COLUMN_MAP}, content_type="application/json")
        assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "database", resp.content
    _nothing_written()


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_register_test_and_run_with_password_encrypted(engine: str, make_source: Any, dataset: Any, provider: Any,
                                                       allow_local: Any) -> None:
    src = make_source(engine).create(person(n) for n in range(1, 8))
    c = client_for(provider)
    secret = "Qzk-Password-937" if engine == "postgresql" else ""  # trust auth ignores it; root has none
    resp = c.post(URL, body(dataset, src, password=secret), content_type="application/json")
    assert resp.status_code == 201, resp.content
    out = resp.json()
    assert out["has_password"] is bool(secret) and "password" not in out and "password_enc" not in out
    assert out["effective_pull_interval_seconds"] == 86400  # 每日
    stored = SourceConnector.objects.get(pk=out["id"])
    if secret:
        assert stored.password_enc.startswith("sm4v1:")
        assert decrypt_secret(stored.password_enc, purpose="connector_password").decode() == secret
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM connectors_sourceconnector")
            assert not any(secret in str(cell) for row in cur.fetchall() for cell in row)
        assert not any(secret in json.dumps(e.data, ensure_ascii=False) for e in AuditEvent.objects.all())

    tested = c.post(f"{URL}/{out['id']}/test")
    assert tested.status_code == 200 and tested.json()["ok"] is True, tested.content
    assert {"sfzh", "gxsj"} <= set(tested.json()["columns"])

    ran = c.post(f"{URL}/{out['id']}/run", {"kind": "pull"}, content_type="application/json")
    assert ran.status_code == 202
    assert not ConnectorRun.objects.exists()  # run now only makes it due; the worker runs it
    dispatch(budget_seconds=30)
    runs = c.get(f"{URL}/{out['id']}/runs").json()["items"]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded" and runs[0]["trigger"] == "manual"
    assert runs[0]["inserted"] == 7
    assert platform_rows(dataset) == source_as_platform(src)


def test_connection_problems_name_the_field_and_write_nothing(make_source: Any, dataset: Any, provider: Any,
                                                              allow_local: Any) -> None:
    src = make_source("sqlite").create(person(n) for n in range(1, 3))
    c = client_for(provider)
    cases = [({"source_table": "no_such_table"}, "source_table"),
             ({"column_map": {**COLUMN_MAP, "xb_missing": "gender"} | {"xb": "ethnicity"}}, "column_map"),
             ({"incremental_column": "updated_at"}, "incremental_column"),
             ({"source_table": "", "source_query": f"DELETE FROM {src.table}"}, "source_query"),
             ({"source_table": "", "source_query": f"SELECT * FROM {src.table}; DROP TABLE x"}, "source_query"),
             ({"source_table": "rk; drop"}, "source_table"),
             ({"column_map": {"sfzh": "id_number"}}, "column_map"),  # the required 姓名 is not mapped
             ({"key_column": "xm"}, "key_column")]
    for over, field in cases:
        resp = c.post(URL, body(dataset, src, **over), content_type="application/json")
        assert resp.status_code == 422, (over, resp.content)
        assert resp.json()["error"]["details"]["field"] == field, (over, resp.json())
    _nothing_written()


def test_query_source_pause_resume_and_run_exports(make_source: Any, dataset: Any, provider: Any,
                                                   allow_local: Any) -> None:
    src = make_source("sqlite").create(person(n) for n in range(1, 13))
    query = (f"-- 只取有效人口\nWITH valid AS (SELECT * FROM {src.table} WHERE xm <> '') "
             "SELECT sfzh, xm, xb, csrq, xzz, gxsj FROM valid;")
    c = client_for(provider)
    resp = c.post(URL, body(dataset, src, source_table="", source_query=query, name="查询前置库",
                            pull_interval_seconds=120), content_type="application/json")
    assert resp.status_code == 201, resp.content
    cid = resp.json()["id"]
    assert resp.json()["effective_pull_interval_seconds"] == 120
    assert c.post(f"{URL}/{cid}/pause").json()["status"] == "paused"
    assert c.post(f"{URL}/{cid}/pause").status_code == 409
    assert c.post(f"{URL}/{cid}/run", {"kind": "pull"}, content_type="application/json").status_code == 409
    assert dispatch(budget_seconds=30) == {}  # paused: nothing runs
    assert c.post(f"{URL}/{cid}/resume").json()["status"] == "active"
    dispatch(budget_seconds=30)
    src.delete([rid(5)])
    assert c.post(f"{URL}/{cid}/run", {"kind": "reconcile"}, content_type="application/json").status_code == 202
    dispatch(budget_seconds=30)
    runs = c.get(f"{URL}/{cid}/runs").json()["items"]
    assert [r["kind"] for r in runs] == ["reconcile", "pull"]
    assert runs[0]["report"]["deleted_at_source"] == {"count": 1, "sample_keys": [rid(5)]}

    csv_resp = c.get(f"{URL}/{cid}/runs.csv")
    assert csv_resp.status_code == 200 and csv_resp["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(csv_resp.streaming_content).decode("utf-8-sig"))))
    assert table[0][0] == "编号 (id)" and len(table) == 3
    assert table[1][1] == "reconcile" and table[1][13] == "1"  # deleted_at_source count
    assert rid(5) not in "".join(",".join(r) for r in table)  # CSV carries counts, not keys
    json_resp = c.get(f"{URL}/{cid}/runs.json")
    items = json.loads(b"".join(json_resp.streaming_content))["items"]
    assert items[0]["report"]["deleted_at_source"]["sample_keys"] == [rid(5)]
    assert AuditEvent.objects.filter(action="connector.runs_exported").count() == 2

    patched = c.patch(f"{URL}/{cid}", {"page_size": 5, "name": "查询前置库2"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["page_size"] == 5
    assert patched.json()["watermark"]  # page size is not a source change: the watermark stays
    moved = c.patch(f"{URL}/{cid}", {"incremental_column": ""}, content_type="application/json")
    assert moved.status_code == 200 and moved.json()["watermark"] == {}
    assert c.delete(f"{URL}/{cid}").status_code == 204
    assert c.get(f"{URL}/{cid}").status_code == 404
    assert not ConnectorRun.objects.filter(status=RunStatus.RUNNING).exists()


def test_lists_are_query_bounded(make_source: Any, dataset: Any, provider: Any, allow_local: Any) -> None:
    src = make_source("sqlite").create([person(1)])
    c = client_for(provider)

    def add(n: int) -> None:
        assert c.post(URL, body(dataset, src, name=f"前置库{n}", verify=False),
                      content_type="application/json").status_code == 201

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    for n in range(2):
        add(n)
    few = count(URL)
    for n in range(2, 8):
        add(n)
    assert count(URL) == few <= 7  # no query per connector (session and user: 2, idle-timeout write: 3)
    cid = SourceConnector.objects.first().pk
    for _ in range(3):
        SourceConnector.objects.filter(pk=cid).update(next_pull_at="2000-01-01T00:00:00Z", run_requested=True)
        dispatch(budget_seconds=30)
    assert ConnectorRun.objects.filter(connector_id=cid).count() == 3
    assert count(f"{URL}/{cid}/runs") <= 7
