"""The Python client against a real HTTP server (wsgiref on a thread, committed data, the group-commit audit
writer), shared counters under concurrency, and the data plane in the OpenAPI document."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from govshare.audit.models import AuditEvent
from govshare.audit.pytest_plugin import _audit_append_only_triggers  # noqa: F401 - transactional tests on SQLite
from govshare.audit.writer import stop_writer
from govshare.client import GovshareClient, GovshareError, wsgi_transport
from govshare.exchange.dataplane.app import DataPlane
from govshare.exchange.models import Grant, UsageCounter
from govshare.exchange.tests.test_dataplane_world import REFS, World, _fresh_dataplane, application  # noqa: F401


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        def run() -> None:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                connections.close_all()

        threading.Thread(target=run, daemon=True).start()


# Transactional tests end with a flush. available_apps (all of them) makes it TRUNCATE … CASCADE on PostgreSQL,
# which the raw-SQL catalog search table (a foreign key to catalog_resource that Django does not know) needs.
TRANSACTIONAL = pytest.mark.django_db(transaction=True, available_apps=list(settings.INSTALLED_APPS))


@pytest.fixture
def live(db: None) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, application(), server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        stop_writer()  # the writer's connection must be gone before the test database is flushed or dropped


@pytest.fixture
def committed_world(db: None, city: Any, provider: Any, consumer: Any, data_office: Any) -> World:
    return World(city, provider, consumer, data_office)


@TRANSACTIONAL
def test_client_against_a_real_server(live: str, committed_world: World) -> None:
    w = committed_world
    gs = GovshareClient(live, w.app_key, w.secret, sm2_private_key=w.sm2_private, sm2_public_key=w.sm2_public,
                        **REFS)
    p = w.inside[0]
    answer = gs.query(w.code, keys=[p["id_number"]])
    assert answer["count"] == 1 and answer["records"][0]["data"]["gender"] == "男"
    assert gs.last_labels["Grant"] == str(w.grant.pk)
    assert gs.verify(w.code, p["id_number"], {"mobile": p["mobile"]})["matches"] == {"mobile": True}
    f = gs.file(w.code, "xlsx", encrypt=True)
    assert f.encrypted and f.content.startswith(b"PK")
    with pytest.raises(GovshareError) as info:
        GovshareClient(live, w.app_key, "wrong", **REFS).query(w.code, keys=[p["id_number"]])
    assert (info.value.status, info.value.code) == (401, "bad_signature")
    # The events were written by the group-commit writer (committed, with their key refs) before each answer.
    actions = Counter(AuditEvent.objects.filter(action__startswith="dataplane.").values_list("action", flat=True))
    assert actions == {"dataplane.query": 2, "dataplane.verify": 1, "dataplane.file": 1,
                       "dataplane.file_completed": 1}


@TRANSACTIONAL
def test_counters_hold_under_concurrency(committed_world: World) -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("shared-cache in-memory SQLite has table locks without a busy timeout; "
                    "benchmarks/dataplane_smoke.py runs this on a SQLite file")
    w = committed_world
    Grant.objects.filter(pk=w.grant.pk).update(verify_quota_per_key=30, daily_quota=1000, rate_limit_per_minute=1000)
    app = DataPlane()
    p = w.inside[0]
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        gs = GovshareClient("http://testserver", w.app_key, w.secret, transport=wsgi_transport(app), **REFS)
        try:
            for _ in range(10):
                try:
                    gs.verify(w.code, p["id_number"], {"gender": "男"})
                    code = "ok"
                except GovshareError as exc:
                    code = exc.code
                with lock:
                    results.append(code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop_writer()
    assert Counter(results) == {"ok": 30, "over_verify_quota": 50}
    per_key = UsageCounter.objects.get(grant=w.grant, bucket__startswith="v:")
    day = UsageCounter.objects.get(grant=w.grant, bucket__startswith="d:")
    assert per_key.count == 30 and day.count == 80


def test_openapi_describes_the_data_plane(db: None) -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    assert {"/dp/v1/query", "/dp/v1/verify", "/dp/v1/file"} <= set(doc["paths"])
    op = doc["paths"]["/dp/v1/query"]["post"]
    names = {p["name"] for p in op["parameters"]}
    assert {"X-GS-AppKey", "X-GS-Timestamp", "X-GS-Nonce", "X-GS-Signature", "X-GS-SM2-Signature",
            "X-GS-Case-Number"} <= names
    assert op["responses"]["429"]["content"]["application/json"]["schema"]["$ref"].endswith("DataPlaneError")
    assert "X-GS-Data-Label-Grant" in op["responses"]["200"]["headers"]
    assert "over_verify_quota" in doc["components"]["schemas"]["DataPlaneError"]["properties"]["error"][
        "properties"]["code"]["enum"]
    assert doc["components"]["securitySchemes"]["GovshareSignature"]["name"] == "X-GS-Signature"


def test_docs_list_every_error_code() -> None:
    from pathlib import Path

    from govshare.exchange.dataplane.responses import ERRORS

    text = (Path(__file__).resolve().parents[3] / "docs" / "dataplane.md").read_text(encoding="utf-8")
    assert [code for code in ERRORS if f"`{code}`" not in text] == []
