"""``GET /dp/v1/changes``: the subscription pull on the data plane (signed like every data-plane call).

Changes after a cursor::

    GET /dp/v1/changes?resource=CODE&after=SEQ&limit=N
    → {"ok", "resource", "changes": [{"seq", "op", "key", "data"}], "next_after", "has_more", "latest_seq"}

Changes are those of the grant's view (:func:`govshare.exchange.dataplane.changes.project_change`): granted items
only, masked per item mode, a record leaving the row filter as a ``delete``, records outside never. Pass
``next_after`` as the next ``after``: it also moves past changes the grant does not see, so they are never read
again.

Initial data for a new consumer (snapshot)::

    GET /dp/v1/changes?resource=CODE&snapshot=1[&after_key=CURSOR]&limit=N
    → {"ok", "resource", "snapshot": true, "changes": [{"seq", "op": "upsert", "key", "data"}],
       "next_after_key", "has_more", "next_after", "latest_seq"}

Page with ``after_key = next_after_key`` until ``has_more`` is false, then pull changes with ``after =
next_after``: the sequence number read BEFORE the first page, so replaying the changes after it converges
(upserts and deletes by key are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govshare.datasets.changes import changes_since, current_seq
from govshare.datasets.models import Dataset
from govshare.exchange.choices import ExchangeMode
from govshare.exchange.dataplane import query, signing
from govshare.exchange.dataplane.app import Call, Endpoint
from govshare.exchange.dataplane.cache import GrantInfo
from govshare.exchange.dataplane.changes import delivery_key, project_change, snapshot_page
from govshare.exchange.dataplane.responses import DataPlaneError, Response, json_response

PATH = "/dp/v1/changes"
PARAMS = ("resource", "after", "limit", "snapshot", "after_key")
_SNAPSHOT_BINDING = "changes-snapshot"
_READ_CHUNK = 500


@dataclass
class PullPlan:
    dataset_id: Any
    latest_seq: int
    limit: int
    snapshot: bool
    after: int = 0  # changes: the cursor; snapshot: the seq to continue from (captured before the first page)
    after_key: str | None = None


def _int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        if not raw.strip().lstrip("-").isdigit() or len(raw) > 19:
            raise ValueError
        return int(raw)
    except ValueError:
        raise query.bad(f"{name} 须为整数 (integer)", name) from None


def payload(call: Call, raw_query: str, body: bytes) -> dict[str, Any]:
    if body:
        raise DataPlaneError("bad_request", "GET 请求不能带请求体 (no body on GET)")
    params: dict[str, str] = {}
    for name, value in signing.query_pairs(raw_query):
        if name not in PARAMS or name in params:
            raise query.bad(f"查询参数无效或重复: {name} (unknown or repeated parameter)", name)
        params[name] = value
    call.resource = query.resource_code(params)
    return params


def plan(call: Call, grant: GrantInfo, params: dict[str, Any]) -> PullPlan:
    conf = call.conf
    snapshot = params.get("snapshot") in ("1", "true")
    if "snapshot" in params and params["snapshot"] not in ("0", "1", "true", "false"):
        raise query.bad("snapshot 须为 1 或 0 (snapshot=1 or 0)", "snapshot")
    limit = _int(params, "limit")
    limit = conf.page_size if limit is None else limit
    if not 1 <= limit <= conf.max_page_size:
        raise query.bad(f"limit 须为 1–{conf.max_page_size} 的整数 (integer 1..{conf.max_page_size})", "limit")
    row = Dataset.objects.filter(resource_id=grant.resource.id).values_list("id", "last_seq").first()
    if row is None:
        raise DataPlaneError("not_mounted")
    dataset_id, latest = row[0], int(row[1])
    call.items = grant.readable()
    call.extra["snapshot"] = snapshot
    if snapshot:
        if "after" in params:
            raise query.bad("快照不接受 after，请用 after_key 翻页 (snapshot pages with after_key)", "after")
        start, after_key = latest, None
        if params.get("after_key"):
            start_key = query.decode_cursor(params["after_key"], grant.id, _SNAPSHOT_BINDING)
            seq, _, after_key = start_key.partition(":")
            start = int(seq)
        return PullPlan(dataset_id=dataset_id, latest_seq=latest, limit=limit, snapshot=True, after=start,
                        after_key=after_key)
    if "after_key" in params:
        raise query.bad("after_key 只用于快照 (after_key belongs to snapshot=1)", "after_key")
    after = _int(params, "after")
    if after is None:
        raise query.bad("after 必填：上次的 next_after，首次为 0 (after is required; 0 the first time)", "after")
    if after < 0:
        raise query.bad("after 不能为负数 (after must not be negative)", "after")
    if after > latest:
        raise DataPlaneError("bad_request", f"after 超出最新序号 {latest} (after is beyond the latest seq)",
                             {"field": "after", "latest_seq": latest})
    call.extra["after"] = after
    return PullPlan(dataset_id=dataset_id, latest_seq=latest, limit=limit, snapshot=False, after=after)


def execute(call: Call, grant: GrantInfo, p: PullPlan) -> Response:
    if p.snapshot:
        return _snapshot(call, grant, p)
    out: list[dict[str, Any]] = []
    keys: list[str] = []
    cursor, scanned, budget = p.after, 0, call.conf.scan_budget
    while len(out) < p.limit and scanned < budget:
        want = min(_READ_CHUNK, budget - scanned)
        changes = changes_since(dataset=p.dataset_id, after=cursor, limit=want)
        for change in changes:
            scanned += 1
            cursor = change.seq
            projected = project_change(grant, change)
            if projected is not None:
                op, key, data = projected
                out.append({"seq": change.seq, "op": op, "key": key, "data": data})
                keys.append(change.key)
                if len(out) >= p.limit:
                    break
        if len(changes) < want:
            break
    latest = max(current_seq(p.dataset_id), cursor)
    call.keys = keys
    call.extra.update({"count": len(out), "next_after": cursor})
    return json_response({"ok": True, "resource": grant.resource.code, "changes": out, "next_after": cursor,
                          "has_more": cursor < latest, "latest_seq": latest})


def _snapshot(call: Call, grant: GrantInfo, p: PullPlan) -> Response:
    page = snapshot_page(grant, dataset_id=p.dataset_id, after_key=p.after_key, want=p.limit,
                         budget=call.conf.scan_budget)
    out = [{"seq": p.after, "op": "upsert", "key": delivery_key(grant, k), "data": d} for k, d in page.records]
    more = not page.final and page.end_key is not None
    next_key = query.encode_cursor(grant.id, _SNAPSHOT_BINDING, f"{p.after}:{page.end_key}") if more else None
    call.keys = [k for k, _ in page.records]
    call.extra.update({"count": len(out), "next_after": p.after})
    return json_response({"ok": True, "resource": grant.resource.code, "snapshot": True, "changes": out,
                          "next_after_key": next_key, "has_more": more, "next_after": p.after,
                          "latest_seq": max(p.latest_seq, p.after)})


# ---------------------------------------------------------------------------------------------------------------
# OpenAPI
# ---------------------------------------------------------------------------------------------------------------

_REF = "#/components/schemas/"
SCHEMAS: dict[str, Any] = {
    "DataPlaneChange": {
        "type": "object", "required": ["seq", "op", "key", "data"],
        "properties": {
            "seq": {"type": "integer", "description": "change sequence number (snapshot rows: the snapshot's seq)"},
            "op": {"type": "string", "enum": ["upsert", "delete"]},
            "key": {"type": "string", "description": "the record key; a per-grant pseudonym (k_…) when the key "
                                                     "item is not granted plain"},
            "data": {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]},
                     "description": "granted items (masked per grant); null for a delete"}},
    },
    "DataPlaneChangesOut": {
        "type": "object", "required": ["ok", "resource", "changes", "next_after", "has_more", "latest_seq"],
        "properties": {
            "ok": {"type": "boolean"}, "resource": {"type": "string"},
            "snapshot": {"type": "boolean"},
            "changes": {"type": "array", "items": {"$ref": _REF + "DataPlaneChange"}},
            "next_after": {"type": "integer", "description": "pass as after next time (also past skipped changes)"},
            "next_after_key": {"type": ["string", "null"], "description": "snapshot: opaque cursor of the next page"},
            "has_more": {"type": "boolean"}, "latest_seq": {"type": "integer"}},
    },
}

OPERATION: dict[str, Any] = {
    "operationId": "dataplane_changes", "summary": "订阅拉取 (changes after a cursor, or a snapshot)",
    "description": "Changes of the grant's view in sequence order: granted items only, masked per grant, a record "
                   "leaving the row filter as a delete, records outside never. snapshot=1 pages the live view as "
                   "upserts and gives next_after, the seq to continue with. Requires the subscription mode.",
    "tags": ["data plane 数据面"],
    "parameters": [
        {"name": "resource", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "after", "in": "query", "required": False, "description": "last seen seq (0 the first time)",
         "schema": {"type": "integer", "minimum": 0}},
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                        "maximum": 500}},
        {"name": "snapshot", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}},
        {"name": "after_key", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "snapshot: next_after_key of the previous page"},
    ],
    "responses": {
        "200": {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": _REF + "DataPlaneChangesOut"}}}},
        **{str(s): {"description": "error", "content": {"application/json": {
            "schema": {"$ref": _REF + "DataPlaneError"}}}} for s in (400, 401, 403, 409, 422, 429, 503)},
    },
}


def endpoint() -> Endpoint:
    return Endpoint(name="changes", method="GET", path=PATH, mode=ExchangeMode.SUBSCRIPTION, payload=payload,
                    plan=plan, execute=execute, openapi_operation=OPERATION, openapi_schemas=SCHEMAS)
