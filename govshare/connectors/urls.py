"""Portal pages of the connectors app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.connectors import views
from govshare.portal.nav import NavItem

app_name = "connectors"

urlpatterns: list[URLPattern] = [
    path("", views.connector_list, name="list"),
    path("new/", views.connector_create, name="create"),
    path("<uuid:connector_id>/", views.connector_detail, name="detail"),
    path("<uuid:connector_id>/edit/", views.connector_edit, name="edit"),
    path("<uuid:connector_id>/runs/<int:run_id>/", views.run_detail, name="run"),
    path("<uuid:connector_id>/<slug:action>/", views.connector_action, name="action"),
]

NAV: list[NavItem] = [
    NavItem(label=_("前置库"), url_name="connectors:list", roles=frozenset({Role.PROVIDER, Role.DEPT_ADMIN})),
]
