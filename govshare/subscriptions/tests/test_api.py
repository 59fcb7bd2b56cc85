"""The subscriptions API: lifecycle with its audit events, validation, list query counts, delivery log with
its CSV and JSON twins, lag; the demo helper."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.subscriptions.delivery import deliver_due
from govshare.subscriptions.demo import build_demo_subscriptions
from govshare.subscriptions.models import Subscription
from govshare.subscriptions.tests.test_webhook import API, some_changes, subscribe
from govshare.subscriptions.tests.world import (
    Receiver,
    World,
    run_until_idle,
)

pytestmark = pytest.mark.django_db


def _streamed(resp: Any) -> bytes:
    return b"".join(resp.streaming_content)


def test_lifecycle_and_audit(world: World, receiver: Receiver) -> None:
    c = client_for(world.consumer)
    created = subscribe(world, receiver.url, batch_size=5)
    sid = created["id"]
    got = c.get(f"{API}/{sid}").json()
    assert "secret" not in got and got["destination"] == receiver.url and got["allowed_actions"] == [
        "pause", "cancel", "rotate_secret", "update"]
    assert got["resource_code"] == world.code and got["lag"] == 12 and got["snapshot_state"] == "pending"
    resp = c.patch(f"{API}/{sid}", {"name": "改名", "batch_size": 7}, content_type="application/json")
    assert resp.status_code == 200 and (resp.json()["name"], resp.json()["batch_size"]) == ("改名", 7)
    resp = c.patch(f"{API}/{sid}", {"url": "http://10.1.1.1/x"}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "url"
    resp = c.patch(f"{API}/{sid}", {"batch_size": 5000}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "batch_size"
    assert c.post(f"{API}/{sid}/resume").status_code == 409
    assert c.post(f"{API}/{sid}/pause", {"reason": "系统升级"}, content_type="application/json").json()[
        "paused_reason"] == "系统升级"
    assert c.post(f"{API}/{sid}/pause", {}, content_type="application/json").status_code == 409
    assert c.post(f"{API}/{sid}/resume").json()["status"] == "active"
    assert c.post(f"{API}/{sid}/cancel", {}, content_type="application/json").json()["status"] == "cancelled"
    for action in ("pause", "resume", "cancel", "rotate-secret"):
        assert c.post(f"{API}/{sid}/{action}", {}, content_type="application/json").status_code == 409
    actions = list(AuditEvent.objects.filter(target_type="subscription", target_id=sid).order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["subscription.created", "subscription.updated", "subscription.paused",
                       "subscription.resumed", "subscription.cancelled"]
    # A cancelled subscription delivers nothing.
    assert deliver_due() == {} and receiver.requests == []


def test_create_validation(world: World) -> None:
    world.allow()
    c = client_for(world.consumer)
    base = {"grant_id": str(world.grant.pk), "name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/h"}
    for change, field in (({"kind": "ftp"}, "kind"), ({"name": ""}, "name"), ({"kind": "table"}, "engine"),
                          ({"kind": "table", "engine": "oracle", "database": "d", "table": "t", "key_column": "k"},
                           "engine"), ({"url": "ftp://127.0.0.1/x"}, "url")):
        resp = c.post(API, {**base, **change}, content_type="application/json")
        assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == field, (change, resp.content)
    no_sub = world.make_grant(modes=("query",))
    resp = c.post(API, {**base, "grant_id": str(no_sub.pk)}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "grant_id"
    other = testing.user(Role.CONSUMER, dept=testing.department(world.city, name="民政局"))
    resp = client_for(other).post(API, base, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "grant_id"
    assert client_for(world.provider).post(API, base, content_type="application/json").status_code == 403
    for _ in range(5):
        assert c.post(API, base, content_type="application/json").status_code == 201
    assert c.post(API, base, content_type="application/json").status_code == 409  # SUBSCRIPTION_MAX_PER_GRANT
    assert Subscription.objects.count() == 5


def test_list_has_constant_query_count(world: World, django_assert_max_num_queries: Any) -> None:
    world.allow()
    c = client_for(world.consumer)
    body = {"grant_id": str(world.grant.pk), "name": "x", "kind": "webhook", "url": "http://127.0.0.1:9/h"}
    for _ in range(5):
        c.post(API, body, content_type="application/json")
    with django_assert_max_num_queries(6):
        items = c.get(f"{API}?limit=50").json()["items"]
    assert len(items) == 5
    page = c.get(f"{API}?limit=2").json()
    rest = c.get(f"{API}?limit=10&cursor={page['next_cursor']}").json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 3 and rest["next_cursor"] is None
    assert client_for(testing.user(Role.CONSUMER, dept=testing.department(world.city, name="民政局"))).get(
        API).json()["items"] == []


def test_delivery_log_and_its_twins(world: World, receiver: Receiver) -> None:
    receiver.fail = 1
    sid = subscribe(world, receiver.url, batch_size=4)["id"]
    run_until_idle(deliver_due)
    some_changes(world)
    run_until_idle(deliver_due)
    c = client_for(world.consumer)
    items = c.get(f"{API}/{sid}/deliveries?limit=100").json()["items"]
    assert items[-1]["status"] == "failed" and items[-1]["error"].startswith("接收方返回 HTTP 500")
    assert [i["status"] for i in items[:-1]] == ["ok"] * (len(items) - 1)
    assert c.get(f"{API}/{sid}/deliveries?status=failed").json()["items"][0]["attempt"] == 1
    rows = list(csv.reader(io.StringIO(_streamed(c.get(f"{API}/{sid}/deliveries.csv")).decode("utf-8-sig"))))
    assert rows[0][0] == "时间 (created_at)" and len(rows) == len(items) + 1
    as_json = json.loads(_streamed(c.get(f"{API}/{sid}/deliveries.json")))
    assert [i["id"] for i in as_json["items"]] == [i["id"] for i in items]
    lag = c.get(f"{API}/{sid}/lag").json()
    assert lag["lag"] == 0 and lag["cursor"] == lag["latest_seq"] and lag["consecutive_failures"] == 0


def test_demo_helper(world: World, tmp_path: Path, settings: Any, receiver: Receiver) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(tmp_path / "connect")]}
    out = build_demo_subscriptions(grant_for_webhook=world.grant, grant_for_table=world.grant, actor="demo",
                                   home=tmp_path, webhook_url=receiver.url)
    assert out["webhook"]["secret"] and Path(out["table"]["database"]).parent == tmp_path / "connect"
    run_until_idle(deliver_due)
    with sqlite3.connect(out["table"]["database"]) as conn:
        count = conn.execute(f'SELECT count(*) FROM "{out["table"]["table"]}"').fetchone()[0]  # noqa: S608
    assert count == len(world.granted_view()) == 6
    assert receiver.verify(out["webhook"]["secret"]) and len(receiver.delivered()) == 1
