"""Authentication and authorization of one data-plane call (DESIGN.md §4 "Credentials").

Order of checks: signing headers present → AppKey known → HMAC-SM3 signature (so that nothing else is told to a
caller without the secret) → credential not revoked or expired, system active → timestamp inside the window.
The nonce is remembered by :mod:`.limits` in the same transaction as the counters. Then, per resource: grant
(revoked / expired / suspended at grant, system or department scope), exchange mode, SM2 signature for L4,
business references (operator, 办件编号, 事项编码, purpose) for L3 and L4.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from govshare.core.crypto import get_sm2_provider
from govshare.core.crypto.errors import CryptoError
from govshare.exchange.choices import GrantStatus, SuspensionScope
from govshare.exchange.dataplane import signing
from govshare.exchange.dataplane.cache import Credential, GrantInfo, Snapshot, System
from govshare.exchange.dataplane.responses import DataPlaneError
from govshare.registry.choices import CredentialStatus

REFERENCE_LIMITS = {"operator": 64, "case_number": 64, "item_code": 64, "purpose": 200}


def header(environ: Mapping[str, Any], name: str) -> str:
    """A request header by its HTTP name (``X-GS-AppKey`` → ``HTTP_X_GS_APPKEY``)."""
    return str(environ.get("HTTP_" + name.upper().replace("-", "_"), "")).strip()


def _reference(environ: Mapping[str, Any], name: str, field: str) -> str:
    raw = header(environ, name)
    if not raw:
        return ""
    if not raw.isascii():  # raw UTF-8 sent without percent-encoding arrives as latin-1 in WSGI
        try:
            raw = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise DataPlaneError("bad_request", f"请求头 {name} 编码无效 (use percent-encoded UTF-8)",
                                 {"header": name}) from None
    try:
        value = unquote(raw, errors="strict").strip()
    except UnicodeDecodeError:
        raise DataPlaneError("bad_request", f"请求头 {name} 编码无效 (use percent-encoded UTF-8)",
                             {"header": name}) from None
    limit = REFERENCE_LIMITS[field]
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise DataPlaneError("bad_request", f"请求头 {name} 过长或含控制字符 (at most {limit} characters)",
                             {"header": name})
    return value


@dataclass
class Caller:
    """Who calls, as far as it is known: filled step by step so that a denial is audited with what is known."""

    app_key: str = ""
    credential: Credential | None = None
    system: System | None = None
    authenticated: bool = False
    timestamp: str = ""
    nonce: str = ""
    canonical: str = ""
    sm2_signature: str = ""
    operator: str = ""
    case_number: str = ""
    item_code: str = ""
    purpose: str = ""

    @property
    def label(self) -> str:
        name = self.system.name if self.system else ""
        return f"{self.app_key} {name}".strip() if self.authenticated else f"unverified:{self.app_key}"


def read_references(environ: Mapping[str, Any], caller: Caller) -> None:
    caller.operator = _reference(environ, signing.HEADER_OPERATOR, "operator")
    caller.case_number = _reference(environ, signing.HEADER_CASE_NUMBER, "case_number")
    caller.item_code = _reference(environ, signing.HEADER_ITEM_CODE, "item_code")
    caller.purpose = _reference(environ, signing.HEADER_PURPOSE, "purpose")


def authenticate(environ: Mapping[str, Any], caller: Caller, *, method: str, path: str, query: str, body: bytes,
                 snap: Snapshot, now: dt.datetime, window: int) -> None:
    """Check the signing headers; fills ``caller`` (raises :class:`DataPlaneError`)."""
    caller.app_key = header(environ, signing.HEADER_APP_KEY)[:64]
    caller.timestamp = header(environ, signing.HEADER_TIMESTAMP)
    caller.nonce = header(environ, signing.HEADER_NONCE)
    signature = header(environ, signing.HEADER_SIGNATURE)
    caller.sm2_signature = header(environ, signing.HEADER_SM2_SIGNATURE)
    if not (caller.app_key and caller.timestamp and caller.nonce and signature):
        raise DataPlaneError("missing_credentials")
    if not signing.TIMESTAMP_RE.fullmatch(caller.timestamp):
        raise DataPlaneError("bad_request", "X-GS-Timestamp 须为 Unix 秒数 (unix seconds)",
                             {"header": "X-GS-Timestamp"})
    if not signing.NONCE_RE.fullmatch(caller.nonce):
        raise DataPlaneError("bad_request", "X-GS-Nonce 须为 16–64 个字符 [A-Za-z0-9._~-] (16-64 characters)",
                             {"header": "X-GS-Nonce"})
    cred = snap.credential(caller.app_key)
    if cred is None:
        raise DataPlaneError("unknown_app_key")
    caller.credential = cred
    caller.system = snap.system(cred.system_id)
    try:
        caller.canonical = signing.canonical_string(method, path, query, body, caller.timestamp, caller.nonce)
    except UnicodeDecodeError:
        raise DataPlaneError("bad_request", "查询参数不是有效的 UTF-8 百分号编码 (query is not UTF-8)") from None
    if not signing.signature_matches(cred.secret, caller.canonical, signature):
        raise DataPlaneError("bad_signature", details={"canonical_request_sm3": _sm3(caller.canonical)})
    caller.authenticated = True
    if cred.status == CredentialStatus.REVOKED:
        raise DataPlaneError("credential_revoked")
    if cred.expires_at is not None and cred.expires_at <= now:
        raise DataPlaneError("credential_expired", details={"expired_at": cred.expires_at.isoformat()})
    if caller.system is None or not caller.system.active:
        raise DataPlaneError("system_inactive")
    skew = int(caller.timestamp) - int(now.timestamp())
    if abs(skew) > window:
        raise DataPlaneError("stale_timestamp", details={"server_time": int(now.timestamp()), "window": window})


def _sm3(text: str) -> str:
    from govshare.core.crypto import sm3_hex

    return sm3_hex(text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------------------------
# Authorization
# ---------------------------------------------------------------------------------------------------------------


def _suspension_scope(snap: Snapshot, grant: GrantInfo, system: System) -> str | None:
    if grant.status == GrantStatus.SUSPENDED or snap.suspended(SuspensionScope.GRANT, grant.id):
        return SuspensionScope.GRANT
    if snap.suspended(SuspensionScope.SYSTEM, system.id):
        return SuspensionScope.SYSTEM
    for dept in {system.department_id, grant.consumer_id, grant.provider_id}:
        if snap.suspended(SuspensionScope.DEPARTMENT, dept):
            return SuspensionScope.DEPARTMENT
    return None


def resolve_grant(snap: Snapshot, caller: Caller, resource_code: str, exchange_mode: str,
                  today: dt.date) -> GrantInfo:
    """The grant under which the system may call ``resource_code`` today, or the reason why there is none.

    An unknown resource and a resource the system holds no grant for answer alike (``no_grant``). With several
    grants, the usable one that allows the exchange mode and ends last wins; otherwise the most telling refusal
    is given."""
    system = caller.system
    assert system is not None
    grants = snap.grants_for(system.id, resource_code)
    if not grants:
        raise DataPlaneError("no_grant", details={"resource": resource_code})
    refusals: list[DataPlaneError] = []
    usable: list[GrantInfo] = []
    for g in grants:
        if g.status == GrantStatus.REVOKED:
            refusals.append(DataPlaneError("grant_revoked", details={"grant": g.id}))
            continue
        scope = _suspension_scope(snap, g, system)
        if scope is not None:
            refusals.append(DataPlaneError("grant_suspended", details={"grant": g.id, "scope": scope}))
            continue
        if g.status == GrantStatus.EXPIRED or g.valid_to < today or g.valid_from > today:
            refusals.append(DataPlaneError("grant_expired", details={
                "grant": g.id, "valid_from": g.valid_from.isoformat(), "valid_to": g.valid_to.isoformat()}))
            continue
        usable.append(g)
    if not usable:
        order = {"grant_suspended": 0, "grant_expired": 1, "grant_revoked": 2}
        raise min(refusals, key=lambda e: order.get(e.code, 9))
    with_mode = [g for g in usable if exchange_mode in g.modes]
    if not with_mode:
        granted = sorted(set().union(*(g.modes for g in usable)))
        raise DataPlaneError("exchange_mode_not_granted", details={"mode": exchange_mode, "granted": granted})
    return max(with_mode, key=lambda g: (g.valid_to, g.id))


def check_level(grant: GrantInfo, caller: Caller) -> None:
    """L4: the SM2 signature of the system over the canonical string. L3 and L4: the business references."""
    level = grant.resource.level
    if level >= 4:
        system = caller.system
        assert system is not None
        if not caller.sm2_signature:
            raise DataPlaneError("sm2_signature_required")
        if not system.sm2_public_key:
            raise DataPlaneError("sm2_key_not_registered")
        try:
            signature = bytes.fromhex(caller.sm2_signature)
            ok = get_sm2_provider().verify(system.sm2_public_key, caller.canonical.encode("utf-8"), signature)
        except (ValueError, CryptoError):
            ok = False
        if not ok:
            raise DataPlaneError("bad_sm2_signature")
    if level >= 3:
        for code, value in (("missing_case_number", caller.case_number), ("missing_item_code", caller.item_code),
                            ("missing_operator", caller.operator), ("missing_purpose", caller.purpose)):
            if not value:
                raise DataPlaneError(code, details={"level": f"L{level}"})
