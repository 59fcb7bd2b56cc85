"""Webhook deliveries to a real local HTTP receiver: failures and recovery (nothing lost, ordered, no duplicate
after dedupe by idempotency key, signatures verify), pause after N failures and resume, grants that end or are
suspended, the allowlist, and the hook that starts deliveries after a commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from govshare.audit.models import AuditEvent
from govshare.audit.services import audit_key_hmac
from govshare.conftest import client_for
from govshare.core.models.jobs import ScheduledJob
from govshare.exchange.models import Notification
from govshare.exchange.services.grants import lift_suspension, revoke_grant, suspend
from govshare.registry.models import AllowedHost
from govshare.registry.services import deactivate_allowed_host
from govshare.subscriptions.delivery import deliver_due, deliver_one
from govshare.subscriptions.models import Delivery, Subscription
from govshare.subscriptions.services import on_changes_committed
from govshare.subscriptions.signing import signature
from govshare.subscriptions.tests.world import (
    INSIDE,
    OUTSIDE,
    Receiver,
    World,
    apply_changes,
    person,
    run_until_idle,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/subscriptions"


def subscribe(world: World, url: str, **extra: Any) -> dict[str, Any]:
    if not AllowedHost.objects.filter(host="127.0.0.1", purpose="webhook", active=True).exists():
        world.allow()
    body = {"grant_id": str(world.grant.pk), "name": "社保 webhook", "kind": "webhook", "url": url, **extra}
    resp = client_for(world.consumer).post(API, body, content_type="application/json")
    assert resp.status_code == 201, resp.content
    data: dict[str, Any] = resp.json()
    return data


def some_changes(world: World) -> None:
    p1, p2, p3, p4 = person(1), person(2), person(3), person(4)
    world.change(upserts=[{**p1, "person_name": "改一"}, {**p2, "current_address": f"{INSIDE}2号"},
                          {**p3, "current_address": f"{OUTSIDE}3号"}, {**p4, "gender": "女"}])
    world.change(deletes=[person(5)["id_number"], person(6)["id_number"]])
    world.change(upserts=[person(n) for n in range(13, 20)])


def consumer_state(rec: Receiver) -> tuple[dict[str, dict[str, Any]], list[tuple[int, str]]]:
    """What a receiver that dedupes by idempotency key ends up with, and the (seq, key) of every change kept."""
    state: dict[str, dict[str, Any]] = {}
    kept: list[tuple[int, str]] = []
    for r in rec.delivered():
        apply_changes(state, r.payload["changes"])
        if not r.payload["snapshot"]:
            kept += [(c["seq"], c["key"]) for c in r.payload["changes"]]
    return state, kept


def test_receiver_fails_then_recovers(world: World, receiver: Receiver) -> None:
    receiver.fail = 3
    created = subscribe(world, receiver.url, batch_size=4)
    secret = created["secret"]
    assert secret and created["status"] == "active" and created["snapshot_state"] == "pending"
    run_until_idle(deliver_due)
    some_changes(world)
    receiver.fail = 2
    run_until_idle(deliver_due)

    sub = Subscription.objects.get(pk=created["id"])
    assert sub.cursor == world.dataset.__class__.objects.get(pk=world.dataset.pk).last_seq
    assert sub.consecutive_failures == 0 and sub.in_flight is None and sub.snapshot_state == "done"
    # Every failed attempt is resent with the same idempotency key and (for change batches) the same body.
    reqs = receiver.requests
    assert [r.status for r in reqs[:4]] == [500, 500, 500, 200] and len({r.key for r in reqs[:4]}) == 1
    failed_then_ok = [r for r in reqs if r.status == 500]
    assert len(failed_then_ok) == 5
    for bad in failed_then_ok:
        ok = next(r for r in reqs if r.key == bad.key and r.status == 200)
        if not ok.payload["snapshot"]:
            assert ok.body == bad.body
    assert receiver.verify(secret)
    # Nothing lost, ordered, no duplicate after dedupe.
    state, kept = consumer_state(receiver)
    assert state == world.granted_view()
    assert kept == sorted(kept) and len(kept) == len(set(kept))
    batches = [r.payload for r in receiver.delivered()]
    assert [b["snapshot"] for b in batches[:2]] == [True, True] and not any(b["snapshot"] for b in batches[2:])
    firsts = [b["first_seq"] for b in batches[2:]]
    assert firsts == sorted(firsts) and all(b["first_seq"] <= b["last_seq"] for b in batches)
    assert all(r.key == f"{sub.pk}:{b['first_seq']}-{b['last_seq']}" for r, b in
               zip(receiver.delivered()[2:], batches[2:], strict=True))
    # The delivery log and the audit trail: one event per delivered batch, with the keys' HMACs.
    oks = Delivery.objects.filter(subscription=sub, status="ok")
    assert oks.count() == len(batches) and Delivery.objects.filter(subscription=sub, status="failed").count() == 5
    events = list(AuditEvent.objects.filter(action="subscription.delivered", target_id=str(sub.pk)).order_by("seq"))
    assert len(events) == len(batches) and sum(e.data["count"] for e in events) == sum(
        len(b["changes"]) for b in batches)
    assert audit_key_hmac(person(1)["id_number"]) in events[0].data["key_hmacs"]


def test_pause_after_max_failures_then_resume_delivers_the_backlog(world: World, receiver: Receiver,
                                                                    settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SUBSCRIPTION_MAX_FAILURES": 3}
    receiver.down = True
    created = subscribe(world, receiver.url, batch_size=50)
    run_until_idle(deliver_due)
    sub = Subscription.objects.get(pk=created["id"])
    assert sub.status == "paused" and sub.consecutive_failures == 3 and "3" in sub.paused_reason
    assert len(receiver.requests) == 3 and len({r.key for r in receiver.requests}) == 1
    note = Notification.objects.get(kind="subscription_paused", grant=world.grant)
    assert note.department_id == world.consumer.department_id
    assert AuditEvent.objects.filter(action="subscription.paused", target_id=str(sub.pk)).get().data["automatic"]
    some_changes(world)  # the backlog grows while paused
    run_until_idle(deliver_due)
    assert len(receiver.requests) == 3  # paused: nothing sent
    receiver.down = False
    resp = client_for(world.consumer).post(f"{API}/{sub.pk}/resume", {}, content_type="application/json")
    assert resp.status_code == 200 and resp.json()["status"] == "active" and resp.json()["lag"] > 0
    run_until_idle(deliver_due)
    state, kept = consumer_state(receiver)
    assert state == world.granted_view() and len(kept) == len(set(kept))
    assert client_for(world.consumer).get(f"{API}/{sub.pk}/lag").json()["lag"] == 0


def test_rotated_secret_signs_the_next_batch(world: World, receiver: Receiver) -> None:
    created = subscribe(world, receiver.url)
    run_until_idle(deliver_due)
    resp = client_for(world.consumer).post(f"{API}/{created['id']}/rotate-secret")
    new = resp.json()["secret"]
    assert resp.status_code == 200 and new and new != created["secret"]
    some_changes(world)
    run_until_idle(deliver_due)
    first, last = receiver.requests[0], receiver.requests[-1]
    assert signature(created["secret"], first.timestamp, first.body) == first.signature
    assert signature(new, last.timestamp, last.body) == last.signature != signature(
        created["secret"], last.timestamp, last.body)
    assert AuditEvent.objects.filter(action="subscription.secret_rotated", target_id=created["id"]).count() == 1


@pytest.mark.parametrize("ending", ["grant_revoked", "grant_expired"])
def test_ended_grant_stops_delivery(world: World, receiver: Receiver, ending: str) -> None:
    created = subscribe(world, receiver.url)
    run_until_idle(deliver_due)
    sent = len(receiver.requests)
    if ending == "grant_revoked":
        revoke_grant(actor=world.provider, grant=world.grant, reason="业务终止")
    else:  # checked from the database on every batch: no epoch bump or cache expiry needed
        type(world.grant).objects.filter(pk=world.grant.pk).update(valid_to=timezone.localdate() - dt.timedelta(1))
    some_changes(world)
    run_until_idle(deliver_due)
    assert len(receiver.requests) == sent
    sub = Subscription.objects.get(pk=created["id"])
    assert sub.status == "paused" and ending in sub.paused_reason
    assert Notification.objects.filter(kind="subscription_paused", grant=world.grant).exists()
    resp = client_for(world.consumer).post(f"{API}/{sub.pk}/resume")
    assert resp.status_code == 409 and resp.json()["error"]["details"]["reason"] == ending


def test_suspended_grant_waits_and_continues_after_lifting(world: World, receiver: Receiver, sec_admin: Any,
                                                           settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SUBSCRIPTION_GRANT_RECHECK_SECONDS": 0}
    created = subscribe(world, receiver.url)
    suspension = suspend(actor=sec_admin, scope="grant", target_id=world.grant.pk, reason="疑似泄露")
    assert deliver_due() == {"blocked": 1}
    assert receiver.requests == [] and Subscription.objects.get(pk=created["id"]).status == "active"
    lift_suspension(actor=sec_admin, suspension=suspension, reason="已处置")
    run_until_idle(deliver_due)
    assert consumer_state(receiver)[0] == world.granted_view()


def test_allowlist_refusal_names_the_url_and_writes_nothing(world: World, receiver: Receiver) -> None:
    body = {"grant_id": str(world.grant.pk), "name": "x", "kind": "webhook", "url": "http://10.20.30.40:8080/hook"}
    resp = client_for(world.consumer).post(API, body, content_type="application/json")
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "host_not_allowed" and err["details"]["field"] == "url"
    assert not Subscription.objects.exists() and not AuditEvent.objects.filter(action="subscription.created").exists()
    # A host taken off the allowlist after creation is refused at send time: nothing goes out, it is a failure.
    created = subscribe(world, receiver.url)
    for entry in AllowedHost.objects.filter(active=True):
        deactivate_allowed_host(actor=None, entry=entry)
    assert deliver_due() == {"failed": 1}
    sub = Subscription.objects.get(pk=created["id"])
    assert receiver.requests == [] and "url refused" in sub.last_error and sub.consecutive_failures == 1


def test_commit_hook_kicks_the_delivery_job(world: World, receiver: Receiver,
                                            django_capture_on_commit_callbacks: Any) -> None:
    subscribe(world, receiver.url)
    ScheduledJob.objects.filter(name="subscriptions.deliver").update(kicked=False)
    with django_capture_on_commit_callbacks(execute=True):
        world.change(upserts=[{**person(1), "person_name": "改名"}])
    assert ScheduledJob.objects.get(name="subscriptions.deliver").kicked
    ScheduledJob.objects.filter(name="subscriptions.deliver").update(kicked=False)
    on_changes_committed(world.dataset.pk)
    assert ScheduledJob.objects.get(name="subscriptions.deliver").kicked


def test_a_leased_subscription_is_not_delivered_twice_and_old_log_rows_are_purged(world: World,
                                                                                   receiver: Receiver) -> None:
    created = subscribe(world, receiver.url)
    sub = Subscription.objects.get(pk=created["id"])
    # Another worker holds the lease: this one neither lists it as due nor can claim it.
    Subscription.objects.filter(pk=sub.pk).update(lease_owner="other", lease_until=timezone.now() + dt.timedelta(
        seconds=60))
    assert deliver_due() == {} and deliver_one(sub.pk) == "busy" and receiver.requests == []
    # An expired lease (its worker died) is taken over.
    Subscription.objects.filter(pk=sub.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert deliver_one(sub.pk) == "delivered" and len(receiver.requests) == 1
    old = Delivery.objects.create(subscription=sub, first_seq=1, last_seq=1, count=1, status="ok",
                                  created_at=timezone.now() - dt.timedelta(days=31))
    deliver_due()
    assert not Delivery.objects.filter(pk=old.pk).exists() and Delivery.objects.filter(subscription=sub).exists()


def test_a_broken_subscription_does_not_hold_up_the_others(world: World, receiver: Receiver) -> None:
    broken = subscribe(world, receiver.url)["id"]
    healthy = subscribe(world, receiver.url)["id"]
    Subscription.objects.filter(pk=broken).update(in_flight={"kind": "bogus"})
    stats = deliver_due()
    assert stats == {"error": 1, "delivered": 1}
    assert {r.payload["subscription"] for r in receiver.requests} == {healthy}
    row = Subscription.objects.get(pk=broken)
    assert row.lease_owner == "" and "internal error" in row.last_error and row.next_attempt_at > timezone.now()
