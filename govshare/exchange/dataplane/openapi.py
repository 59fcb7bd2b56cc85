"""The data-plane endpoints in the OpenAPI document (/api/v1/openapi.json): the data plane is not a ninja router
(it runs outside Django's request cycle), so its paths, schemas, headers and error codes are added here.
``govshare.api`` passes the generated schema through :func:`extend_openapi`."""

from __future__ import annotations

from typing import Any

from govshare.exchange.dataplane.app import extension_endpoints
from govshare.exchange.dataplane.responses import ERRORS

_REF = "#/components/schemas/"


def _header(name: str, description: str, *, required: bool = True, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "header", "required": required, "description": description, "schema": schema}


SIGNING_HEADERS = [
    _header("X-GS-AppKey", "应用标识 AppKey (the credential's key)"),
    _header("X-GS-Timestamp", "Unix 秒 (unix seconds); accepted within ±300 s of the server clock", pattern="^[0-9]+$"),
    _header("X-GS-Nonce", "随机数, 16–64 characters of [A-Za-z0-9._~-], never reused within the window",
            pattern="^[A-Za-z0-9._~-]{16,64}$"),
    _header("X-GS-Signature", "hex HMAC-SM3(AppSecret, canonical string); see docs/dataplane.md",
            pattern="^[0-9a-fA-F]{64}$"),
    _header("X-GS-SM2-Signature", "L4 resources: hex DER SM2 signature of the canonical string by the system's "
            "SM2 private key", required=False),
    _header("X-GS-Operator", "经办人 (percent-encoded UTF-8); required for L3/L4", required=False),
    _header("X-GS-Case-Number", "办件编号 (percent-encoded UTF-8); required for L3/L4", required=False),
    _header("X-GS-Item-Code", "事项编码; required for L3/L4", required=False),
    _header("X-GS-Purpose", "用途 (percent-encoded UTF-8); required for L3/L4", required=False),
    _header("X-Request-Id", "optional request id (8–64 characters), echoed as X-GS-Request-Id", required=False),
]

LABEL_HEADERS = {
    f"X-GS-Data-Label-{name}": {"description": f"数据标签 {text} (percent-encoded UTF-8)", "schema": {"type": "string"}}
    for name, text in (("Resource", "资源代码"), ("Level", "敏感级别 L1–L4"), ("Grant", "授权编号"),
                       ("Purpose", "用途"), ("Expires", "授权有效期至"))
}

