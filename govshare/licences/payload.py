"""The signed form of a licence and of a signing-key certification (pure functions, no database).

A licence's canonical payload is the dict

    {"type_code", "number", "holder_id", "holder_name", "fields", "issuer", "valid_from", "valid_to", "issued_at"}

(``issuer`` is the issuing department's 统一社会信用代码, dates ``YYYY-MM-DD``, ``valid_to`` null for a licence
without expiry, ``issued_at`` UTC ``YYYY-MM-DDTHH:MM:SSZ``, field values strings), serialised as sorted-key
compact JSON in UTF-8 (:func:`serialise`) and signed with SM2 (SM3 digest, default user ID) by the issuing
department's key. The same bytes are rebuilt from the stored row on every verification: a field edited in the
database, or a presented payload that differs, no longer matches the signature.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from govshare.core.identifiers import IdentifierError, validate_resident_id, validate_uscc
from govshare.licences.choices import HolderKind

PAYLOAD_KEYS = ("type_code", "number", "holder_id", "holder_name", "fields", "issuer", "valid_from", "valid_to",
                "issued_at")
KEY_CERT_PURPOSE = "govshare-licence-signing-key-v1"


def serialise(payload: Mapping[str, Any]) -> bytes:
    """Deterministic bytes of a payload: sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def utc_timestamp(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, UTC) of an aware datetime."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def whole_seconds(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def canonical(*, type_code: str, number: str, holder_id: str, holder_name: str, fields: Mapping[str, str],
              issuer: str, valid_from: dt.date, valid_to: dt.date | None, issued_at: dt.datetime) -> dict[str, Any]:
    return {
        "type_code": type_code, "number": number, "holder_id": holder_id, "holder_name": holder_name,
        "fields": dict(fields), "issuer": issuer, "valid_from": valid_from.isoformat(),
        "valid_to": valid_to.isoformat() if valid_to else None, "issued_at": utc_timestamp(issued_at),
    }


def normalise_holder_id(value: str, kind: str | None = None) -> str:
    """The holder's 公民身份号码 (GB 11643) or 统一社会信用代码 (GB 32100), validated and upper-cased.

    With ``kind`` only that kind is accepted; without it (a lookup) either is. Raises :class:`IdentifierError`.
    """
    if not isinstance(value, str):
        raise IdentifierError("必须是字符串 (must be a string)", code="format")
    text = unicodedata.normalize("NFKC", value).strip().upper()
    if kind == HolderKind.PERSON:
        return validate_resident_id(text)
    if kind == HolderKind.COMPANY:
        return validate_uscc(text)
    try:
        return validate_resident_id(text)
    except IdentifierError:
        pass
    try:
        return validate_uscc(text)
    except IdentifierError:
        raise IdentifierError("不是有效的公民身份号码或统一社会信用代码 (neither a valid resident ID nor a USCC)",
                              code="checksum") from None


def key_certificate(*, department_code: str, key_id: str, public_key: str, valid_from: dt.datetime,
                    node_code: str) -> dict[str, Any]:
    return {"purpose": KEY_CERT_PURPOSE, "department": department_code, "key_id": key_id, "public_key": public_key,
            "valid_from": utc_timestamp(valid_from), "node": node_code}


def key_certificate_message(**kw: Any) -> bytes:
    """The bytes the node key signs to certify a department key (JSON, so never an audit checkpoint string)."""
    return serialise(key_certificate(**kw))


def add_years(start: dt.date, years: int) -> dt.date:
    """The last day of a validity of ``years`` years starting on ``start`` (2024-03-01 + 5 → 2029-02-28)."""
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February into a common year
        anniversary = start.replace(year=start.year + years, day=28) + dt.timedelta(days=1)
    return anniversary - dt.timedelta(days=1)
