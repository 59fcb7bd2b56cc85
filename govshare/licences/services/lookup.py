"""一号申请: every valid licence of one holder (身份证号 or 统一社会信用代码), for a case (办件编号) of a
service item (事项编码), recorded as a 用证记录 with an audit event that carries the HMAC of the holder id.

One service function, two entry points: the data plane (department systems, under a ``query`` grant on the
licence library resource; :mod:`govshare.licences.dataplane`) and the control-plane API for window staff
(``window_clerk``, within a daily quota per clerk: setting ``GOVSHARE['LICENCE_CLERK_DAILY_QUOTA']``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.services import audit_key_hmac, record_event
from govshare.core.errors import PermissionDenied, TooManyRequests, ValidationFailed
from govshare.core.identifiers import IdentifierError
from govshare.licences.choices import LicenceStatus, UseChannel, VerifyStatus
from govshare.licences.models import Licence, LicenceUse
from govshare.licences.payload import normalise_holder_id, serialise
from govshare.licences.services.common import clean_text, user_or_none
from govshare.licences.services.issue import holder_index
from govshare.licences.services.verify import check, with_relations
from govshare.organizations.models import Node

DEFAULT_CLERK_DAILY_QUOTA = 200


def clerk_daily_quota() -> int:
    return int(getattr(settings, "GOVSHARE", {}).get("LICENCE_CLERK_DAILY_QUOTA", DEFAULT_CLERK_DAILY_QUOTA))


def parse_holder(value: Any) -> str:
    try:
        return normalise_holder_id(value)
    except IdentifierError as exc:
        raise ValidationFailed(f"持证主体代码无效: {exc.message} (holder)", field="holder") from None


def library_record(licence: Licence, holder_id: str) -> dict[str, Any]:
    """A licence as a row of the licence library resource (its columns: see services.library.LIBRARY_ITEMS)."""
    return {
        "holder_id": holder_id, "holder_name": licence.holder_name, "license_type_code": licence.licence_type.code,
        "license_name": licence.licence_type.name, "license_number": licence.number,
        "issuing_authority": licence.issuer.name, "issued_on": timezone.localdate(licence.issued_at).isoformat(),
        "valid_until": licence.valid_to.isoformat() if licence.valid_to else "",
        "license_data": serialise(licence.fields or {}).decode("utf-8"),
    }


def valid_licences(*, node_id: Any, holder_id: str, today: dt.date | None = None) -> list[Licence]:
    """The holder's licences on the node that verify as valid (tampered rows are never handed out)."""
    today = today or timezone.localdate()
    candidates = (with_relations().filter(node_id=node_id, holder_index=holder_index(holder_id),
                                          status=LicenceStatus.VALID).order_by("licence_type__code", "number"))
    return [lic for lic in candidates if check(lic, today=today).status == VerifyStatus.VALID]


@dataclass(frozen=True)
class Lookup:
    use: LicenceUse
    licences: list[Licence]
    records: list[dict[str, Any]]  # library records (holder_id included) of the licences, same order


def _check_quota(user: Any) -> None:
    """Inside the transaction: lock the clerk's row so that two requests cannot both take the last unit."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))
    used = LicenceUse.objects.filter(user=user, channel=UseChannel.WINDOW, created_at__gte=start).count()
    quota = clerk_daily_quota()
    if used >= quota:
        raise TooManyRequests(f"今日查询次数已达上限 {quota} 次 (daily lookup quota reached)",
                              details={"quota": quota, "used": used})


def holder_lookup(*, actor: Any, node: Node, holder: str, case_number: str, item_code: str, channel: str,
                  operator: str = "", system_id: Any = None, grant_id: str = "",
                  visible: Callable[[Mapping[str, Any]], bool] | None = None) -> Lookup:
    """Every valid licence of ``holder`` on ``node`` (those ``visible`` accepts, e.g. a grant's row filter),
    recorded as one LicenceUse and one ``licences.holder_lookup`` audit event with the holder's key HMAC."""
    holder_id = parse_holder(holder)
    case_number = clean_text(case_number, field="case_number", limit=64, label="办件编号")
    item_code = clean_text(item_code, field="item_code", limit=64, label="事项编码")
    operator = clean_text(operator, field="operator", limit=64, required=False)
    user = user_or_none(actor)
    with transaction.atomic():
        if channel == UseChannel.WINDOW:
            _check_quota(user)
        found = valid_licences(node_id=node.pk, holder_id=holder_id)
        pairs = [(lic, library_record(lic, holder_id)) for lic in found]
        if visible is not None:
            pairs = [(lic, rec) for lic, rec in pairs if visible(rec)]
        use = LicenceUse.objects.create(
            node=node, channel=channel, user=user, system_id=system_id, grant_id=grant_id,
            actor_label=(actor if isinstance(actor, str) else getattr(actor, "username", ""))[:200],
            operator=operator or (getattr(actor, "username", "") if user else ""), case_number=case_number,
            item_code=item_code, holder_index=holder_index(holder_id))
        use.licences.set([lic for lic, _ in pairs])
        record_event(actor=actor, action="licences.holder_lookup", target_type="licence_use", target_id=str(use.pk),
                     data={"channel": channel, "case_number": case_number, "item_code": item_code,
                           "operator": use.operator, "system": str(system_id or ""), "grant": grant_id,
                           "licences": [lic.number for lic, _ in pairs],
                           "key_hmacs": [audit_key_hmac(holder_id)]})
    return Lookup(use=use, licences=[lic for lic, _ in pairs], records=[rec for _, rec in pairs])


def window_lookup(*, actor: Any, holder: str, case_number: str, item_code: str) -> Lookup:
    """The window clerk's 一号申请 on the clerk's own node (quota per clerk per day)."""
    if getattr(actor, "role", None) != Role.WINDOW_CLERK:
        raise PermissionDenied("只有窗口人员可以按持证主体查询证照 (window staff only)")
    try:
        return holder_lookup(actor=actor, node=actor.node, holder=holder, case_number=case_number,
                             item_code=item_code, channel=UseChannel.WINDOW)
    except TooManyRequests as exc:
        with transaction.atomic():
            record_event(actor=actor, action="licences.holder_lookup", target_type="licence_use", result="denied",
                         data={"channel": UseChannel.WINDOW, "reason": "quota", **exc.details,
                               "key_hmacs": [audit_key_hmac(parse_holder(holder))]})
        raise
