from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from govshare.accounts.services import record_sign_out

SESSION_KEY = "govshare_last_seen"
IDLE_SIGNED_OUT = "govshare_idle_signed_out"  # set in the fresh session, so the sign-in page can say why


class IdleTimeoutMiddleware:
    """Signs a user out after ``GOVSHARE['IDLE_TIMEOUT_SECONDS']`` without a request (audited as
    ``auth.sign_out`` with reason ``idle``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(SESSION_KEY)
            if last is not None and now - float(last) > settings.GOVSHARE["IDLE_TIMEOUT_SECONDS"]:
                record_sign_out(actor=user, reason="idle")
                logout(request)
                request.session[IDLE_SIGNED_OUT] = True
            else:
                request.session[SESSION_KEY] = now
        return self.get_response(request)
