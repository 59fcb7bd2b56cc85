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


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy (``settings.GOVSHARE_CSP``) and Permissions-Policy headers to every
    response that does not set its own.

    The default policy allows only the platform's own origin: no CDN, no inline script, no plugins, no framing
    (``frame-ancestors 'none'``, alongside ``X-Frame-Options: DENY``), forms posting only to the platform.
    Inline ``style`` attributes stay allowed: the templates use them and they cannot run code."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings

        response = self.get_response(request)
        policy = getattr(settings, "GOVSHARE_CSP", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        permissions = getattr(settings, "GOVSHARE_PERMISSIONS_POLICY", "")
        if permissions and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = permissions
        return response
