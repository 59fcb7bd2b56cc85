"""API conventions shared by every router: the error envelope, cursor pagination, auth.

The one ``NinjaAPI`` instance is built in ``govshare.api``; apps only contribute routers.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core import signing
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import SessionAuth

from govshare.core.errors import DomainError, ValidationFailed
from govshare.core.unavailable import MESSAGE as UNAVAILABLE_MESSAGE
from govshare.core.unavailable import RETRY_AFTER_SECONDS, is_database_unavailable

T = TypeVar("T")

CURSOR_SALT = "govshare.cursor.v1"
MAX_PAGE_SIZE = 200


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(Schema):
    ok: bool = False
    error: ErrorBody


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def error_response(api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str,
                   details: dict[str, Any] | None = None) -> HttpResponse:
    return api.create_response(
        request, {"ok": False, "error": {"code": code, "message": message, "details": details or {}}},
        status=status,
    )


def _ninja_validation_details(exc: NinjaValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "path", "form")]
        out.append({"field": ".".join(loc) or None, "reason": err.get("msg", ""), "type": err.get("type", "")})
    return out


def install_error_handlers(api: NinjaAPI) -> None:
    """Map every failure to the single envelope ``{"ok": false, "error": {...}}``."""

    @api.exception_handler(DomainError)
    def _domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return api.create_response(request, exc.envelope(), status=exc.status)

    @api.exception_handler(NinjaValidationError)
    def _validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = _ninja_validation_details(exc)
        first = errors[0] if errors else {"field": None, "reason": ""}
        msg = f"字段 {first['field']} 无效: {first['reason']}" if first.get("field") else "请求无效 (invalid request)"
        return error_response(api, request, 422, "validation_failed", msg,
                              {"field": first.get("field"), "errors": errors})

    @api.exception_handler(AuthenticationError)
    def _auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(api, request, 401, "not_authenticated", "请先登录 (authentication required)")

    @api.exception_handler(HttpError)
    def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "too_many_requests"}
        return error_response(api, request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))

    @api.exception_handler(Exception)
    def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        if is_database_unavailable(exc):
            response = error_response(api, request, 503, "database_unavailable", UNAVAILABLE_MESSAGE)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if settings.DEBUG and getattr(settings, "GOVSHARE_RAISE_API_ERRORS", False):
            raise exc
        import logging

        logging.getLogger("govshare.api").exception("unhandled API error")
        return error_response(api, request, 500, "internal_error", "服务器内部错误 (internal error)")


class SessionUserAuth(SessionAuth):
    """Session authentication (the portal's sign-in, second factor included), CSRF-checked on writes."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "is_active", False):
            return user
        return None


# ---------------------------------------------------------------------------------------------
# Opaque, tamper-proof cursor pagination (keyset on the ordering fields plus the primary key).
# ---------------------------------------------------------------------------------------------

def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return {"t": "dt", "v": v.isoformat()}
    if isinstance(v, dt.date):
        return {"t": "d", "v": v.isoformat()}
    if isinstance(v, uuid.UUID):
        return {"t": "u", "v": str(v)}
    return v


def _from_jsonable(v: Any) -> Any:
    if isinstance(v, dict) and "t" in v:
        kind, raw = v["t"], v["v"]
        if kind == "dt":
            return dt.datetime.fromisoformat(raw)
        if kind == "d":
            return dt.date.fromisoformat(raw)
        if kind == "u":
            return uuid.UUID(raw)
    return v


def encode_cursor(values: Sequence[Any], scope: str) -> str:
    payload = json.dumps({"s": scope, "v": [_jsonable(x) for x in values]}, separators=(",", ":"))
    signed = signing.Signer(salt=CURSOR_SALT).sign(payload)
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
        payload = json.loads(signing.Signer(salt=CURSOR_SALT).unsign(raw))
    except (ValueError, signing.BadSignature, UnicodeDecodeError) as exc:
        raise ValidationFailed("游标无效或已被篡改 (invalid cursor)", field="cursor") from exc
    if payload.get("s") != scope:
        raise ValidationFailed("游标不属于此列表 (cursor belongs to another list)", field="cursor")
    return [_from_jsonable(x) for x in payload["v"]]


def paginate(
    qs: QuerySet[Any], *, cursor: str | None, limit: int, ordering: Sequence[str], scope: str
) -> tuple[list[Any], str | None]:
    """Keyset pagination. ``ordering`` like ``["-created_at"]``; ``pk`` is appended as tie-breaker."""
    if limit < 1 or limit > MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit 必须在 1 到 {MAX_PAGE_SIZE} 之间", field="limit")
    fields = [*list(ordering), "-pk" if ordering and ordering[0].startswith("-") else "pk"]
    qs = qs.order_by(*fields)
    if cursor:
        values = decode_cursor(cursor, scope)
        if len(values) != len(fields):
            raise ValidationFailed("游标无效 (invalid cursor)", field="cursor")
        cond = Q()
        for i, f in enumerate(fields):
            name = f.lstrip("-")
            op = "lt" if f.startswith("-") else "gt"
            eq = Q(**{fields[j].lstrip("-"): values[j] for j in range(i)})
            cond |= eq & Q(**{f"{name}__{op}": values[i]})
        qs = qs.filter(cond)
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([_attr(last, f.lstrip("-")) for f in fields], scope)
    return rows, next_cursor


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
