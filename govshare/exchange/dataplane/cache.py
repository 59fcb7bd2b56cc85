"""Per-process cache of credentials, systems, grants and resources, invalidated by the authorization epoch.

Every request reads ``core_authzepoch`` (one small query, :func:`read_epoch`) and asks :meth:`AuthzCache.snapshot`
for the snapshot of that epoch. A snapshot is filled lazily (one credential, one system's grants at a time,
through ``.values()`` queries, no model instances kept) and is replaced as a whole when the epoch moves or it
grows older than ``DATAPLANE_CACHE_MAX_AGE_SECONDS`` (a safety net for changes that do not bump the epoch).

Why this is correct across processes: every change to credentials, grants and suspensions bumps the epoch
in the same transaction (:func:`govshare.core.epoch.bump_authz_epoch`). A request that starts after that commit
reads the new epoch and so never uses a snapshot filled before it. Data loaded into an older snapshot object
by a slower thread stays in that (discarded) object. Dates (grant validity, credential expiry) are kept as
values and compared on every call, so expiry needs no epoch bump.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from govshare.core.crypto import decrypt_secret, hkdf_sm3
from govshare.core.masking import MASK_KINDS
from govshare.core.models.epoch import AuthzEpoch
from govshare.datasets.models import Dataset
from govshare.exchange import rowfilter
from govshare.exchange.choices import ItemMode
from govshare.exchange.models import Grant, GrantItem, Suspension, UsageCounter

logger = logging.getLogger("govshare.dataplane")

IDENTIFIER_VALIDATORS = frozenset({"resident_id", "uscc", "org_code"})
_EPOCH_SQL = f"SELECT value FROM {AuthzEpoch._meta.db_table} WHERE id = 1"  # noqa: S608 - model metadata


def read_epoch() -> int:
    """The authorization epoch: one indexed single-row read per request."""
    with connection.cursor() as cursor:
        cursor.execute(_EPOCH_SQL)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class Credential:
    app_key: str
    secret: bytes
    status: str
    expires_at: Any  # aware datetime or None
    system_id: str


@dataclass(frozen=True, slots=True)
class System:
    id: str
    name: str
    department_id: str
    active: bool
    sm2_public_key: str


@dataclass(frozen=True, slots=True)
class Column:
    """One data item of the resource's published version, with its data element's mask."""

    name: str  # column name
    label: str  # 信息项名称
    data_type: str
    level: int
    mask_kind: str
    mask_params: Mapping[str, Any]
    identifier: bool  # compared upper-case (身份证号 x, 统一社会信用代码)
    is_key: bool


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    db_id: Any  # the resource id as the database driver wants it (raw SQL)
    code: str
    name: str
    level: int
    key_column: str
    columns: Mapping[str, Column]  # in published order


@dataclass(frozen=True, slots=True)
class GrantInfo:
    id: str
    db_id: Any  # the grant id as the database driver wants it (raw SQL)
    resource: Resource
    status: str
    valid_from: Any
    valid_to: Any
    modes: frozenset[str]
    items: Mapping[str, str]  # column -> plain / masked / verify_only (columns of the published version only)
    row_filter: rowfilter.RowFilter
    row_filter_broken: bool
    rate_limit_per_minute: int
    daily_quota: int
    verify_quota_per_key: int
    verify_all_match_only: bool
    purpose: str
    provider_id: str
    consumer_id: str
    watermark_secret: bytes

    def readable(self) -> list[str]:
        """Columns the grant may return (plain or masked), in published order."""
        return [c for c in self.resource.columns if self.items.get(c) in (ItemMode.PLAIN, ItemMode.MASKED)]

    def matches(self, record: Mapping[str, Any]) -> bool:
        """The grant's row filter: the one enforcement point (rowfilter.RowFilter.matches). A filter that no
        longer parses against the resource (a column was removed) matches nothing: fail closed."""
        return not self.row_filter_broken and self.row_filter.matches(record)


@dataclass
class Snapshot:
    epoch: int
    created: float = field(default_factory=time.monotonic)
    credentials: dict[str, Credential] = field(default_factory=dict)
    systems: dict[str, System] = field(default_factory=dict)
    grants: dict[str, dict[str, list[GrantInfo]]] = field(default_factory=dict)  # system -> code -> grants
    resources: dict[str, Resource] = field(default_factory=dict)
    suspensions: frozenset[tuple[str, str]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lookups (each loads on a miss) ----------------------------------------------------------

    def credential(self, app_key: str) -> Credential | None:
        cred = self.credentials.get(app_key)
        if cred is None:
            cred = _load_credential(app_key)
            if cred is not None:
                with self.lock:
                    self.credentials[app_key] = cred
        return cred

    def system(self, system_id: str) -> System | None:
        system = self.systems.get(system_id)
        if system is None:
            system = _load_system(system_id)
            if system is not None:
                with self.lock:
                    self.systems[system_id] = system
        return system

    def grants_for(self, system_id: str, resource_code: str) -> list[GrantInfo]:
        by_code = self.grants.get(system_id)
        if by_code is None:
            by_code = _load_grants(system_id, self)
            with self.lock:
                self.grants[system_id] = by_code
        return by_code.get(resource_code, [])

    def suspended(self, scope: str, target_id: str) -> bool:
        active = self.suspensions
        if active is None:
            active = frozenset((s, str(t)) for s, t in Suspension.objects.filter(active=True)
                               .values_list("scope", "target_id"))
            self.suspensions = active
        return (scope, target_id) in active

    def resource(self, resource_id: str) -> Resource | None:
        res = self.resources.get(resource_id)
        if res is None:
            res = _load_resource(resource_id)
            if res is not None:
                with self.lock:
                    self.resources[resource_id] = res
        return res


class AuthzCache:
    """One per process (or per test "process"): the current snapshot, swapped when the epoch moves."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self, epoch: int, max_age: float) -> Snapshot:
        snap = self._snapshot
        if snap is not None and snap.epoch >= epoch and time.monotonic() - snap.created < max_age:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is None or snap.epoch < epoch or time.monotonic() - snap.created >= max_age:
                snap = Snapshot(epoch=epoch)
                self._snapshot = snap
        return snap

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None