SCHEMAS: dict[str, Any] = {
    "DataPlaneError": {
        "type": "object", "required": ["ok", "error"],
        "properties": {"ok": {"type": "boolean", "enum": [False]}, "error": {
            "type": "object", "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string", "enum": sorted(ERRORS)}, "message": {"type": "string"},
                           "details": {"type": "object"}}}},
    },
    "DataPlaneQueryIn": {
        "type": "object", "required": ["resource"], "additionalProperties": False,
        "description": "Either keys (≤ 100), or filters / filter with cursor and limit.",
        "properties": {
            "resource": {"type": "string", "description": "信息资源代码"},
            "keys": {"type": "array", "items": {"type": "string", "maxLength": 128}, "minItems": 1, "maxItems": 100},
            "items": {"type": "array", "items": {"type": "string"}, "description": "subset of the readable items"},
            "filters": {"type": "object", "description": "{column: value | [values] | null} over plain items"},
            "filter": {"type": "string", "description": "row-filter text over plain items"},
            "cursor": {"type": "string", "description": "opaque next_cursor of the previous page"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500},
            "order_by": {"type": "string", "description": "only the key column (the default order)"},
        },
    },
    "DataPlaneRecord": {
        "type": "object", "required": ["key", "data"],
        "properties": {"key": {"type": ["string", "null"]},
                       "data": {"type": "object", "additionalProperties": {"type": ["string", "null"]}}},
    },
    "DataPlaneQueryOut": {
        "type": "object", "required": ["ok", "resource", "count", "records"],
        "properties": {"ok": {"type": "boolean"}, "resource": {"type": "string"}, "count": {"type": "integer"},
                       "records": {"type": "array", "items": {"$ref": _REF + "DataPlaneRecord"}},
                       "next_cursor": {"type": ["string", "null"]}},
    },
    "DataPlaneVerifyIn": {
        "type": "object", "required": ["resource", "key", "claims"], "additionalProperties": False,
        "properties": {"resource": {"type": "string"}, "key": {"type": "string", "maxLength": 128},
                       "claims": {"type": "object", "minProperties": 1,
                                  "additionalProperties": {"type": ["string", "number", "boolean"]}}},
    },
    "DataPlaneVerifyOut": {
        "type": "object", "required": ["ok", "resource", "all_match"],
        "properties": {"ok": {"type": "boolean"}, "resource": {"type": "string"}, "all_match": {"type": "boolean"},
                       "matches": {"type": "object", "additionalProperties": {"type": "boolean"},
                                   "description": "absent when the grant answers all_match only"}},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        codes = sorted(c for c, (s, _) in ERRORS.items() if s == status)
        out[str(status)] = {"description": ", ".join(codes),
                            "content": {"application/json": {"schema": {"$ref": _REF + "DataPlaneError"}}}}
    return out


def _json_op(summary: str, description: str, schema_in: str, schema_out: str, op_id: str) -> dict[str, Any]:
    return {
        "operationId": op_id, "summary": summary, "description": description, "tags": ["data plane 数据面"],
        "security": [{"GovshareSignature": []}], "parameters": SIGNING_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": _REF + schema_in}}}},
        "responses": {"200": {"description": "OK", "headers": LABEL_HEADERS,
                              "content": {"application/json": {"schema": {"$ref": _REF + schema_out}}}},
                      **_errors(400, 401, 403, 413, 422, 429, 503)},
    }


def paths() -> dict[str, Any]:
    file_params = [
        {"name": "resource", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": ["csv", "xlsx"]}},
        {"name": "encrypt", "in": "query", "required": False, "schema": {"type": "string", "enum": ["sm4"]}},
    ]
    file_headers = {**LABEL_HEADERS,
                    "X-GS-Wrapped-Key": {"description": "encrypt=sm4: hex SM2 encryption (C1C3C2) of the SM4 key",
                                         "schema": {"type": "string"}},
                    "X-GS-Encryption": {"description": "SM4-GCM-GSF1 when encrypted", "schema": {"type": "string"}}}
    return {
        "/dp/v1/query": {"post": _json_op(
            "查询 (query by key or by filter)",
            "Granted items only: plain as stored, masked with the data element's mask, verify_only never. Records "
            "outside the grant's row filter answer like missing ones. Signed request (docs/dataplane.md).",
            "DataPlaneQueryIn", "DataPlaneQueryOut", "dataplane_query")},
        "/dp/v1/verify": {"post": _json_op(
            "核验 (verify claims against a record)",
            "Per-item true/false or all_match only; never the data. A missing key answers all false. Counted per "
            "(grant, key) and per grant per day.", "DataPlaneVerifyIn", "DataPlaneVerifyOut", "dataplane_verify")},
        "/dp/v1/file": {"get": {
            "operationId": "dataplane_file", "summary": "文件 (the granted view as CSV or XLSX)",
            "description": "Row filter applied, masked per grant, watermarked per grant, data label in the headers "
                           "(and XLSX properties). encrypt=sm4: GSF1 framed SM4-GCM, key wrapped with the "
                           "system's SM2 public key.",
            "tags": ["data plane 数据面"], "security": [{"GovshareSignature": []}],
            "parameters": [*file_params, *SIGNING_HEADERS],
            "responses": {"200": {"description": "the file", "headers": file_headers, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                **_errors(400, 401, 403, 422, 429, 503)},
        }},
    }


def extend_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the /dp/v1/* paths, their schemas and the signature security scheme to ``schema`` (in place)."""
    schema.setdefault("paths", {}).update(paths())
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    for ext in extension_endpoints():  # endpoints contributed by other apps (subscriptions, licences)
        if ext.openapi_operation is None:
            continue
        operation = dict(ext.openapi_operation)
        operation["parameters"] = [*SIGNING_HEADERS, *operation.get("parameters", [])]
        operation.setdefault("security", [{"GovshareSignature": []}])
        schema["paths"].setdefault(ext.path, {})[ext.method.lower()] = operation
        components["schemas"].update(ext.openapi_schemas or {})
    components.setdefault("securitySchemes", {})["GovshareSignature"] = {
        "type": "apiKey", "in": "header", "name": "X-GS-Signature",
        "description": "HMAC-SM3 request signature with X-GS-AppKey, X-GS-Timestamp and X-GS-Nonce "
                       "(docs/dataplane.md)"}
    return schema
