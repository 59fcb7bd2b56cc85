"""Portal pages of the baselibs app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.baselibs import views
from govshare.portal.nav import NavItem

app_name = "baselibs"

urlpatterns: list[URLPattern] = [
    path("", views.library_list, name="list"),
    path("<uuid:library_id>/", views.library_detail, name="detail"),
    path("<uuid:library_id>/runs/", views.runs, name="runs"),
    path("<uuid:library_id>/discrepancies/", views.discrepancies, name="discrepancies"),
]

NAV: list[NavItem] = [NavItem(label=cast(str, _("基础库")), url_name="baselibs:list")]
