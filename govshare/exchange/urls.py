"""Portal pages of the exchange app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy

from govshare.accounts.choices import Role
from govshare.exchange import views
from govshare.portal.nav import NavItem

# Menu labels are lazy translations; NavItem.label is typed ``str`` (it is rendered with ``str()``).
_ = cast("Callable[[str], str]", gettext_lazy)

app_name = "exchange"

urlpatterns: list[URLPattern] = [
    path("apply/", views.apply, name="apply"),
    path("applications/", views.my_applications, name="my_applications"),
    path("applications/<uuid:pk>/", views.application, name="application"),
    path("applications/<uuid:pk>/actions/<str:action>/", views.application_action, name="application_action"),
    path("applications/<uuid:pk>/approve/", views.decide, name="decide"),
    path("applications/<uuid:pk>/refuse/", views.refuse, name="refuse"),
    path("applications/<uuid:pk>/guard-override/", views.guard_override, name="guard_override"),
    path("review/internal/", views.inbox_view("internal"), name="inbox_internal"),
    path("review/compliance/", views.inbox_view("compliance"), name="inbox_compliance"),
    path("review/provider/", views.inbox_view("provider"), name="inbox_provider"),
    path("review/coordination/", views.inbox_view("coordination"), name="inbox_coordination"),
    path("review/security/", views.inbox_view("security"), name="inbox_security"),
    path("grants/", views.grant_list, name="grants"),
    path("grants/<uuid:pk>/", views.grant_detail, name="grant"),
    path("grants/<uuid:pk>/revoke/", views.grant_revoke, name="grant_revoke"),
    path("grants/<uuid:pk>/suspend/", views.grant_suspend, name="grant_suspend"),
    path("suspensions/", views.suspension_list, name="suspensions"),
    path("suspensions/new/", views.suspension_create, name="suspension_create"),
    path("suspensions/<uuid:pk>/lift/", views.suspension_lift, name="suspension_lift"),
]

NAV: list[NavItem] = [
    NavItem(label=_("申请共享"), url_name="exchange:apply", roles=frozenset({Role.CONSUMER, Role.DEPT_ADMIN})),
    NavItem(label=_("我的申请"), url_name="exchange:my_applications", roles=frozenset({Role.CONSUMER,
                                                                                     Role.DEPT_ADMIN})),
    NavItem(label=_("内部审核"), url_name="exchange:inbox_internal", roles=frozenset({Role.DEPT_ADMIN})),
    NavItem(label=_("符合性审查"), url_name="exchange:inbox_compliance", roles=frozenset({Role.DATA_OFFICE})),
    NavItem(label=_("提供方审核"), url_name="exchange:inbox_provider",
            roles=frozenset({Role.PROVIDER, Role.DEPT_ADMIN})),
    NavItem(label=_("协调"), url_name="exchange:inbox_coordination", roles=frozenset({Role.DATA_OFFICE})),
    NavItem(label=_("推断风险审批"), url_name="exchange:inbox_security", roles=frozenset({Role.SEC_ADMIN})),
    NavItem(label=_("授权"), url_name="exchange:grants",
            roles=frozenset({Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE, Role.SEC_ADMIN,
                             Role.AUDIT_ADMIN})),
    NavItem(label=_("应急停用"), url_name="exchange:suspensions",
            roles=frozenset({Role.SEC_ADMIN, Role.DATA_OFFICE, Role.AUDIT_ADMIN})),
]
