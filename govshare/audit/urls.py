"""Portal pages of the audit app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.audit import views
from govshare.portal.nav import NavItem

app_name = "audit"

urlpatterns: list[URLPattern] = [
    path("", views.events, name="events"),
    path("lookups/", views.lookups, name="lookups"),
    path("chain/", views.chain, name="chain"),
]

_AUDITOR = frozenset({Role.AUDIT_ADMIN})

NAV: list[NavItem] = [
    NavItem(label=cast(str, _("审计日志")), url_name="audit:events", roles=_AUDITOR),
    NavItem(label=cast(str, _("谁查询过此人")), url_name="audit:lookups", roles=_AUDITOR),
    NavItem(label=cast(str, _("审计链状态")), url_name="audit:chain", roles=_AUDITOR),
]
