"""Answers when the database is unreachable (DESIGN.md §4 reliability): a clean ``503`` in the one error envelope
for the API, a Chinese 503 page for the portal, with ``Retry-After``; never a 500 with a stack trace.

Django converts every exception of a request into a response through the URLconf's ``handler500``, also those
raised by middleware (a session that cannot be saved), so one handler covers the whole Django request cycle; the
API's own exception handler (``core.api``) and the data plane (``exchange.dataplane.app``) use
:func:`is_database_unavailable` for theirs. The connection is recycled by Django at the end of the failed request
(``close_if_unusable_or_obsolete``), so service resumes with the next request once the database is back.
"""

from __future__ import annotations

import json
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader

RETRY_AFTER_SECONDS = 5
MESSAGE = "数据库暂不可用，请稍后重试 (database unavailable, retry shortly)"


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the database cannot be reached (lost connection, refused, shut down), as opposed to a
    bad query. OperationalError also covers a few non-connectivity errors (e.g. a lock timeout): answering 503 with
    Retry-After for those is right too."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower())


def envelope() -> bytes:
    body = {"ok": False, "error": {"code": "database_unavailable", "message": MESSAGE, "details": {}}}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = HttpResponse(envelope(), status=503, content_type="application/json; charset=utf-8")
    else:
        html = loader.render_to_string("portal/unavailable.html", {"message": MESSAGE})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 when the database is the cause, else a plain 500 page (no template context that could
    touch the database again)."""
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        body = {"ok": False, "error": {"code": "internal_error", "message": "服务器内部错误 (internal error)",
                                       "details": {}}}
        return HttpResponse(json.dumps(body, ensure_ascii=False), status=500,
                            content_type="application/json; charset=utf-8")
    return HttpResponse(loader.render_to_string("portal/server_error.html"), status=500)
