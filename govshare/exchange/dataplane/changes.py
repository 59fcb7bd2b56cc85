"""Change-log entries as a grant sees them: the one place where a change is shaped for a consumer.

Used by the subscription pull (``GET /dp/v1/changes``) and by the push deliveries (webhook, table sink) alike, and
built on the same parts as query, verify and file: :meth:`GrantInfo.matches` (the row filter) and
:func:`records.project` (plain as stored, masked with the data element's mask, ``verify_only`` left out).

A change carries the record before (``old``) and after (``data``) it. Against the grant's row filter:

============================  ====================  ===========================================================
old record                    new record            delivered
============================  ====================  ===========================================================
matches                       matches               upsert (unless nothing the grant shows changed: nothing)
matches                       does not match        delete (the record LEFT the grant's view)
does not match / none         matches               upsert (the record ENTERED the view)
does not match / none         does not match        nothing: records outside the filter never leak
matches (op delete)           —                     delete
does not match (op delete)    —                     nothing
============================  ====================  ===========================================================

The key delivered is the record's key when the grant shows the key item in plain; otherwise a stable per-grant
pseudonym (:func:`delivery_key`), so a consumer can still upsert and delete by key without learning it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils import timezone

from govshare.core.crypto import hkdf_sm3, hmac_sm3_hex
from govshare.datasets import sealing
from govshare.datasets.models import Dataset, DatasetRecord
from govshare.exchange.choices import ExchangeMode, GrantStatus, ItemMode, SuspensionScope
from govshare.exchange.dataplane import records
from govshare.exchange.dataplane.cache import GrantInfo, Snapshot, read_epoch

__all__ = ["ChangeLike", "GrantCheck", "SnapshotPage", "delivery_key", "project_change", "project_record",
           "snapshot_page", "usable_grant"]

UPSERT = "upsert"
DELETE = "delete"
PSEUDONYM_PREFIX = "k_"


class ChangeLike(Protocol):
    """What :func:`project_change` reads of :class:`govshare.datasets.changes.Change`."""

    @property
    def key(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any] | None: ...
    @property
    def old(self) -> Mapping[str, Any] | None: ...


def delivery_key(grant: GrantInfo, key: str) -> str:
    """The key as delivered under ``grant``: itself when the key item is granted plain, else a pseudonym
    (``k_`` + 32 hex of HMAC-SM3 under a key derived from the grant's own secret): stable for the grant, useless
    under any other grant, and not reversible by the consumer."""
    if grant.items.get(grant.resource.key_column) == ItemMode.PLAIN:
        return key
    secret = hkdf_sm3(grant.watermark_secret, info=b"govshare/subscription/key-pseudonym/v1")
    return PSEUDONYM_PREFIX + hmac_sm3_hex(secret, key)[:32]


def project_record(grant: GrantInfo, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with the grant's readable items only (plain or masked, in published order)."""
    return records.project(grant, record, grant.readable())


def project_change(grant: GrantInfo, change: ChangeLike) -> tuple[str, str, dict[str, Any] | None] | None:
    """``(op, key, data)`` of ``change`` as the grant sees it, or ``None`` when the grant sees nothing of it.

    ``data`` is ``None`` for a delete. A change that touches only items the grant does not show (the record
    stays inside the filter and its projection is unchanged) is ``None`` as well: the consumer learns nothing
    about items it was not granted, not even that they changed."""
    old_in = change.old is not None and grant.matches(change.old)
    if change.op == DELETE:
        return (DELETE, delivery_key(grant, change.key), None) if old_in else None
    new_in = change.data is not None and grant.matches(change.data)
    if new_in:
        assert change.data is not None
        data = project_record(grant, change.data)
        if old_in and change.old is not None and project_record(grant, change.old) == data:
            return None
        return (UPSERT, delivery_key(grant, change.key), data)
    if old_in:
        return (DELETE, delivery_key(grant, change.key), None)
    return None


# ---------------------------------------------------------------------------------------------------------------
# Snapshot pages: the live records of the granted view, as upserts, in key order
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotPage:
    records: list[tuple[str, dict[str, Any]]]  # (real key, projected data); the caller maps keys for delivery
    end_key: str | None  # the last stored key examined (the next page starts after it); None when nothing was examined
    final: bool  # no live record after end_key


def snapshot_page(grant: GrantInfo, *, dataset_id: Any, after_key: str | None, want: int, budget: int,
                  end_key: str | None = None) -> SnapshotPage:
    """Up to ``want`` live records after ``after_key`` inside the grant's row filter, examining at most about
    ``budget`` rows. With ``end_key`` the page is exactly the records in ``(after_key, end_key]`` (a page sent
    before and sent again: same boundaries, so the same idempotency key); ``want`` then only sizes the reads.
    Key order is the database's (the same for every page, whatever Python's string order says)."""
    generation = Dataset.objects.filter(pk=dataset_id).values_list("generation", flat=True).first()
    if not generation or grant.row_filter_broken:
        return SnapshotPage([], end_key, True)
    base = (DatasetRecord.objects.filter(dataset_id=dataset_id, generation=generation)
            .filter(sealing.prefilter(grant.row_filter, records.sealed_columns(grant.resource))).order_by("key"))
    bounded = base.filter(key__lte=end_key) if end_key is not None else base
    found: list[tuple[str, dict[str, Any]]] = []
    last = after_key
    scanned = 0
    chunk = 500 if end_key is not None else max(1, min(500, want))
    while True:
        rows = list((bounded.filter(key__gt=last) if last is not None else bounded).values_list("key", "data")[:chunk])
        for stored_key, data in rows:
            scanned += 1
            last = stored_key
            key, opened = sealing.open_record(stored_key, data)  # L4 values opened; paging stays on stored keys
            record = opened or {}
            if grant.matches(record):
                found.append((key, project_record(grant, record)))
            if end_key is None and (len(found) >= want or scanned >= budget):
                return SnapshotPage(found, last, not base.filter(key__gt=last).exists())
        if len(rows) < chunk:
            if end_key is not None:
                return SnapshotPage(found, end_key, not base.filter(key__gt=end_key).exists())
            return SnapshotPage(found, last, True)


# ---------------------------------------------------------------------------------------------------------------
# The grant of a push delivery, read from the database for every batch
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantCheck:
    grant: GrantInfo | None
    refusal: str  # "" when usable; otherwise a data-plane error code (grant_revoked, grant_suspended, …)
    permanent: bool  # the refusal cannot go away by itself (revoked, expired, mode withdrawn)


def usable_grant(grant_id: Any, *, today: dt.date | None = None) -> GrantCheck:
    """The grant as the data plane would resolve it now, for a delivery that has no incoming call: a fresh
    snapshot (no process cache), the same status, suspension (grant, system, department), validity and mode
    checks as :func:`auth.resolve_grant`, plus the system being active."""
    from govshare.exchange.models import Grant

    row = Grant.objects.filter(pk=grant_id).values("system_id", "resource__code").first()
    if row is None:
        return GrantCheck(None, "no_grant", True)
    snap = Snapshot(epoch=read_epoch())
    grant = next((g for g in snap.grants_for(str(row["system_id"]), row["resource__code"]) if g.id == str(grant_id)),
                 None)
    if grant is None:
        return GrantCheck(None, "no_grant", True)
    today = today or timezone.localdate()
    if grant.status == GrantStatus.REVOKED:
        return GrantCheck(None, "grant_revoked", True)
    system = snap.system(str(row["system_id"]))
    if grant.status == GrantStatus.SUSPENDED or snap.suspended(SuspensionScope.GRANT, grant.id) or (
            system is not None and snap.suspended(SuspensionScope.SYSTEM, system.id)) or any(
            snap.suspended(SuspensionScope.DEPARTMENT, d) for d in {grant.consumer_id, grant.provider_id}):
        return GrantCheck(None, "grant_suspended", False)
    if system is None or not system.active:
        return GrantCheck(None, "system_inactive", False)
    if grant.status == GrantStatus.EXPIRED or grant.valid_to < today:
        return GrantCheck(None, "grant_expired", True)
    if grant.valid_from > today:
        return GrantCheck(None, "grant_expired", False)
    if ExchangeMode.SUBSCRIPTION not in grant.modes:
        return GrantCheck(None, "exchange_mode_not_granted", True)
    return GrantCheck(grant, "", False)
