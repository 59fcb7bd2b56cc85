"""POST /dp/v1/verify (核验): does the record with this key carry these values? Never the data.

``{"resource": CODE, "key": KEY, "claims": {column: value, ...}}`` → ``{"ok": true, "resource", "all_match",
"matches": {column: bool}}``, or only ``all_match`` when the grant says ``verify_all_match_only``. Any granted
item may be claimed (plain, masked or verify_only). A missing key, and a record outside the grant's row filter,
answer every claim ``false`` with the same shape and the same work (one indexed query) as a mismatch.

Oracle limits (DESIGN.md §3) are counted by :mod:`.limits` before the lookup: per (grant, key HMAC) per day
against ``verify_quota_per_key`` and per grant per day against ``daily_quota``; every distinct claim set is
recorded per (grant, key HMAC, day), and from ``DATAPLANE_VERIFY_ENUMERATION_THRESHOLD`` distinct claims on the
app writes an alert event ``dataplane.verify_enumeration_alert``.
"""

from __future__ import annotations

import hmac
import json
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from govshare.core.crypto import blind_index
from govshare.exchange.dataplane import records
from govshare.exchange.dataplane.audit import key_hmac
from govshare.exchange.dataplane.cache import Column, GrantInfo
from govshare.exchange.dataplane.query import bad, check_key, resource_code
from govshare.exchange.dataplane.responses import DataPlaneError

__all__ = ["VerifyPlan", "plan_verify", "resource_code", "run_verify"]

CLAIM_MAX_LENGTH = 512
CLAIM_PURPOSE = "dataplane_verify_claim"
_TRUE = frozenset({"true", "1", "是", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "否", "no", "n", "f"})


@dataclass(frozen=True)
class VerifyPlan:
    key: str
    key_hmac: str
    claims: dict[str, str]
    claim_hash: str


def _claim_text(value: Any, column: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if not isinstance(value, str) or len(value) > CLAIM_MAX_LENGTH:
        raise bad(f"claims.{column} 须为字符串、数字或布尔值 (string, number or boolean)", f"claims.{column}")
    return unicodedata.normalize("NFKC", value).strip()


def plan_verify(grant: GrantInfo, payload: dict[str, Any]) -> VerifyPlan:
    unknown = set(payload) - {"resource", "key", "claims"}
    if unknown:
        raise bad(f"未知字段: {', '.join(sorted(unknown))} (unknown fields)", sorted(unknown)[0])
    key = records.normalize_key(check_key(payload.get("key"), "key"), grant.resource)
    claims = payload.get("claims")
    if not isinstance(claims, dict) or not claims:
        raise bad("claims 须为 {信息项: 值} 对象 (claims must be a non-empty object)", "claims")
    clean: dict[str, str] = {}
    for column in sorted(claims):
        if column not in grant.items:
            raise DataPlaneError("item_not_granted", details={"item": column})
        clean[column] = _claim_text(claims[column], column)
    canonical = json.dumps({"k": key, "c": clean}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return VerifyPlan(key=key, key_hmac=key_hmac(key), claims=clean,
                      claim_hash=blind_index(canonical, purpose=CLAIM_PURPOSE))


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def same(column: Column, stored: Any, claimed: str) -> bool:
    """Whether a claimed value equals the stored one, by the column's type (identifiers ignore case)."""
    present = stored is not None and stored != ""
    text = str(stored).strip() if present else ""
    if column.identifier:
        text, claimed = text.upper(), claimed.upper()
    if column.data_type in ("integer", "decimal"):
        a, b = _decimal(text), _decimal(claimed)
        if a is not None and b is not None:
            return present and a == b
    elif column.data_type == "boolean":
        a_true, b_true = text.lower() in _TRUE, claimed.lower() in _TRUE
        a_false, b_false = text.lower() in _FALSE, claimed.lower() in _FALSE
        return present and ((a_true and b_true) or (a_false and b_false))
    equal = hmac.compare_digest(text.encode("utf-8"), claimed.encode("utf-8"))
    return present and equal


def run_verify(grant: GrantInfo, plan: VerifyPlan) -> dict[str, Any]:
    record = records.fetch_by_keys(grant, [plan.key]).get(plan.key)
    columns = grant.resource.columns
    matches = {c: same(columns[c], record.get(c) if record is not None else None, v) for c, v in plan.claims.items()}
    all_match = record is not None and all(matches.values())
    if grant.verify_all_match_only:
        return {"ok": True, "resource": grant.resource.code, "all_match": all_match}
    return {"ok": True, "resource": grant.resource.code, "all_match": all_match, "matches": matches}
