"""Portal pages of the licences app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.licences import views
from govshare.portal.nav import NavItem

app_name = "licences"

urlpatterns: list[URLPattern] = [
    path("window/", views.window, name="window"),
    path("verify/", views.verify, name="verify"),
    path("uses/", views.uses, name="uses"),
]

NAV: list[NavItem] = [
    NavItem(label=cast(str, _("窗口受理")), url_name="licences:window", roles=frozenset({Role.WINDOW_CLERK})),
    NavItem(label=cast(str, _("证照验证")), url_name="licences:verify"),
    NavItem(label=cast(str, _("用证记录")), url_name="licences:uses",
            roles=frozenset({Role.DATA_OFFICE, Role.AUDIT_ADMIN, Role.WINDOW_CLERK})),
]
