from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from govshare.core.context import client_ip_from_meta, request_context


class RequestContextMiddleware:
    """Binds a request id (from ``X-Request-ID`` or new) and the client address for audit events."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if incoming and len(incoming) <= 64 and incoming.isalnum() else None
        with request_context(rid, client_ip_from_meta(request.META)) as request_id:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            return response
