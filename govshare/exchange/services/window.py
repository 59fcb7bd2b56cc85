"""Verified facts for the service window (窗口受理): a window clerk reads one record of the node's 人口 or 法人
base library (基础库) under the grant held by the clerk's department's window system.

The window is a consumer like any department system, only reached through the web side: the same grant
resolution as the data plane (:func:`govshare.exchange.dataplane.auth.resolve_grant`: revoked, expired and
suspended grants, the ``query`` mode), the same level checks (L3 needs 办件编号, 事项编码, operator and purpose;
L4 needs the system's SM2 signature, which a browser cannot give, so L4 libraries are refused), the grant's
rate limit and daily quota (:mod:`govshare.exchange.dataplane.limits`), the same record read and projection
(:func:`govshare.exchange.dataplane.records.fetch_by_keys` applies the row filter,
:func:`~govshare.exchange.dataplane.records.project` the masks; ``verify_only`` items are never read out), and
an audit event carrying the key's HMAC exactly as a data-plane query records it (so "who looked up this person"
finds window look-ups too).

Which grant: the active information systems of the clerk's department that hold a usable ``query`` grant on
the library's catalog resource (the library of the clerk's own node, matching the holder: 公民身份号码 → 人口
基础库 ``population``, 统一社会信用代码 → 法人基础库 ``legal_person``); with several, the one whose grant ends last
(the data plane's rule between grants of one system).

One call is one 办件 look-up: it runs the clerk's 一号申请 first (:func:`govshare.licences.services.lookup.
window_lookup`: the daily quota per clerk ``GOVSHARE['LICENCE_CLERK_DAILY_QUOTA']``, the 用证记录 and its audit
event), so facts and licences together take one unit of the clerk's quota, and a clerk over the quota reads
nothing (``TooManyRequests``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import audit_key_hmac, record_event
from govshare.baselibs.models import BaseLibrary
from govshare.core.errors import NotFound, PermissionDenied, ValidationFailed
from govshare.core.identifiers import IdentifierError
from govshare.exchange.choices import ExchangeMode, ItemMode
from govshare.exchange.dataplane import limits, records
from govshare.exchange.dataplane.auth import Caller, check_level, resolve_grant
from govshare.exchange.dataplane.cache import GrantInfo, Snapshot, read_epoch
from govshare.exchange.dataplane.conf import get_conf
from govshare.exchange.dataplane.responses import DataPlaneError

if TYPE_CHECKING:
    from govshare.licences.services.lookup import Lookup

ACTION = "window.facts"
LIBRARY_FOR_KIND = {"person": "population", "company": "legal_person"}


class FactsStatus:
    FOUND = "found"  # the record, as the grant shows it
    NOT_FOUND = "not_found"  # no such record (or outside the grant's row filter: the same answer)
    NO_GRANT = "no_grant"  # no system of the clerk's department holds a usable query grant
    NO_LIBRARY = "no_library"  # the clerk's node has no such base library
    REFUSED = "refused"  # a grant exists but this call is refused (level, rate limit, the grant's quota)


@dataclasses.dataclass(frozen=True)
class Fact:
    column: str
    label: str  # 信息项名称
    value: Any
    masked: bool


@dataclasses.dataclass(frozen=True)
class WindowFacts:
    status: str
    holder_kind: str
    holder_id: str
    lookup: Lookup  # the licences' 一号申请 of the same 办件 (licences, 用证记录)
    library: BaseLibrary | None = None
    system_name: str = ""
    grant_id: str = ""
    reason: str = ""  # the data plane's refusal code (no_grant, grant_expired, over_daily_quota, ...)
    message: str = ""
    facts: tuple[Fact, ...] = ()
    event_id: Any = None

    @property
    def found(self) -> bool:
        return self.status == FactsStatus.FOUND


def _holder(holder_kind: str, holder_key: str) -> str:
    from govshare.licences.payload import normalise_holder_id

    if holder_kind not in LIBRARY_FOR_KIND:
        raise ValidationFailed("主体类型须为 person 或 company (holder kind)", field="holder_kind")
    try:
        return normalise_holder_id(holder_key, holder_kind)
    except IdentifierError as exc:
        raise ValidationFailed(f"证件号码无效: {exc.message} (holder)", field="holder") from None


def _library(actor: Any, holder_kind: str, library_id: Any) -> BaseLibrary | None:
    qs = BaseLibrary.objects.select_related("resource").filter(node_id=actor.node_id,
                                                               code=LIBRARY_FOR_KIND[holder_kind])
    if library_id is None:
        return qs.first()
    try:
        found = qs.filter(pk=library_id).first()
    except (ValueError, DjangoValidationError):  # a malformed id
        found = None
    if found is None:  # another node's library, another kind, or none at all: the same answer
        raise NotFound("基础库不存在 (base library not found)")
    return found


_REFUSAL_ORDER = {"grant_suspended": 0, "grant_expired": 1, "exchange_mode_not_granted": 2, "grant_revoked": 3,
                  "no_grant": 9}


def _resolve(actor: Any, library: BaseLibrary, case_number: str, item_code: str, today: dt.date
             ) -> tuple[GrantInfo, Caller] | DataPlaneError:
    """The usable query grant of the clerk's department's systems on the library, or the most telling refusal.
    A fresh snapshot of the authorization data (nothing cached across calls on the web side)."""
    from govshare.registry.models import InformationSystem

    snap = Snapshot(epoch=read_epoch())
    code = library.resource.code
    usable: list[tuple[GrantInfo, Caller]] = []
    refusals: list[DataPlaneError] = []
    for system_id in (InformationSystem.objects.filter(department_id=actor.department_id, active=True)
                      .order_by("name").values_list("pk", flat=True)):
        system = snap.system(str(system_id))
        if system is None:
            continue
        caller = Caller(app_key=f"window:{actor.username}"[:64], system=system, authenticated=True,
                        operator=actor.username[:64], case_number=case_number, item_code=item_code)
        try:
            grant = resolve_grant(snap, caller, code, ExchangeMode.QUERY, today)
        except DataPlaneError as exc:
            refusals.append(exc)
            continue
        if grant.resource.id == str(library.resource_id):
            usable.append((grant, caller))
    if usable:
        return max(usable, key=lambda pair: (pair[0].valid_to, pair[0].id))
    if not refusals:
        return DataPlaneError("no_grant", details={"resource": code})
    return min(refusals, key=lambda e: _REFUSAL_ORDER.get(e.code, 5))


def _admit(grant: GrantInfo, now: dt.datetime, today: dt.date) -> None:
    """Count the read against the grant's rate limit and daily quota, like a data-plane call (a fresh nonce:
    a web request cannot be replayed by its signature, the session and CSRF token protect it)."""
    conf = get_conf()
    counters = limits.counters_for(minute=timezone.localtime(now), day=today, rate_limit=grant.rate_limit_per_minute,
                                   daily_quota=grant.daily_quota)
    limits.admit(nonce_value=f"window:{uuid.uuid4().hex}",
                 nonce_expires=now + dt.timedelta(seconds=conf.timestamp_window + 60),
                 grant_db_id=grant.db_id, day=today, counters=counters)


def window_facts(*, actor: Any, case_number: str, item_code: str, holder_kind: str, holder_key: str,
                 library_id: Any = None) -> WindowFacts:
    """One 办件 at the window: the holder's licences (the clerk's 一号申请, one unit of the daily quota) and the
    holder's record in the node's 人口 / 法人 base library as the window system's grant shows it.

    ``library_id`` names the library explicitly (default: the clerk's node's library for ``holder_kind``);
    a library outside the clerk's node answers ``NotFound`` like a missing one. Raises ``TooManyRequests``
    when the clerk's quota is used up (nothing is read) and ``ValidationFailed`` for a bad identifier."""
    from govshare.licences.services.lookup import window_lookup

    if getattr(actor, "role", None) != Role.WINDOW_CLERK or not getattr(actor, "department_id", None):
        raise PermissionDenied("只有窗口人员可以查询基础库信息 (window staff only)")
    holder_id = _holder(holder_kind, holder_key)
    library = _library(actor, holder_kind, library_id)
    found = window_lookup(actor=actor, holder=holder_id, case_number=case_number, item_code=item_code)
    use = found.use  # the cleaned 办件编号 and 事项编码
    base = WindowFacts(status=FactsStatus.NO_LIBRARY, holder_kind=holder_kind, holder_id=holder_id,
                       library=library, lookup=found)
    data: dict[str, Any] = {"mode": "window", "case_number": use.case_number, "item_code": use.item_code,
                            "operator": actor.username, "licence_use": str(use.pk),
                            "library": LIBRARY_FOR_KIND[holder_kind], "key_hmacs": [audit_key_hmac(holder_id)]}
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        if library is None:
            event = record_event(actor=actor, action=ACTION, target_type="base_library", result="denied",
                                 data={**data, "resource": "", "result": "no_library"})
            return dataclasses.replace(base, reason="no_library", event_id=event.pk,
                                       message="本节点尚未建立该基础库 (no such base library on this node)")
        data["resource"] = library.resource.code
        resolved = _resolve(actor, library, use.case_number, use.item_code, today)
        if isinstance(resolved, DataPlaneError):
            event = record_event(actor=actor, action=ACTION, target_type="resource", target_id=library.resource.code,
                                 result="denied", data={**data, "grant": "", "result": resolved.code})
            return dataclasses.replace(base, status=FactsStatus.NO_GRANT, reason=resolved.code,
                                       message=resolved.message, event_id=event.pk)
        grant, caller = resolved
        caller.purpose = grant.purpose[:200]
        system = caller.system
        assert system is not None
        data.update(grant=grant.id, system=system.id, purpose=caller.purpose)
        granted = dataclasses.replace(base, library=library, system_name=system.name, grant_id=grant.id)
        try:
            check_level(grant, caller)
            _admit(grant, now, today)
        except DataPlaneError as exc:
            event = record_event(actor=actor, action=ACTION, target_type="grant", target_id=grant.id,
                                 result="denied", data={**data, "result": exc.code})
            return dataclasses.replace(granted, status=FactsStatus.REFUSED, reason=exc.code, message=exc.message,
                                       event_id=event.pk)
        key = records.normalize_key(holder_id, grant.resource)
        columns = grant.readable()
        record = records.fetch_by_keys(grant, [key]).get(key)
        facts: tuple[Fact, ...] = ()
        if record is not None:
            shown = records.project(grant, record, columns)
            facts = tuple(Fact(column=c, label=grant.resource.columns[c].label, value=shown[c],
                               masked=grant.items.get(c) == ItemMode.MASKED) for c in columns)
        event = record_event(actor=actor, action=ACTION, target_type="grant", target_id=grant.id,
                             data={**data, "items": columns, "result": "ok", "count": 1 if record else 0})
    status = FactsStatus.FOUND if record is not None else FactsStatus.NOT_FOUND
    return dataclasses.replace(granted, status=status, facts=facts, event_id=event.pk)
