"""Domain errors. Every one maps to the single API error envelope
``{"ok": false, "error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def envelope(self) -> dict[str, Any]:
        return {"ok": False, "error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(DomainError):
    """Bad input. ``field`` names the offending field; ``errors`` may list several."""

    status = 422
    code = "validation_failed"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        d: dict[str, Any] = dict(details or {})
        if field:
            d["field"] = field
        if errors:
            d["errors"] = errors
        super().__init__(message, code=code, details=d)
        self.field = field


class NotFound(DomainError):
    """Missing, or outside the caller's scope: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = "对象不存在 (not found)", **kw: Any) -> None:
        super().__init__(message, **kw)


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class Conflict(DomainError):
    """The action is not allowed in the object's current state."""

    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
