"""Discrepancies (多元校核差异) of a fused chunk: opened, kept, reopened and resolved, and the disputes
(疑义数据) raised against the authoritative source when one opens.

Values are stored encrypted (SM4, ``encrypt_secret`` purpose ``baselibs.discrepancy``) so they can be shown
masked to the data office and the authoritative department; each has an HMAC-SM3 blind index of its
normalised form (purpose ``baselibs.value``), so a disagreement seen again unchanged costs no decryption and
no write beyond ``last_seen``. Nothing in a dispute's evidence is a plain value: it carries the blind indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from govshare.baselibs.choices import DiscrepancyStatus, Resolution
from govshare.baselibs.conf import PLATFORM_ACTOR
from govshare.baselibs.models import BaseLibrary, Discrepancy
from govshare.baselibs.services.plan import Disagreement, Fused, Plan
from govshare.core.crypto import blind_index, decrypt_secret, encrypt_secret
from govshare.core.errors import NotFound
from govshare.quality.choices import DisputeCategory, DisputeOrigin
from govshare.quality.services.disputes import raise_dispute

VALUE_PURPOSE = "baselibs.discrepancy"
HASH_PURPOSE = "baselibs.value"


def value_hash(normalised: str | None) -> str:
    return blind_index(normalised, purpose=HASH_PURPOSE) if normalised else ""


def seal(value: str | None) -> str:
    return encrypt_secret(value, purpose=VALUE_PURPOSE) if value is not None else ""


def unseal(token: str) -> str | None:
    """The plain value of a stored token (``None`` for a missing value). Callers mask it before showing it."""
    return decrypt_secret(token, purpose=VALUE_PURPOSE).decode("utf-8") if token else None


@dataclass
class SyncResult:
    opened: int = 0
    resolved: int = 0
    disputes: int = 0


def sync_discrepancies(plan: Plan, fused: Fused, *, keys: Iterable[str], now: dt.datetime) -> SyncResult:
    """Bring the discrepancies of ``keys`` in line with what this chunk found (inside the chunk's transaction)."""
    library = plan.library
    result = SyncResult()
    keys = list(keys)
    deleted = set(fused.absent)
    existing = {(d.key, d.field, d.cross_check_id): d
                for d in Discrepancy.objects.filter(library=library, key__in=keys)}
    found: set[tuple[str, str, Any]] = set()
    touched: list[Any] = []
    to_create: list[Discrepancy] = []
    opened: list[tuple[Discrepancy, Disagreement]] = []
    for dis in fused.disagreements:
        marker = (dis.key, dis.field, dis.cross_check.pk)
        found.add(marker)
        a_hash, c_hash = value_hash(dis.authoritative_norm), value_hash(dis.cross_check_norm)
        d = existing.get(marker)
        if d is None:
            d = Discrepancy(library=library, key=dis.key, field=dis.field, authoritative=dis.authoritative,
                            cross_check=dis.cross_check, authoritative_value=seal(dis.authoritative_value),
                            cross_check_value=seal(dis.cross_check_value), authoritative_hash=a_hash,
                            cross_check_hash=c_hash, first_seen=now, last_seen=now)
            to_create.append(d)
            opened.append((d, dis))
            continue
        if d.status == DiscrepancyStatus.OPEN and (d.authoritative_hash, d.cross_check_hash) == (a_hash, c_hash) \
                and d.authoritative_id == dis.authoritative.pk:
            touched.append(d.pk)
            continue
        reopening = d.status != DiscrepancyStatus.OPEN
        d.authoritative = dis.authoritative
        d.authoritative_value, d.cross_check_value = seal(dis.authoritative_value), seal(dis.cross_check_value)
        d.authoritative_hash, d.cross_check_hash = a_hash, c_hash
        d.last_seen = now
        update = ["authoritative", "authoritative_value", "cross_check_value", "authoritative_hash",
                  "cross_check_hash", "last_seen", "updated_at"]
        if reopening:
            d.status, d.resolution, d.resolved_at = DiscrepancyStatus.OPEN, "", None
            d.first_seen = now
            d.times_opened += 1
            update += ["status", "resolution", "resolved_at", "first_seen", "times_opened"]
            opened.append((d, dis))
        d.save(update_fields=update)
    Discrepancy.objects.bulk_create(to_create, batch_size=500)
    if touched:
        Discrepancy.objects.filter(pk__in=touched).update(last_seen=now)
    result.opened = len(opened)
    # Open ones not found again are over: they agree now, the cross-check lost its value, or the record went.
    closing: dict[Resolution, list[Any]] = {}
    for marker, d in existing.items():
        if d.status != DiscrepancyStatus.OPEN or marker in found:
            continue
        key = marker[0]
        if key in deleted:
            reason = Resolution.RECORD_DELETED
        elif marker in fused.cross_missing:
            reason = Resolution.CROSS_CHECK_MISSING
        elif marker in fused.authoritative_missing:
            reason = Resolution.AUTHORITATIVE_MISSING
        elif marker in fused.examined:
            reason = Resolution.AGREED
        else:  # a binding no longer compared (e.g. removed): leave it
            continue
        closing.setdefault(reason, []).append(d.pk)
    for reason, pks in closing.items():
        Discrepancy.objects.filter(pk__in=pks).update(status=DiscrepancyStatus.RESOLVED, resolution=reason,
                                                      resolved_at=now, last_seen=now, updated_at=now)
        result.resolved += len(pks)
    for d, dis in opened:
        if _dispute(library, plan, d, dis):
            result.disputes += 1
    return result


def _dispute(library: BaseLibrary, plan: Plan, d: Discrepancy, dis: Disagreement) -> bool:
    """Raise (or find) the dispute against the authoritative source; False when there is no source record
    to attach it to (a grouped field: the value is a set drawn from many records, or none)."""
    auth = dis.authoritative
    if auth.match_column != auth.dataset.key_column:
        return False
    f = plan.defn.field(dis.field)
    cross = dis.cross_check.dataset.resource
    reason = (f"基础库“{library.name}”多元校核：{cross.provider.name}《{cross.name}》的“{f.name}”与本部门数据不一致，"
              f"请核实 (cross-check by {cross.code} disagrees on {dis.field})")
    evidence = {"library": library.code, "discrepancy": str(d.pk), "field": dis.field,
                "cross_check_resource": cross.code, "cross_check_department": cross.provider.name,
                "cross_check_column": dis.cross_check.column, "authoritative_hash": d.authoritative_hash,
                "cross_check_hash": d.cross_check_hash}
    category = DisputeCategory.MISSING if dis.authoritative_value is None else DisputeCategory.INCONSISTENT
    try:
        dispute = raise_dispute(actor=PLATFORM_ACTOR, dataset=auth.dataset, record_key=dis.key, column=auth.column,
                                reason=reason, category=category, evidence=evidence, origin=DisputeOrigin.FUSION)
    except NotFound:  # the record left the source between reading and now: the next run sees it
        return False
    Discrepancy.objects.filter(pk=d.pk).update(dispute_id=str(dispute.pk))
    d.dispute_id = str(dispute.pk)
    return True
