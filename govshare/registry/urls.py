"""Portal pages of the registry app (see govshare/portal/pages.py for the conventions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy

from govshare.portal.nav import NavItem
from govshare.registry import views

# Menu labels are lazy translations; NavItem.label is typed ``str`` (it is rendered with ``str()``).
_ = cast("Callable[[str], str]", gettext_lazy)

app_name = "registry"

urlpatterns: list[URLPattern] = [
    path("", views.system_list, name="systems"),
    path("new/", views.system_new, name="system_new"),
    path("<uuid:pk>/", views.system_detail, name="system"),
    path("<uuid:pk>/credentials/", views.credential_issue, name="credential_issue"),
    path("credentials/<uuid:pk>/rotate/", views.credential_rotate, name="credential_rotate"),
    path("credentials/<uuid:pk>/revoke/", views.credential_revoke, name="credential_revoke"),
]

NAV: list[NavItem] = [
    NavItem(label=_("信息系统"), url_name="registry:systems", roles=frozenset(views.SYSTEM_READERS)),
]
