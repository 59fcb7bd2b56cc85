"""Portal pages of the connectors app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from django.urls import URLPattern, path  # noqa: F401

from govshare.portal.nav import NavItem

app_name = "connectors"

urlpatterns: list[URLPattern] = []

NAV: list[NavItem] = []
