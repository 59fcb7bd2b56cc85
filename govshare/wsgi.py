"""WSGI entry. The lean data plane (exchange issue) will be dispatched here by path prefix,
beside Django, without Django's middleware chain (DESIGN.md §4)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")

application = get_wsgi_application()