# ---------------------------------------------------------------------------------------------------------------
# Loaders (values() only)
# ---------------------------------------------------------------------------------------------------------------


def _load_credential(app_key: str) -> Credential | None:
    from govshare.registry.models import AppCredential

    row = (AppCredential.objects.filter(app_key=app_key)
           .values("app_key", "secret_enc", "status", "expires_at", "system_id").first())
    if row is None:
        return None
    secret = decrypt_secret(row["secret_enc"], purpose="credential")
    return Credential(app_key=row["app_key"], secret=secret, status=row["status"], expires_at=row["expires_at"],
                      system_id=str(row["system_id"]))


def _load_system(system_id: str) -> System | None:
    from govshare.registry.models import InformationSystem

    row = (InformationSystem.objects.filter(pk=system_id)
           .values("id", "name", "department_id", "active", "sm2_public_key").first())
    if row is None:
        return None
    return System(id=str(row["id"]), name=row["name"], department_id=str(row["department_id"]),
                  active=bool(row["active"]), sm2_public_key=row["sm2_public_key"] or "")


def _load_resource(resource_id: str) -> Resource | None:
    from govshare.catalog.models import DataElement
    from govshare.catalog.models import Resource as ResourceModel

    row = (ResourceModel.objects.filter(pk=resource_id)
           .values("id", "code", "name", "sensitivity", "published_version__snapshot").first())
    if row is None:
        return None
    snap = row["published_version__snapshot"] or {}
    items: list[dict[str, Any]] = list(snap.get("items") or [])
    elements: dict[str, dict[str, Any]] = {
        e["code"]: dict(e) for e in DataElement.objects.filter(code__in=[i.get("element_code") for i in items])
        .values("code", "mask_kind", "mask_params", "validator", "sensitivity")}
    columns: dict[str, Column] = {}
    for item in items:
        el: dict[str, Any] = elements.get(str(item.get("element_code")), {})
        kind = el.get("mask_kind") or "none"
        columns[str(item["column_name"])] = Column(
            name=str(item["column_name"]), label=str(item.get("name") or item["column_name"]),
            data_type=str(item.get("data_type") or "string"),
            level=max(int(item.get("sensitivity") or 1), int(el.get("sensitivity") or 1)),
            mask_kind=kind if kind in MASK_KINDS else "full", mask_params=dict(el.get("mask_params") or {}),
            identifier=el.get("validator") in IDENTIFIER_VALIDATORS, is_key=bool(item.get("is_key")))
    level = max([int(snap.get("sensitivity") or row["sensitivity"] or 1), *(c.level for c in columns.values())])
    key_column = next((c.name for c in columns.values() if c.is_key), "")
    db_id = Dataset._meta.get_field("resource").get_db_prep_save(row["id"], connection)
    return Resource(id=str(row["id"]), db_id=db_id, code=row["code"], name=row["name"], level=level,
                    key_column=key_column, columns=columns)


