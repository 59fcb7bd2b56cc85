"""The delivery job (``subscriptions.deliver``): push the change log of each active subscription to its webhook
or table, one batch at a time, in sequence order, at least once, with the same idempotency key on every resend.

Per subscription and batch:

1. **claim** it with one conditional UPDATE (active, due, lease free or expired), so two workers never deliver
   one subscription at once;
2. **check the grant** in the database (revoked / expired / mode withdrawn: pause; suspended: wait);
3. **fix the batch**: the boundaries (``first_seq``–``last_seq``, or a snapshot page's key range) are written
   to ``in_flight`` BEFORE anything is sent; a batch already in flight is rebuilt from its boundaries, so a
   worker killed after sending and before advancing resends exactly the same batch with the same key;
4. **project** every change for the grant (:func:`govshare.exchange.dataplane.changes.project_change`);
   a batch with nothing to deliver just advances the cursor;
5. **send**; on success advance the cursor, clear ``in_flight``, write a :class:`Delivery` row and the audit
   event ``subscription.delivered`` (count, key HMACs); on failure count it, retry after a backoff, and after
   ``SUBSCRIPTION_MAX_FAILURES`` pause the subscription and notify the consumer department.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from govshare.audit.services import audit_key_hmac, record_event
from govshare.connectors.drivers import Endpoint
from govshare.core import backoff, periodic
from govshare.core.crypto import decrypt_secret, sm3_hex
from govshare.datasets.changes import changes_since, current_seq
from govshare.exchange.dataplane.cache import GrantInfo
from govshare.exchange.dataplane.changes import delivery_key, project_change, snapshot_page, usable_grant
from govshare.exchange.models import Notification
from govshare.subscriptions import conf
from govshare.subscriptions.choices import DeliveryStatus, SnapshotState, SubscriptionKind, SubscriptionStatus
from govshare.subscriptions.models import Delivery, Subscription
from govshare.subscriptions.senders import Item, SendFailed, post_webhook, webhook_body, write_table
from govshare.subscriptions.services import PASSWORD_PURPOSE, SECRET_PURPOSE, WORKER

log = logging.getLogger("govshare.subscriptions")


@dataclass
class Batch:
    snapshot: bool
    first_seq: int
    last_seq: int
    items: list[Item]
    keys: list[str]  # real keys of the delivered records (audit key HMACs)
    idempotency_key: str


# ---------------------------------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------------------------------


def deliver_due() -> dict[str, int]:
    """One run: deliver batches of due subscriptions until none is due or ``SUBSCRIPTION_RUN_SECONDS`` passed.
    Idempotent and safe in several workers at once (per-subscription leases)."""
    purge_deliveries()
    stop = time.monotonic() + conf.number("SUBSCRIPTION_RUN_SECONDS")
    stats: Counter[str] = Counter()
    while time.monotonic() < stop:
        ids = due_ids(limit=50)
        progressed = False
        for sid in ids:
            outcome = deliver_one(sid)
            stats[outcome] += 1
            progressed = progressed or outcome in ("delivered", "advanced")
            periodic.heartbeat()
            if time.monotonic() >= stop:
                break
        if not progressed:
            break
    return dict(stats)


def due_ids(*, limit: int, now: dt.datetime | None = None) -> list[Any]:
    """Active subscriptions whose lease is free and that have something to do: a batch in flight, a snapshot
    to send, or committed changes after their cursor."""
    now = now or timezone.now()
    work = Q(in_flight__isnull=False) | Q(snapshot_state=SnapshotState.PENDING) | Q(dataset__last_seq__gt=F("cursor"))
    return list(Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, next_attempt_at__lte=now)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)).filter(work)
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def purge_deliveries() -> int:
    cutoff = timezone.now() - dt.timedelta(days=conf.number("SUBSCRIPTION_DELIVERY_RETENTION_DAYS"))
    ids = list(Delivery.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:5000])
    return Delivery.objects.filter(pk__in=ids).delete()[0] if ids else 0


# ---------------------------------------------------------------------------------------------------------------
# One batch of one subscription
# ---------------------------------------------------------------------------------------------------------------


def _claim(sid: Any, owner: str) -> bool:
    now = timezone.now()
    lease = dt.timedelta(seconds=conf.number("SUBSCRIPTION_LEASE_SECONDS"))
    return Subscription.objects.filter(pk=sid, status=SubscriptionStatus.ACTIVE).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)).update(lease_owner=owner, lease_until=now + lease) == 1


def _mine(sid: Any, owner: str) -> Any:
    return Subscription.objects.filter(pk=sid, lease_owner=owner)


def _release(sid: Any, owner: str, **fields: Any) -> bool:
    return _mine(sid, owner).update(lease_owner="", lease_until=None, **fields) == 1


def deliver_one(sid: Any) -> str:
    """Claim ``sid`` and deliver (at most) one batch. Answers what happened: ``busy`` (another worker holds it),
    ``idle``, ``blocked`` (grant not usable), ``advanced`` (nothing to deliver, cursor moved), ``delivered``,
    ``failed``, ``paused``."""
    owner = uuid.uuid4().hex
    if not _claim(sid, owner):
        return "busy"
    try:
        return _deliver_claimed(sid, owner)
    except Exception as exc:  # a bug or a broken row must not stop the other subscriptions' deliveries
        log.exception("subscriptions: delivery of %s raised; it is looked at again later", sid)
        wait = dt.timedelta(seconds=conf.number("SUBSCRIPTION_GRANT_RECHECK_SECONDS"))
        _release(sid, owner, next_attempt_at=timezone.now() + wait,
                 last_error=f"内部错误 (internal error): {type(exc).__name__}"[:500])
        return "error"
    except BaseException:
        _release(sid, owner)
        raise


def _deliver_claimed(sid: Any, owner: str) -> str:
    sub = Subscription.objects.select_related("grant__resource").get(pk=sid)
    check = usable_grant(sub.grant_id)
    if check.grant is None:
        return _blocked(sub, owner, check.refusal, permanent=check.permanent)
    grant = check.grant
    batch = _fix_batch(sub, owner, grant)
    if batch is None:
        return "idle" if _release(sid, owner) else "busy"
    if batch == "lost":
        return "busy"
    assert isinstance(batch, Batch)
    if not batch.items:
        return "advanced" if _advance(sub, owner, grant, batch, attempt=0, duration_ms=0) else "busy"
    attempt = sub.consecutive_failures + 1
    started = time.monotonic()
    try:
        _send(sub, grant, batch)
    except SendFailed as exc:
        return _failed(sub, owner, batch, str(exc), attempt, _ms(started))
    except Exception as exc:  # a bug or an unexpected driver error: count it as a failure, keep the details
        log.exception("subscriptions: delivery of %s failed unexpectedly", sub.pk)
        return _failed(sub, owner, batch, f"{type(exc).__name__}: {exc}"[:300], attempt, _ms(started))
    return "delivered" if _advance(sub, owner, grant, batch, attempt=attempt, duration_ms=_ms(started)) else "busy"


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _fix_batch(sub: Subscription, owner: str, grant: GrantInfo) -> Batch | str | None:
    """The batch to send (rebuilt from ``in_flight`` when one is pending); ``None`` when there is nothing to do,
    ``"lost"`` when the lease went to another worker meanwhile."""
    flight = sub.in_flight
    if flight is None:
        if sub.snapshot_state == SnapshotState.PENDING:
            seq = sub.snapshot_seq
            if seq is None:  # captured BEFORE the first page is read: replaying from it is idempotent
                seq = current_seq(sub.dataset_id)
            page = snapshot_page(grant, dataset_id=sub.dataset_id, after_key=sub.snapshot_after_key,
                                 want=sub.batch_size, budget=conf.integer("SUBSCRIPTION_SNAPSHOT_SCAN_BUDGET"))
            flight = {"kind": "snapshot", "seq": seq, "after": sub.snapshot_after_key, "end": page.end_key,
                      "final": page.final}
            if not _mine(sub.pk, owner).update(in_flight=flight, snapshot_seq=seq):
                return "lost"
            sub.in_flight, sub.snapshot_seq = flight, seq
            return _snapshot_batch(sub, grant, flight, page.records)
        changes = changes_since(dataset=sub.dataset_id, after=sub.cursor, limit=sub.batch_size)
        if not changes:
            return None
        flight = {"kind": "changes", "first": changes[0].seq, "last": changes[-1].seq}
        if not _mine(sub.pk, owner).update(in_flight=flight):
            return "lost"
        sub.in_flight = flight
        return _changes_batch(sub, grant, changes)
    if flight["kind"] == "snapshot":
        if flight["end"] is None:
            return _snapshot_batch(sub, grant, flight, [])
        page = snapshot_page(grant, dataset_id=sub.dataset_id, after_key=flight["after"], end_key=flight["end"],
                             want=sub.batch_size, budget=conf.integer("SUBSCRIPTION_SNAPSHOT_SCAN_BUDGET"))
        return _snapshot_batch(sub, grant, flight, page.records)
    first, last = int(flight["first"]), int(flight["last"])
    changes = [c for c in changes_since(dataset=sub.dataset_id, after=sub.cursor,
                                        limit=max(sub.batch_size, last - sub.cursor)) if c.seq <= last]
    return _changes_batch(sub, grant, changes, first=first, last=last)


def _changes_batch(sub: Subscription, grant: GrantInfo, changes: list[Any], *, first: int | None = None,
                   last: int | None = None) -> Batch:
    items: list[Item] = []
    keys: list[str] = []
    for change in changes:
        projected = project_change(grant, change)
        if projected is not None:
            op, key, data = projected
            items.append(Item(seq=change.seq, op=op, key=key, data=data))
            keys.append(change.key)
    first = changes[0].seq if first is None else first
    last = changes[-1].seq if last is None else last
    return Batch(snapshot=False, first_seq=first, last_seq=last, items=items, keys=keys,
                 idempotency_key=f"{sub.pk}:{first}-{last}")


def _snapshot_batch(sub: Subscription, grant: GrantInfo, flight: dict[str, Any],
                    records: list[tuple[str, dict[str, Any]]]) -> Batch:
    seq = int(flight["seq"])
    # The page's boundaries name it; as pseudonyms, so a masked key cannot be recovered by hashing candidates.
    bounds = [delivery_key(grant, flight[b]) if flight[b] is not None else "" for b in ("after", "end")]
    page = sm3_hex("\x1f".join(bounds))[:16]
    items = [Item(seq=seq, op="upsert", key=delivery_key(grant, key), data=data) for key, data in records]
    return Batch(snapshot=True, first_seq=seq, last_seq=seq, items=items, keys=[k for k, _ in records],
                 idempotency_key=f"{sub.pk}:snapshot-{seq}:{page}")


def _send(sub: Subscription, grant: GrantInfo, batch: Batch) -> None:
    if sub.kind == SubscriptionKind.WEBHOOK:
        secret = decrypt_secret(sub.secret_enc, purpose=SECRET_PURPOSE).decode("utf-8")
        body = webhook_body(subscription=str(sub.pk), resource=grant.resource.code, first_seq=batch.first_seq,
                            last_seq=batch.last_seq, snapshot=batch.snapshot, items=batch.items)
        post_webhook(url=sub.url, secret=secret, body=body, idempotency_key=batch.idempotency_key,
                     node=sub.node_id, timeout=conf.number("SUBSCRIPTION_WEBHOOK_TIMEOUT_SECONDS"),
                     extra_headers={"X-GS-Subscription": str(sub.pk)})
        return
    password = decrypt_secret(sub.sink_password_enc, purpose=PASSWORD_PURPOSE).decode("utf-8") \
        if sub.sink_password_enc else ""
    endpoint = Endpoint(engine=sub.sink_engine, host=sub.sink_host, port=sub.sink_port,
                        database=sub.sink_database, user=sub.sink_user, password=password)
    write_table(endpoint=endpoint, table=sub.sink_table, key_column=sub.sink_key_column, columns=grant.readable(),
                items=batch.items, node=sub.node_id, timeout=conf.number("SUBSCRIPTION_SINK_TIMEOUT_SECONDS"))


# ---------------------------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------------------------


def _advance(sub: Subscription, owner: str, grant: GrantInfo, batch: Batch, *, attempt: int,
             duration_ms: int) -> bool:
    """Move the cursor past the batch (or the snapshot past the page), in one transaction with the delivery row
    and its audit event. False when the lease was lost (another worker will resend the same batch)."""
    now = timezone.now()
    fields: dict[str, Any] = {"in_flight": None, "consecutive_failures": 0, "last_error": "",
                              "next_attempt_at": now, "updated_at": now}
    flight = sub.in_flight or {}
    if batch.snapshot:
        if flight.get("final", True):
            fields.update(snapshot_state=SnapshotState.DONE, snapshot_after_key=None, cursor=batch.last_seq)
        else:
            fields["snapshot_after_key"] = flight.get("end")
    else:
        fields["cursor"] = batch.last_seq
    if batch.items:
        fields.update(last_delivered_at=now, last_attempt_at=now)
    with transaction.atomic():
        if not _release(sub.pk, owner, **fields):
            transaction.set_rollback(True)
            return False
        if batch.items:
            Delivery.objects.create(subscription=sub, snapshot=batch.snapshot, first_seq=batch.first_seq,
                                    last_seq=batch.last_seq, count=len(batch.items), status=DeliveryStatus.OK,
                                    attempt=attempt, duration_ms=min(duration_ms, 2**31 - 1))
            record_event(actor=WORKER, action="subscription.delivered", target_type="subscription",
                         target_id=str(sub.pk), data={
                             "grant": grant.id, "resource": grant.resource.code, "kind": sub.kind,
                             "snapshot": batch.snapshot, "first_seq": batch.first_seq, "last_seq": batch.last_seq,
                             "count": len(batch.items), "attempt": attempt, "items": grant.readable(),
                             "key_hmacs": list(dict.fromkeys(audit_key_hmac(k) for k in batch.keys))})
    return True


def _failed(sub: Subscription, owner: str, batch: Batch, error: str, attempt: int, duration_ms: int) -> str:
    now = timezone.now()
    failures = sub.consecutive_failures + 1
    wait = backoff.delay(failures, base=conf.number("SUBSCRIPTION_BACKOFF_BASE_SECONDS"),
                         cap=conf.number("SUBSCRIPTION_BACKOFF_CAP_SECONDS"))
    pause = failures >= conf.integer("SUBSCRIPTION_MAX_FAILURES")
    fields: dict[str, Any] = {"consecutive_failures": failures, "last_error": error[:500], "last_attempt_at": now,
                              "next_attempt_at": now + dt.timedelta(seconds=wait), "updated_at": now}
    reason = f"连续 {failures} 次投递失败，已自动暂停 (paused after {failures} failed deliveries): {error}"[:200]
    if pause:
        fields.update(status=SubscriptionStatus.PAUSED, paused_reason=reason)
    with transaction.atomic():
        if not _release(sub.pk, owner, **fields):
            transaction.set_rollback(True)
            return "busy"
        Delivery.objects.create(subscription=sub, snapshot=batch.snapshot, first_seq=batch.first_seq,
                                last_seq=batch.last_seq, count=len(batch.items), status=DeliveryStatus.FAILED,
                                attempt=attempt, duration_ms=min(duration_ms, 2**31 - 1), error=error[:300])
        if pause:
            _auto_pause_records(sub, reason, failures)
    log.warning("subscriptions: batch %s of %s failed (%d): %s", batch.idempotency_key, sub.pk, failures, error)
    return "paused" if pause else "failed"


def _auto_pause_records(sub: Subscription, reason: str, failures: int) -> None:
    record_event(actor=WORKER, action="subscription.paused", target_type="subscription", target_id=str(sub.pk),
                 data={"reason": reason, "automatic": True, "failures": failures, "cursor": sub.cursor})
    Notification.objects.get_or_create(
        dedupe_key=f"subscription_paused:{sub.pk}:{timezone.now().isoformat()}"[:120], defaults={
            "department_id": sub.consumer_id, "node_id": sub.node_id, "kind": "subscription_paused",
            "subject": f"订阅「{sub.name}」已暂停 (subscription paused)"[:200], "body": reason,
            "grant_id": sub.grant_id})


def _blocked(sub: Subscription, owner: str, refusal: str, *, permanent: bool) -> str:
    """The grant does not allow deliveries now: nothing is sent. An ended grant pauses the subscription (and
    tells the consumer); a suspended one is looked at again after ``SUBSCRIPTION_GRANT_RECHECK_SECONDS``."""
    now = timezone.now()
    if not permanent:
        wait = dt.timedelta(seconds=conf.number("SUBSCRIPTION_GRANT_RECHECK_SECONDS"))
        _release(sub.pk, owner, next_attempt_at=now + wait, last_error=f"授权暂不可用 (grant): {refusal}")
        return "blocked"
    reason = f"授权已终止，订阅已暂停 (the grant ended): {refusal}"
    with transaction.atomic():
        if not _release(sub.pk, owner, status=SubscriptionStatus.PAUSED, paused_reason=reason[:200],
                        last_error=reason[:500], updated_at=now):
            transaction.set_rollback(True)
            return "busy"
        _auto_pause_records(sub, reason, sub.consecutive_failures)
    return "paused"
