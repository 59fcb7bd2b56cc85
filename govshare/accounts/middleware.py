from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

SESSION_KEY = "govshare_last_seen"


class IdleTimeoutMiddleware:
    """Signs a user out after ``GOVSHARE['IDLE_TIMEOUT_SECONDS']`` without a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(SESSION_KEY)
            if last is not None and now - float(last) > settings.GOVSHARE["IDLE_TIMEOUT_SECONDS"]:
                logout(request)
            else:
                request.session[SESSION_KEY] = now
        return self.get_response(request)
