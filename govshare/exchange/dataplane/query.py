"""POST /dp/v1/query: records of a resource as a grant shows them.

Two forms:

- by key: ``{"resource": CODE, "keys": [...], "items": [...]?}`` — at most ``DATAPLANE_MAX_KEYS`` keys, one
  indexed query. Records come back in the order of the keys asked for; a key that is missing, or whose record
  is outside the grant's row filter, is simply absent from ``records`` (no list of missing keys, no count of
  them: the answer for "absent" and "not yours" is the same).
- by filter: ``{"resource": CODE, "filters": {column: value | [values] | null}?, "filter": "row-filter text"?,
  "cursor"?, "limit"?, "items"?}`` — filters over *plain* items only (403 ``mode_not_granted`` otherwise), in
  key order, paginated by an opaque cursor (SM4-GCM encrypted and authenticated: a changed cursor is 422
  ``bad_cursor``; it is bound to the grant, the filter and the items).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from govshare.core.crypto import hkdf_sm3, sm3_hex, sm4_decrypt, sm4_encrypt
from govshare.core.crypto.errors import CryptoError
from govshare.exchange import rowfilter
from govshare.exchange.choices import ItemMode
from govshare.exchange.dataplane import records
from govshare.exchange.dataplane.cache import GrantInfo
from govshare.exchange.dataplane.conf import Conf
from govshare.exchange.dataplane.responses import DataPlaneError

KEY_MAX_LENGTH = 128
_CURSOR_AAD = b"govshare/dataplane/cursor/v1"


def bad(message: str, field: str | None = None) -> DataPlaneError:
    return DataPlaneError("bad_request", message, {"field": field} if field else {})


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise bad("请求体不是有效的 UTF-8 JSON (body is not UTF-8 JSON)") from None
    if not isinstance(payload, dict):
        raise bad("请求体须为 JSON 对象 (body must be a JSON object)")
    return payload


def resource_code(payload: dict[str, Any]) -> str:
    code = payload.get("resource")
    if not isinstance(code, str) or not code.strip() or len(code) > 64:
        raise bad("resource 须为资源代码 (resource code required)", "resource")
    return code.strip()


def check_key(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > KEY_MAX_LENGTH:
        raise bad(f"{field} 须为 1–{KEY_MAX_LENGTH} 个字符的字符串 (a non-empty string)", field)
    return value


def requested_items(grant: GrantInfo, payload: dict[str, Any]) -> list[str]:
    """The columns to return: the grant's readable items, or the subset asked for (in published order)."""
    readable = grant.readable()
    asked = payload.get("items")
    if asked is None:
        return readable
    if not isinstance(asked, list) or not asked or not all(isinstance(a, str) for a in asked):
        raise bad("items 须为信息项列表 (items must be a list of column names)", "items")
    for name in asked:
        mode = grant.items.get(name)
        if mode is None:
            raise DataPlaneError("item_not_granted", details={"item": name})
        if mode == ItemMode.VERIFY_ONLY:
            raise DataPlaneError("mode_not_granted", "仅核验的信息项不能查询 (verify_only items are never returned)",
                                 {"item": name, "mode": mode})
    wanted = set(asked)
    return [c for c in readable if c in wanted]


# ---------------------------------------------------------------------------------------------------------------
# Cursors
# ---------------------------------------------------------------------------------------------------------------


def _cursor_key() -> bytes:
    return hkdf_sm3(settings.SECRET_KEY.encode("utf-8"), info=_CURSOR_AAD, length=16)


