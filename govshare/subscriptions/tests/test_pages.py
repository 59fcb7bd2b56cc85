"""Portal pages of subscriptions (订阅), through django.test.Client: list (with query counts), create with the
allowlist error beside the field and the secret shown once, pause / resume, the delivery log, scope (404)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.conftest import client_for
from govshare.core.crypto import decrypt_secret
from govshare.subscriptions.delivery import deliver_due
from govshare.subscriptions.models import Delivery, Subscription
from govshare.subscriptions.services import SECRET_PURPOSE, create_subscription
from govshare.subscriptions.tests.world import Receiver, World, person

pytestmark = pytest.mark.django_db

LIST = "/subscriptions/"
NEW = "/subscriptions/new/"


def post_webhook(world: World, url: str, name: str = "社保 webhook") -> Any:
    return client_for(world.consumer).post(NEW, {"grant_id": str(world.grant.pk), "name": name, "kind": "webhook",
                                                 "url": url, "initial_data": "on"})


def test_a_webhook_url_off_the_allowlist_is_refused_beside_the_field(world: World) -> None:
    page = post_webhook(world, "https://evil.example.com/hook")
    assert page.status_code == 200
    html = page.content.decode()
    errors = re.search(r'id="id_url_errors"[^>]*>(.*?)</ul>', html, re.S)
    assert errors is not None, html
    assert "白名单" in errors.group(1) or "not allowed" in errors.group(1)
    assert not Subscription.objects.exists()


def test_the_webhook_secret_is_shown_once(world: World, receiver: Receiver) -> None:
    world.allow()
    page = post_webhook(world, receiver.url)
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    sub = Subscription.objects.get()
    secret = decrypt_secret(sub.secret_enc, purpose=SECRET_PURPOSE).decode()
    assert secret in page.content.decode()
    consumer = client_for(world.consumer)
    detail = consumer.get(f"/subscriptions/{sub.pk}/")
    assert detail.status_code == 200
    assert secret not in detail.content.decode()
    assert secret not in consumer.get(LIST).content.decode()
    # rotating shows the new secret once, and the old one no longer signs
    rotated = consumer.post(f"/subscriptions/{sub.pk}/rotate_secret/")
    sub.refresh_from_db()
    new_secret = decrypt_secret(sub.secret_enc, purpose=SECRET_PURPOSE).decode()
    assert new_secret != secret and new_secret in rotated.content.decode()
    assert new_secret not in consumer.get(f"/subscriptions/{sub.pk}/").content.decode()


def test_pause_resume_and_the_delivery_log(world: World, receiver: Receiver) -> None:
    world.allow()
    post_webhook(world, receiver.url)
    sub = Subscription.objects.get()
    deliver_due()
    assert Delivery.objects.filter(subscription=sub, status="ok").exists()
    consumer = client_for(world.consumer)
    detail = consumer.get(f"/subscriptions/{sub.pk}/").content.decode()
    assert "成功" in detail and "投递记录" in detail
    csv = consumer.get(f"/subscriptions/{sub.pk}/?format=csv")
    assert csv["Content-Type"].startswith("text/csv") and "起始序号" in csv.content.decode("utf-8-sig")

    assert consumer.post(f"/subscriptions/{sub.pk}/pause/", {"reason": "系统升级"}).status_code == 302
    sub.refresh_from_db()
    assert (sub.status, sub.paused_reason) == ("paused", "系统升级")
    assert "系统升级" in consumer.get(LIST).content.decode()
    world.change(upserts=[person(101, inside=True)])
    deliver_due()
    cursor = sub.cursor
    sub.refresh_from_db()
    assert sub.cursor == cursor  # paused: nothing delivered
    consumer.post(f"/subscriptions/{sub.pk}/resume/")
    sub.refresh_from_db()
    assert sub.status == "active"
    deliver_due()
    sub.refresh_from_db()
    assert sub.cursor > cursor
    # a second resume is refused by the transition table and shown as a message
    again = consumer.post(f"/subscriptions/{sub.pk}/resume/", follow=True)
    assert "不能恢复" in again.content.decode()


def test_scope_other_departments_get_404_and_the_provider_cannot_manage(world: World, receiver: Receiver) -> None:
    world.allow()
    post_webhook(world, receiver.url)
    sub = Subscription.objects.get()
    stranger = testing.user(Role.CONSUMER, dept=testing.department(world.city, name="市民政局"))
    assert client_for(stranger).get(f"/subscriptions/{sub.pk}/").status_code == 404
    assert client_for(stranger).post(f"/subscriptions/{sub.pk}/pause/").status_code == 404
    assert sub.name not in client_for(stranger).get(LIST).content.decode()
    provider = client_for(world.provider)
    assert provider.get(f"/subscriptions/{sub.pk}/").status_code == 200  # the provider sees who receives
    assert provider.post(f"/subscriptions/{sub.pk}/pause/").status_code == 403  # but does not manage
    assert client_for(None).get(LIST).status_code == 302


def test_edit_rechecks_the_allowlist(world: World, receiver: Receiver) -> None:
    world.allow()
    post_webhook(world, receiver.url)
    sub = Subscription.objects.get()
    page = client_for(world.consumer).post(f"/subscriptions/{sub.pk}/edit/", {
        "name": "新名称", "batch_size": "50", "url": "https://elsewhere.example.org/hook"})
    assert page.status_code == 200 and 'id="id_url_errors"' in page.content.decode()
    sub.refresh_from_db()
    assert sub.name == "社保 webhook"


def test_list_queries_do_not_grow_with_subscriptions(world: World, receiver: Receiver,
                                                     django_assert_max_num_queries: Any) -> None:
    world.allow()
    for n in range(4):
        create_subscription(actor=world.consumer, grant=world.grant, name=f"订阅{n}", kind="webhook", url=receiver.url)
    consumer = client_for(world.consumer)
    consumer.get(LIST)  # warm the session
    with django_assert_max_num_queries(12):
        page = consumer.get(LIST)
    html = page.content.decode()
    assert all(f"订阅{n}" in html for n in range(4))
    assert world.code in html  # the grant to pull with


def test_a_table_sink_through_the_page_never_shows_its_password(world: World, tmp_path: Any, settings: Any) -> None:
    directory = tmp_path / "connect"
    directory.mkdir()
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(directory)]}
    consumer = client_for(world.consumer)
    missing = consumer.post(NEW, {"grant_id": str(world.grant.pk), "name": "人社前置库", "kind": "table"})
    assert missing.status_code == 200 and 'id="id_table_errors"' in missing.content.decode()
    refused = consumer.post(NEW, {"grant_id": str(world.grant.pk), "name": "人社前置库", "kind": "table",
                                  "engine": "postgresql", "host": "10.20.1.15", "database": "frontdb",
                                  "user": "gs_writer", "password": "Sink-Pass-4417", "table": "gs.people",
                                  "key_column": "id_number"})
    html = refused.content.decode()
    assert 'id="id_host_errors"' in html and "Sink-Pass-4417" not in html
    made = consumer.post(NEW, {"grant_id": str(world.grant.pk), "name": "人社前置库", "kind": "table",
                               "engine": "sqlite", "database": str(directory / "front.sqlite3"), "table": "people",
                               "key_column": "id_number"})
    assert made.status_code == 302  # no secret to show: straight to the subscription
    sub = Subscription.objects.get()
    assert sub.kind == "table" and made["Location"] == f"/subscriptions/{sub.pk}/"
    assert "sqlite:" in consumer.get(made["Location"]).content.decode()
