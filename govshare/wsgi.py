"""WSGI entry: requests under ``/dp/v1/`` go to the lean data plane (:mod:`govshare.exchange.dataplane.app`),
everything else to Django. Both run in the same process with the same settings and models; the data plane
skips Django's request cycle and middleware chain (DESIGN.md §4 "Control plane and data plane")."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")

django_application = get_wsgi_application()

from govshare.exchange.dataplane.app import PREFIX as DATAPLANE_PREFIX  # noqa: E402 - needs django.setup()
from govshare.exchange.dataplane.app import application as dataplane_application  # noqa: E402


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if str(environ.get("PATH_INFO", "")).startswith(DATAPLANE_PREFIX):
        return dataplane_application(environ, start_response)
    return django_application(environ, start_response)