def _watermark_secret(grant_id: str, token: str) -> bytes:
    if token:
        try:
            return decrypt_secret(token, purpose="watermark")
        except Exception:  # a broken token must not stop deliveries; the fallback is still per grant
            logger.exception("dataplane: watermark secret of grant %s unreadable, using the derived one", grant_id)
    return hkdf_sm3(settings.SECRET_KEY.encode("utf-8"), info=f"govshare/watermark-fallback/{grant_id}".encode())


def _load_grants(system_id: str, snap: Snapshot) -> dict[str, list[GrantInfo]]:
    rows = list(Grant.objects.filter(system_id=uuid.UUID(system_id)).values(
        "id", "resource_id", "status", "valid_from", "valid_to", "modes", "purpose", "row_filter",
        "rate_limit_per_minute", "daily_quota", "verify_quota_per_key", "verify_all_match_only", "provider_id",
        "consumer_id", "watermark_secret_enc"))
    items: dict[str, dict[str, str]] = {}
    for gi in GrantItem.objects.filter(grant_id__in=[r["id"] for r in rows]).values("grant_id", "column_name",
                                                                                   "mode"):
        items.setdefault(str(gi["grant_id"]), {})[gi["column_name"]] = gi["mode"]
    grant_field = UsageCounter._meta.get_field("grant")
    out: dict[str, list[GrantInfo]] = {}
    for r in rows:
        gid = str(r["id"])
        resource = snap.resource(str(r["resource_id"]))
        if resource is None:
            continue
        types = {c.name: c.data_type for c in resource.columns.values() if c.data_type in rowfilter.DATA_TYPES}
        broken = False
        try:
            rf = rowfilter.parse(r["row_filter"] or None, allowed_fields=types)
        except (rowfilter.RowFilterError, ValueError):
            logger.error("dataplane: the row filter of grant %s no longer parses; it matches nothing", gid)
            rf, broken = rowfilter.EMPTY, True
        granted = {c: m for c, m in items.get(gid, {}).items() if c in resource.columns}
        info = GrantInfo(
            id=gid, db_id=grant_field.get_db_prep_save(r["id"], connection), resource=resource, status=r["status"],
            valid_from=r["valid_from"], valid_to=r["valid_to"], modes=frozenset(r["modes"] or ()), items=granted,
            row_filter=rf, row_filter_broken=broken, rate_limit_per_minute=int(r["rate_limit_per_minute"]),
            daily_quota=int(r["daily_quota"]), verify_quota_per_key=int(r["verify_quota_per_key"]),
            verify_all_match_only=bool(r["verify_all_match_only"]), purpose=r["purpose"],
            provider_id=str(r["provider_id"]), consumer_id=str(r["consumer_id"]),
            watermark_secret=_watermark_secret(gid, r["watermark_secret_enc"]))
        out.setdefault(resource.code, []).append(info)
    return out
