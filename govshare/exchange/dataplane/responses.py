"""Answers of the data plane: the error codes (one table, also used by the OpenAPI document and the docs),
the error envelope ``{"ok": false, "error": {"code", "message", "details"}}`` and JSON encoding."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

__all__ = ["ERRORS", "DataPlaneError", "Response", "error_response", "json_response"]

#: code -> (HTTP status, message "中文 (English)")
ERRORS: Final[dict[str, tuple[int, str]]] = {
    # request shape
    "bad_request": (400, "请求格式错误 (bad request)"),
    "not_found": (404, "接口不存在 (no such endpoint)"),
    "method_not_allowed": (405, "请求方法不允许 (method not allowed)"),
    "too_large": (413, "请求体过大 (request body too large)"),
    # authentication
    "missing_credentials": (401, "缺少签名请求头 (X-GS-AppKey / X-GS-Timestamp / X-GS-Nonce / X-GS-Signature)"),
    "unknown_app_key": (401, "AppKey 不存在 (unknown app key)"),
    "bad_signature": (401, "签名无效 (bad signature)"),
    "stale_timestamp": (401, "时间戳超出允许范围 (timestamp outside the allowed window)"),
    "replayed_nonce": (401, "随机数已使用，疑似重放 (nonce already used: replay)"),
    "credential_revoked": (401, "凭证已吊销 (credential revoked)"),
    "credential_expired": (401, "凭证已过期 (credential expired)"),
    "system_inactive": (403, "信息系统已停用 (information system inactive)"),
    "sm2_signature_required": (401, "L4 资源须携带 SM2 签名 (X-GS-SM2-Signature required for L4 resources)"),
    "bad_sm2_signature": (401, "SM2 签名无效 (bad SM2 signature)"),
    "sm2_key_not_registered": (403, "信息系统未登记 SM2 公钥 (the system has no SM2 public key)"),
    # business references (L3/L4)
    "missing_case_number": (400, "较敏感及以上资源须提供办件编号 (X-GS-Case-Number required for L3/L4)"),
    "missing_item_code": (400, "较敏感及以上资源须提供事项编码 (X-GS-Item-Code required for L3/L4)"),
    "missing_operator": (400, "较敏感及以上资源须提供经办人 (X-GS-Operator required for L3/L4)"),
    "missing_purpose": (400, "较敏感及以上资源须提供用途 (X-GS-Purpose required for L3/L4)"),
    # authorization
    "no_grant": (403, "没有该资源的有效授权 (no grant for this resource)"),
    "grant_revoked": (403, "授权已撤销 (grant revoked)"),
    "grant_suspended": (403, "授权已应急停用 (grant suspended)"),
    "grant_expired": (403, "授权不在有效期内 (grant not valid today)"),
    "exchange_mode_not_granted": (403, "未授权该交换方式 (query / verify / file not granted)"),
    "item_not_granted": (403, "信息项未授权 (item not granted)"),
    "mode_not_granted": (403, "信息项的授权方式不允许此操作 (the item's mode does not allow this)"),
    # limits
    "over_rate_limit": (429, "超过每分钟调用次数限制 (rate limit per minute exceeded)"),
    "over_daily_quota": (429, "超过每日调用配额 (daily quota exceeded)"),
    "over_auth_failure_limit": (429, "认证失败次数过多，请稍后再试 (too many failed authentications; retry later)"),
    "over_verify_quota": (429, "超过同一查询键每日核验次数 (verify quota per key exceeded)"),
    # content
    "bad_filter": (422, "过滤条件无效 (invalid filter)"),
    "bad_cursor": (422, "游标无效或已被篡改 (invalid or tampered cursor)"),
    "not_mounted": (409, "资源尚未挂接数据 (the resource has no data)"),
    # server
    "database_unavailable": (503, "数据库暂不可用，请稍后重试 (database unavailable, retry shortly)"),
    "audit_unavailable": (503, "审计日志暂不可用，请求未执行 (audit log unavailable: request not served)"),
    "internal_error": (500, "服务器内部错误 (internal error)"),
}


class DataPlaneError(Exception):
    """A refused call: the code names the reason; ``message`` defaults to the table's."""

    def __init__(self, code: str, message: str | None = None, details: dict[str, Any] | None = None,
                 *, headers: list[tuple[str, str]] | None = None) -> None:
        status, default = ERRORS[code]
        self.code = code
        self.status = status
        self.message = message or default
        self.details = details or {}
        self.headers = headers or []
        super().__init__(f"{code}: {self.message}")


@dataclass
class Response:
    status: int
    body: Iterable[bytes]
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    length: int | None = None

    @property
    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_default).encode("utf-8")


def json_response(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    body = dumps(payload)
    return Response(status=status, body=[body], headers=list(headers or []), length=len(body))


def error_response(exc: DataPlaneError) -> Response:
    payload = {"ok": False, "error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return json_response(payload, exc.status, exc.headers)
