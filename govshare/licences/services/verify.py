"""Verification (验证): exactly one of valid / revoked / expired / tampered.

``tampered`` comes first: the stored row no longer matches its signature (a field edited in the database), the
holder index does not belong to the stored holder, the signing key's node certification fails, the licence
claims a time outside its key's life, or a presented payload differs from the signed one. Only an intact
licence is then revoked, expired (by status, or ``valid_to`` already past before the periodic job ran) or valid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.core.crypto import CryptoError, decrypt_secret, get_sm2_provider
from govshare.core.errors import NotFound, ValidationFailed
from govshare.licences.choices import LicenceStatus, VerifyStatus
from govshare.licences.models import Licence
from govshare.licences.payload import canonical, serialise
from govshare.licences.services import keys
from govshare.licences.services.issue import HOLDER_PURPOSE, holder_index


@dataclass(frozen=True)
class Verification:
    status: str
    reason: str  # why tampered: signature / holder / holder_index / key_certification / key_window / presented
    licence: Licence
    payload: dict[str, Any] | None  # the signed payload rebuilt from the row (None when it cannot be rebuilt)


def stored_holder_id(licence: Licence) -> str:
    return decrypt_secret(licence.holder_id_enc, purpose=HOLDER_PURPOSE).decode("utf-8")


def payload_of(licence: Licence, holder_id: str) -> dict[str, Any]:
    return canonical(type_code=licence.licence_type.code, number=licence.number, holder_id=holder_id,
                     holder_name=licence.holder_name, fields=licence.fields or {}, issuer=licence.issuer_code,
                     valid_from=licence.valid_from, valid_to=licence.valid_to, issued_at=licence.issued_at)


def _tampered(licence: Licence, reason: str, payload: dict[str, Any] | None = None) -> Verification:
    return Verification(status=VerifyStatus.TAMPERED, reason=reason, licence=licence, payload=payload)


def check(licence: Licence, *, presented: Mapping[str, Any] | None = None, today: dt.date | None = None
          ) -> Verification:
    """Verify one licence (a pure read). ``licence`` should come with ``licence_type`` and ``signing_key``."""
    today = today or timezone.localdate()
    key = licence.signing_key
    if not keys.certification_holds(key, licence.issuer_code):
        return _tampered(licence, "key_certification")
    try:
        holder_id = stored_holder_id(licence)
    except (CryptoError, UnicodeDecodeError):
        return _tampered(licence, "holder")
    try:
        if holder_index(holder_id) != licence.holder_index:
            return _tampered(licence, "holder_index")
    except ValueError:
        return _tampered(licence, "holder")
    if not isinstance(licence.fields, dict) or not all(isinstance(v, str) for v in licence.fields.values()):
        return _tampered(licence, "signature")
    payload = payload_of(licence, holder_id)
    try:
        ok = get_sm2_provider().verify(key.public_key, serialise(payload), bytes.fromhex(licence.signature))
    except (ValueError, CryptoError):
        ok = False
    if not ok:
        return _tampered(licence, "signature", payload)
    if licence.issued_at < key.valid_from or (key.retired_at is not None and licence.issued_at > key.retired_at):
        return _tampered(licence, "key_window", payload)
    if presented is not None:
        try:
            same = serialise(presented) == serialise(payload)
        except (TypeError, ValueError):
            same = False
        if not same:
            return _tampered(licence, "presented", payload)
    if licence.status == LicenceStatus.REVOKED:
        return Verification(status=VerifyStatus.REVOKED, reason="", licence=licence, payload=payload)
    if licence.status == LicenceStatus.EXPIRED or (licence.valid_to is not None and licence.valid_to < today):
        return Verification(status=VerifyStatus.EXPIRED, reason="", licence=licence, payload=payload)
    return Verification(status=VerifyStatus.VALID, reason="", licence=licence, payload=payload)


def with_relations() -> Any:
    return Licence.objects.select_related("licence_type", "signing_key", "issuer")


def verify_number(*, actor: Any, number: str, presented: Mapping[str, Any] | None = None) -> Verification:
    """Verify by licence number (any signed-in user of the platform); audited with the answer."""
    if not isinstance(number, str) or not number.strip() or len(number) > 64:
        raise ValidationFailed("请提供证照编号 (number required)", field="number")
    if presented is not None and not isinstance(presented, Mapping):
        raise ValidationFailed("payload 须为对象 (payload must be an object)", field="payload")
    licence = with_relations().filter(number=number.strip()).first()
    if licence is None:
        raise NotFound("证照不存在 (no such licence)")
    result = check(licence, presented=presented)
    with transaction.atomic():
        record_event(actor=actor, action="licences.verified", target_type="licence", target_id=str(licence.pk),
                     data={"number": licence.number, "status": result.status, "reason": result.reason,
                           "presented": presented is not None})
    return result
