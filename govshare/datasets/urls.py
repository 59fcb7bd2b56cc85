"""Portal pages of the datasets app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.datasets import views
from govshare.portal.nav import NavItem

app_name = "datasets"

urlpatterns: list[URLPattern] = [
    path("", views.dataset_list, name="list"),
    path("mount/<uuid:resource_id>/", views.mount, name="mount"),
    path("<uuid:pk>/upload/", views.upload, name="upload"),
    path("<uuid:pk>/uploads/<uuid:upload_id>/", views.report, name="report"),
]

NAV: list[NavItem] = [
    NavItem(label=cast(str, _("数据挂接")), url_name="datasets:list",
            roles=frozenset({Role.PROVIDER, Role.DEPT_ADMIN})),
]
