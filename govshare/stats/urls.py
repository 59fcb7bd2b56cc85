"""Portal pages of the stats app: the home page itself is ``portal:home`` (``/``, served by
``stats.views.home``); these are the drill-downs under ``/stats/``."""

from __future__ import annotations

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.portal.nav import NavItem
from govshare.stats import views

app_name = "stats"

urlpatterns: list[URLPattern] = [
    path("departments/", views.departments, name="departments"),
    path("departments/<uuid:pk>/", views.department, name="department"),
]

NAV: list[NavItem] = [
    NavItem(label=_("共享统计"), url_name="portal:home", public=True),
    NavItem(label=_("部门统计"), url_name="stats:departments"),
]
