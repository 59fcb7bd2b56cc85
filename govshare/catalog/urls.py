"""Portal pages of the catalog app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.catalog import views
from govshare.catalog.importer.importer import IMPORT_ROLES
from govshare.portal.nav import NavItem

app_name = "catalog"

urlpatterns: list[URLPattern] = [
    path("", views.search, name="search"),
    path("resources/new/", views.resource_create, name="create"),
    path("resources/<uuid:pk>/", views.resource_detail, name="resource"),
    path("resources/<uuid:pk>/edit/", views.resource_edit, name="edit"),
    path("resources/<uuid:pk>/actions/<str:action>/", views.resource_action, name="action"),
    path("mine/", views.my_resources, name="mine"),
    path("review/", views.review_queue, name="review"),
    path("elements/", views.elements, name="elements"),
    path("import/", views.import_page, name="import"),
    path("import/report/", views.import_report, name="import_report"),
    path("export/", views.export_page, name="export"),
]

NAV: list[NavItem] = [
    NavItem(label=cast(str, _("目录检索")), url_name="catalog:search"),
    NavItem(label=cast(str, _("我的目录")), url_name="catalog:mine", roles=frozenset({Role.PROVIDER, Role.DEPT_ADMIN})),
    NavItem(label=cast(str, _("目录审核")), url_name="catalog:review", roles=frozenset({Role.DATA_OFFICE})),
    NavItem(label=cast(str, _("数据元")), url_name="catalog:elements"),
    NavItem(label=cast(str, _("目录导入")), url_name="catalog:import", roles=frozenset(str(r) for r in IMPORT_ROLES)),
]
