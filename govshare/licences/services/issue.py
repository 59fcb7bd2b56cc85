"""Issuing (签发) and revoking (注销) licences: one from the API, many from a mounted source dataset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.core.crypto import blind_index, encrypt_secret, get_sm2_provider
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.core.identifiers import IdentifierError
from govshare.core.masking import mask
from govshare.licences import workflow
from govshare.licences.choices import LicenceAction, LicenceStatus, ValidityRule
from govshare.licences.models import Licence, LicenceType
from govshare.licences.payload import add_years, canonical, normalise_holder_id, serialise, whole_seconds
from govshare.licences.services import keys
from govshare.licences.services.common import clean_text, is_issuer, is_platform, user_or_none

HOLDER_PURPOSE = "licence_holder"
FIELD_VALUE_LIMIT = 2000


def holder_index(holder_id: str) -> str:
    return blind_index(holder_id, purpose=HOLDER_PURPOSE)


@dataclass(frozen=True)
class IssueSpec:
    """What the issuer states; the platform adds the type code, issuer, key, times and signature."""

    holder_id: str
    holder_name: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    number: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


def require_issuer(actor: Any, licence_type: LicenceType) -> None:
    if not is_platform(actor) and not is_issuer(actor, licence_type.department_id):
        raise PermissionDenied("只有颁发部门可以签发或注销该类证照 (issuing department only)")


def _clean_fields(licence_type: LicenceType, values: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise ValidationFailed("照面信息须为对象 (fields must be an object)", field="fields")
    defined = {f["name"]: f for f in licence_type.fields}
    unknown = sorted(set(values) - set(defined))
    if unknown:
        raise ValidationFailed(f"证照类型没有信息项: {', '.join(unknown)} (unknown field)",
                               field=f"fields.{unknown[0]}")
    out: dict[str, str] = {}
    for name, spec in defined.items():
        raw = values.get(name)
        if isinstance(raw, bool) or isinstance(raw, float):
            raise ValidationFailed(f"信息项 {name} 须为字符串 (strings only)", field=f"fields.{name}")
        text = clean_text(str(raw) if isinstance(raw, int) else raw, field=f"fields.{name}",
                          limit=FIELD_VALUE_LIMIT, required=bool(spec.get("required")), label=f"信息项 {name}")
        if text:
            out[name] = text
    return out


def _validity(licence_type: LicenceType, spec: IssueSpec, today: dt.date) -> tuple[dt.date, dt.date | None]:
    start = spec.valid_from or today
    if start > today:
        raise ValidationFailed("有效期起不能晚于今天 (valid_from cannot be in the future)", field="valid_from")
    rule = licence_type.validity_rule
    if rule == ValidityRule.GIVEN_AT_ISSUE:
        if spec.valid_to is None:
            raise ValidationFailed("该类证照须在签发时填写有效期至 (valid_to required)", field="valid_to")
        if spec.valid_to < start:
            raise ValidationFailed("有效期至不能早于有效期起 (valid_to before valid_from)", field="valid_to")
        return start, spec.valid_to
    if spec.valid_to is not None:
        raise ValidationFailed("有效期由证照类型规则确定，不能填写 (valid_to is set by the type's rule)",
                               field="valid_to")
    if rule == ValidityRule.FIXED_YEARS:
        return start, add_years(start, int(licence_type.validity_years or 1))
    return start, None


def _clean_number(number: str | None) -> str | None:
    if number is None or (isinstance(number, str) and not number.strip()):
        return None
    return clean_text(number, field="number", limit=64, label="证照编号")


def _generate_number(licence_type: LicenceType, today: dt.date) -> str:
    """``<type code>-<year>-<6-digit sequence>``, the sequence per type (row-locked)."""
    locked = LicenceType.objects.select_for_update().get(pk=licence_type.pk)
    while True:
        locked.last_number += 1
        number = f"{locked.code}-{today.year}-{locked.last_number:06d}"
        if not Licence.objects.filter(number=number).exists():
            LicenceType.objects.filter(pk=locked.pk).update(last_number=locked.last_number)
            return number


def issue_in_transaction(actor: Any, licence_type: LicenceType, spec: IssueSpec, *,
                         source: tuple[Any, str] | None = None) -> Licence:
    """Validate, sign and store one licence (inside the caller's transaction)."""
    if not licence_type.active:
        raise Conflict("该证照类型已停用 (licence type inactive)")
    try:
        holder_id = normalise_holder_id(spec.holder_id, licence_type.holder_kind)
    except IdentifierError as exc:
        raise ValidationFailed(f"持证主体代码无效: {exc.message}", field="holder_id") from None
    holder_name = clean_text(spec.holder_name, field="holder_name", limit=200, label="持证主体")
    values = _clean_fields(licence_type, spec.fields)
    today = timezone.localdate()
    valid_from, valid_to = _validity(licence_type, spec, today)
    number = _clean_number(spec.number)
    if number is not None and Licence.objects.filter(number=number).exists():
        raise Conflict(f"证照编号已存在: {number} (licence number taken)", details={"field": "number"})
    number = number or _generate_number(licence_type, today)
    department = licence_type.department
    key = keys.active_key(department)
    issued_at = whole_seconds(timezone.now())
    payload = canonical(type_code=licence_type.code, number=number, holder_id=holder_id, holder_name=holder_name,
                        fields=values, issuer=department.uscc, valid_from=valid_from, valid_to=valid_to,
                        issued_at=issued_at)
    signature = get_sm2_provider().sign(keys.signing_material(key), key.public_key, serialise(payload))
    expired = valid_to is not None and valid_to < today
    holder_token = encrypt_secret(holder_id, purpose=HOLDER_PURPOSE)
    try:
        with transaction.atomic():  # a savepoint: a number taken at the same moment is a Conflict, not a 500
            licence = Licence.objects.create(
                node_id=licence_type.node_id, licence_type=licence_type, number=number,
                holder_kind=licence_type.holder_kind, holder_id_enc=holder_token,
                holder_index=holder_index(holder_id), holder_masked=mask("id_number", holder_id) or "",
                holder_name=holder_name, fields=values, issuer=department,
                issuer_code=department.uscc, valid_from=valid_from, valid_to=valid_to, issued_at=issued_at,
                signing_key=key, signature=signature.hex(),
                status=LicenceStatus.EXPIRED if expired else LicenceStatus.VALID,
                expired_at=timezone.now() if expired else None, issued_by=user_or_none(actor),
                source_dataset=source[0] if source else None, source_key=source[1] if source else "")
    except IntegrityError:
        raise Conflict(f"证照编号已存在: {number} (licence number taken)", details={"field": "number"}) from None
    record_event(actor=actor, action="licences.issued", target_type="licence", target_id=str(licence.pk),
                 data={"number": number, "type_code": licence_type.code, "key_id": key.key_id,
                       "status": licence.status, "source": str(source[0].pk) if source else None})
    return licence


def issue_licence(*, actor: Any, licence_type: LicenceType, spec: IssueSpec) -> Licence:
    """Issue one licence, signed by the issuing department's active key."""
    require_issuer(actor, licence_type)
    with transaction.atomic():
        return issue_in_transaction(actor, licence_type, spec)


def revoke_licence(*, actor: Any, licence: Licence, reason: str) -> Licence:
    """注销 with a reason (issuing department only); effective on the next verification or lookup."""
    require_issuer(actor, licence.licence_type)
    reason = clean_text(reason, field="reason", limit=500, label="注销理由")
    with transaction.atomic():
        locked = Licence.objects.select_for_update().get(pk=licence.pk)
        target = workflow.transition(locked.status, LicenceAction.REVOKE)
        if target is None:
            raise Conflict(f"当前状态“{locked.get_status_display()}”不能注销 (cannot revoke)",
                           details={"status": locked.status})
        previous = locked.status
        locked.status, locked.revoked_at, locked.revoke_reason = target, timezone.now(), reason
        locked.save(update_fields=["status", "revoked_at", "revoke_reason", "updated_at"])
        record_event(actor=actor, action="licences.revoked", target_type="licence", target_id=str(locked.pk),
                     data={"number": locked.number, "from": previous, "reason": reason})
    return locked
