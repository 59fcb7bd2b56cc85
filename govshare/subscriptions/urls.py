"""Portal pages of the subscriptions app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.portal.nav import NavItem
from govshare.subscriptions import views

app_name = "subscriptions"

urlpatterns: list[URLPattern] = [
    path("", views.subscription_list, name="list"),
    path("new/", views.subscription_create, name="create"),
    path("<uuid:subscription_id>/", views.subscription_detail, name="detail"),
    path("<uuid:subscription_id>/edit/", views.subscription_edit, name="edit"),
    path("<uuid:subscription_id>/<slug:action>/", views.subscription_action, name="action"),
]

NAV: list[NavItem] = [
    NavItem(label=_("订阅"), url_name="subscriptions:list",
            roles=frozenset({Role.CONSUMER, Role.DEPT_ADMIN, Role.PROVIDER, Role.DATA_OFFICE, Role.SEC_ADMIN,
                             Role.AUDIT_ADMIN})),
]
