"""Portal pages of the quality app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts.choices import Role
from govshare.portal.nav import NavItem
from govshare.quality import views

app_name = "quality"

urlpatterns: list[URLPattern] = [
    path("", views.scores, name="scores"),
    path("datasets/<uuid:dataset_id>/", views.dataset_quality, name="dataset"),
    path("datasets/<uuid:dataset_id>/run/", views.request_run, name="request_run"),
    path("datasets/<uuid:dataset_id>/issues/", views.issues, name="issues"),
    path("rules/", views.rules, name="rules"),
    path("rules/<uuid:rule_id>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/new/", views.dispute_create, name="dispute_create"),
    path("disputes/<uuid:dispute_id>/", views.dispute_detail, name="dispute"),
    path("disputes/<uuid:dispute_id>/<slug:action>/", views.dispute_act, name="dispute_act"),
]

NAV: list[NavItem] = [
    NavItem(label=_("数据质量"), url_name="quality:scores"),
    NavItem(label=_("质量规则"), url_name="quality:rules",
            roles=frozenset({Role.DATA_OFFICE, Role.PROVIDER, Role.DEPT_ADMIN})),
    NavItem(label=_("疑义数据"), url_name="quality:disputes",
            roles=frozenset({Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE, Role.AUDIT_ADMIN})),
]