def encode_cursor(grant_id: str, binding: str, after: str) -> str:
    raw = json.dumps({"v": 1, "g": grant_id, "b": binding, "k": after}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(sm4_encrypt(_cursor_key(), raw, associated_data=_CURSOR_AAD)).decode().rstrip("=")


def decode_cursor(cursor: Any, grant_id: str, binding: str) -> str:
    """The key to continue after; 422 ``bad_cursor`` for anything not made by :func:`encode_cursor` for this
    grant, filter and item list."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > 2048:
        raise DataPlaneError("bad_cursor")
    try:
        blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(sm4_decrypt(_cursor_key(), blob, associated_data=_CURSOR_AAD))
    except (ValueError, CryptoError):
        raise DataPlaneError("bad_cursor") from None
    if payload.get("v") != 1 or payload.get("g") != grant_id or payload.get("b") != binding:
        raise DataPlaneError("bad_cursor", "游标不属于本次查询条件 (cursor belongs to another query)")
    after = payload.get("k")
    if not isinstance(after, str):
        raise DataPlaneError("bad_cursor")
    return after


# ---------------------------------------------------------------------------------------------------------------
# The plan (validated against the grant, no database) and its execution
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class QueryPlan:
    columns: list[str]
    keys: list[str] | None = None
    extra: rowfilter.RowFilter | None = None
    after: str | None = None
    limit: int = 50
    binding: str = ""


def _filters_to_json(filters: Any) -> dict[str, Any]:
    if not isinstance(filters, dict) or not filters:
        raise bad("filters 须为 {信息项: 值} 对象 (filters must be an object)", "filters")
    terms: list[dict[str, Any]] = []
    for name, value in filters.items():
        if value is None:
            terms.append({"field": name, "op": "is_null"})
        elif isinstance(value, list):
            terms.append({"field": name, "op": "in", "value": value})
        else:
            terms.append({"field": name, "op": "eq", "value": value})
    return {"all": terms}


def _parse_filter(grant: GrantInfo, spec: Any, field: str) -> rowfilter.RowFilter:
    columns = grant.resource.columns
    names = set(spec) if isinstance(spec, dict) and field == "filters" else set()
    records.filter_fields_check(grant, {n for n in names if n in columns})
    types = {c.name: c.data_type for c in columns.values() if c.data_type in rowfilter.DATA_TYPES}
    source = _filters_to_json(spec) if field == "filters" else spec
    if field == "filter" and not isinstance(spec, str | dict):
        raise bad("filter 须为行过滤文本或 JSON (filter must be text or JSON)", "filter")
    try:
        parsed = rowfilter.parse(source, allowed_fields=types)
    except rowfilter.RowFilterError as exc:
        raise DataPlaneError("bad_filter", str(exc), {"field": exc.field or field, "position": exc.position,
                                                       "path": exc.path}) from None
    records.filter_fields_check(grant, set(parsed.fields))
    return parsed


def plan_query(grant: GrantInfo, payload: dict[str, Any], conf: Conf) -> QueryPlan:
    unknown = set(payload) - {"resource", "keys", "items", "filters", "filter", "cursor", "limit", "order_by"}
    if unknown:
        raise bad(f"未知字段: {', '.join(sorted(unknown))} (unknown fields)", sorted(unknown)[0])
    columns = requested_items(grant, payload)
    order_by = payload.get("order_by")
    if order_by is not None:
        if not isinstance(order_by, str):
            raise bad("order_by 须为信息项名 (a column name)", "order_by")
        records.filter_fields_check(grant, {order_by.lstrip("-")})
        if order_by != grant.resource.key_column:
            raise bad("目前只支持按主键升序排序 (only ascending key order is supported)", "order_by")
    if "keys" in payload:
        if set(payload) & {"filters", "filter", "cursor", "limit"}:
            raise bad("keys 不能与 filters/filter/cursor/limit 同时使用 (keys or filters, not both)", "keys")
        keys = payload["keys"]
        if not isinstance(keys, list) or not keys or len(keys) > conf.max_keys:
            raise bad(f"keys 须为 1–{conf.max_keys} 个查询键 (1 to {conf.max_keys} keys)", "keys")
        normalized = [records.normalize_key(check_key(k, "keys"), grant.resource) for k in keys]
        return QueryPlan(columns=columns, keys=list(dict.fromkeys(normalized)))
    if "filters" not in payload and "filter" not in payload:
        raise bad("须提供 keys 或 filters/filter (keys or filters required)", "keys")
    extra = None
    if "filters" in payload:
        extra = _parse_filter(grant, payload["filters"], "filters")
    if payload.get("filter") not in (None, ""):
        text = _parse_filter(grant, payload["filter"], "filter")
        extra = text if extra is None else rowfilter.combine(extra, text)
    limit = payload.get("limit", conf.page_size)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= conf.max_page_size:
        raise bad(f"limit 须为 1–{conf.max_page_size} 的整数 (integer 1..{conf.max_page_size})", "limit")
    binding = sm3_hex(json.dumps({"f": extra.to_json() if extra else {}, "c": columns}, sort_keys=True,
                                 ensure_ascii=False))[:32]
    after = decode_cursor(payload["cursor"], grant.id, binding) if payload.get("cursor") is not None else None
    return QueryPlan(columns=columns, extra=extra, after=after, limit=limit, binding=binding)


def run_query(grant: GrantInfo, plan: QueryPlan, conf: Conf) -> tuple[dict[str, Any], list[str]]:
    """The answer and the keys that were looked up (for the audit's key HMACs)."""
    key_plain = grant.items.get(grant.resource.key_column) == ItemMode.PLAIN
    if plan.keys is not None:
        found = records.fetch_by_keys(grant, plan.keys)
        out: list[dict[str, Any]] = [{"key": k, "data": records.project(grant, found[k], plan.columns)}
                                     for k in plan.keys if k in found]
        return {"ok": True, "resource": grant.resource.code, "count": len(out), "records": out}, plan.keys
    page, after = records.scan(grant, extra=plan.extra, after=plan.after, want=plan.limit, budget=conf.scan_budget)
    out = [{"key": k if key_plain else None, "data": records.project(grant, rec, plan.columns)} for k, rec in page]
    # (keys of the key column appear only when that item is granted plain)
    cursor = encode_cursor(grant.id, plan.binding, after) if after is not None else None
    return ({"ok": True, "resource": grant.resource.code, "count": len(out), "records": out, "next_cursor": cursor},
            [k for k, _ in page])
