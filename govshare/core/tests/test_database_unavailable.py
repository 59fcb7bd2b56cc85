"""The database going away mid-request: a clean 503 in the error envelope (API and data plane) or a 503 page
(portal), with Retry-After, and service resumes with the next request once the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client

from govshare.client import GovshareError, wsgi_transport
from govshare.exchange.tests.test_dataplane_world import REFS, World, person, world_fixture  # noqa: F401
from govshare.wsgi import application as wsgi_application

pytestmark = pytest.mark.django_db


@contextmanager
def database_down() -> Iterator[None]:
    """Every new query fails as it would with the server gone (the backend's connection refused or dropped)."""

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(refuse):
        yield


def test_api_answers_503_in_the_envelope_then_recovers(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.consumer)
    with database_down():
        down = client.get("/api/v1/catalog/resources")
    assert down.status_code == 503 and down["Retry-After"] == "5"
    assert down.json() == {"ok": False, "error": {"code": "database_unavailable", "message": down.json()["error"][
        "message"], "details": {}}}
    assert "数据库暂不可用" in down.json()["error"]["message"]
    assert client.get("/api/v1/catalog/resources").status_code == 200


def test_portal_page_answers_a_503_page(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.consumer)
    with database_down():
        down = client.get("/")
    assert down.status_code == 503 and "服务暂不可用" in down.content.decode()
    assert client.get("/").status_code == 200


def test_data_plane_answers_503_then_recovers(world: World) -> None:
    gs = world.client()
    key = person(1)["id_number"]
    with database_down(), pytest.raises(GovshareError) as info:
        gs.verify(world.code, key, {"person_name": person(1)["person_name"]})
    assert info.value.status == 503 and info.value.code == "database_unavailable"
    assert gs.verify(world.code, key, {"person_name": person(1)["person_name"]})["all_match"] is True


@pytest.mark.django_db(transaction=True)
def test_postgresql_backend_killed_mid_request() -> None:
    """The real thing on PostgreSQL, through the real WSGI entry: the server terminates the connection while a
    request is running; that request answers 503, and the next one gets a new connection and is served."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite is embedded: there is no server connection to lose")
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    killed: list[int] = []

    def kill_first(execute: Any, sql: str, params_: Any, many: bool, context: Any) -> Any:
        if not killed:
            pid = context["connection"].connection.info.backend_pid
            with psycopg.connect(**params, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", [pid])
            killed.append(pid)
        return execute(sql, params_, many, context)

    send = wsgi_transport(wsgi_application)
    with connection.execute_wrapper(kill_first):
        status, headers, body = send("GET", "http://testserver/", {}, b"")
    assert killed and status == 503 and {k.lower(): v for k, v in headers.items()}["retry-after"] == "5"
    assert "服务暂不可用" in body.decode()
    status, _, body = send("GET", "http://testserver/", {}, b"")
    assert status == 200 and "服务暂不可用" not in body.decode()
