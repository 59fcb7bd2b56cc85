"""``GET /dp/v1/licences?holder=...&resource=<library code>``: 一号申请 for department systems.

Registered with the data plane in :meth:`govshare.licences.apps.LicencesConfig.ready`, so it passes the same
signature, nonce, grant (mode ``query`` on the licence library resource), level, business-reference, limit and
audit checks as the built-in endpoints. The answer lists the holder's valid licences as rows of the library
resource: only the columns the grant may read, masked ones masked by their data element, and only the licences
inside the grant's row filter. Every answered call is also a 用证记录 (:func:`services.lookup.holder_lookup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govshare.core.errors import ValidationFailed
from govshare.exchange.choices import ExchangeMode
from govshare.exchange.dataplane import records, signing
from govshare.exchange.dataplane.app import Call, Endpoint
from govshare.exchange.dataplane.cache import GrantInfo
from govshare.exchange.dataplane.responses import DataPlaneError, Response, json_response
from govshare.licences.choices import UseChannel
from govshare.licences.models import LicenceLibrary
from govshare.licences.services.lookup import holder_lookup, parse_holder
from govshare.organizations.models import Node

PATH = "/dp/v1/licences"
HOLDER_COLUMN = "holder_id"


def _bad(message: str, field: str) -> DataPlaneError:
    return DataPlaneError("bad_request", message, {"field": field})


def parse(call: Call, raw_query: str, body: bytes) -> dict[str, Any]:
    if body:
        raise DataPlaneError("bad_request", "GET 请求不能带请求体 (no body on GET)")
    params: dict[str, str] = {}
    for name, value in signing.query_pairs(raw_query):
        if name not in ("holder", "resource") or name in params:
            raise _bad(f"查询参数无效或重复: {name} (unknown or repeated parameter)", name)
        params[name] = value
    resource = params.get("resource", "").strip()
    if not resource or len(resource) > 64:
        raise _bad("resource 须为电子证照库的资源代码 (resource code required)", "resource")
    call.resource = resource
    return {"holder": params.get("holder", "")}


@dataclass(frozen=True)
class LookupPlan:
    node_id: Any
    holder: str
    columns: list[str]


def plan(call: Call, grant: GrantInfo, payload: dict[str, Any]) -> LookupPlan:
    node_id = LicenceLibrary.objects.filter(resource_id=grant.resource.id).values_list("node_id", flat=True).first()
    if node_id is None:
        raise _bad("该资源不是电子证照库 (the resource is not a licence library)", "resource")
    if HOLDER_COLUMN not in grant.items:
        raise DataPlaneError("item_not_granted", details={"items": [HOLDER_COLUMN]})
    try:
        holder = parse_holder(payload["holder"])
    except ValidationFailed as exc:
        raise _bad(exc.message, "holder") from None
    if not call.caller.case_number:
        raise DataPlaneError("missing_case_number", details={"endpoint": "licences"})
    if not call.caller.item_code:
        raise DataPlaneError("missing_item_code", details={"endpoint": "licences"})
    call.keys = [holder]
    call.items = grant.readable()
    return LookupPlan(node_id=node_id, holder=holder, columns=call.items)


def execute(call: Call, grant: GrantInfo, lookup_plan: LookupPlan) -> Response:
    caller = call.caller
    node = Node.objects.get(pk=lookup_plan.node_id)
    try:
        found = holder_lookup(
            actor=caller.label, node=node, holder=lookup_plan.holder, case_number=caller.case_number,
            item_code=caller.item_code, operator=caller.operator, channel=UseChannel.DATAPLANE,
            system_id=caller.system.id if caller.system else None, grant_id=grant.id, visible=grant.matches)
    except ValidationFailed as exc:
        raise _bad(exc.message, str(exc.details.get("field") or "")) from None
    call.extra["count"] = len(found.records)
    call.extra["licence_use"] = str(found.use.pk)
    return json_response({
        "ok": True, "resource": grant.resource.code, "count": len(found.records),
        "licences": [records.project(grant, rec, lookup_plan.columns) for rec in found.records]})


_OPERATION = {
    "operationId": "dataplane_licences", "summary": "一号申请 (every valid licence of one holder)",
    "description": ("Under a query grant on the node's 电子证照库 resource. holder is a 公民身份号码 or "
                    "统一社会信用代码; X-GS-Case-Number (办件编号) and X-GS-Item-Code (事项编码) are required. "
                    "Each call is recorded as a 用证记录 and audited with the HMAC of the holder id."),
    "tags": ["data plane 数据面"],
    "parameters": [
        {"name": "holder", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 18}},
        {"name": "resource", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 64}},
    ],
    "responses": {"200": {"description": "the holder's valid licences", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/DataPlaneLicencesOut"}}}}},
}
_SCHEMAS = {"DataPlaneLicencesOut": {
    "type": "object", "required": ["ok", "resource", "count", "licences"],
    "properties": {"ok": {"type": "boolean"}, "resource": {"type": "string"}, "count": {"type": "integer"},
                   "licences": {"type": "array", "items": {"type": "object", "additionalProperties": {
                       "type": ["string", "null"]}}}},
}}

ENDPOINT = Endpoint(name="licences", method="GET", path=PATH, mode=ExchangeMode.QUERY, payload=parse, plan=plan,
                    execute=execute, openapi_operation=_OPERATION, openapi_schemas=_SCHEMAS)
