"""Portal pages of the accounts app (see govshare/portal/pages.py for the conventions), under /accounts/.

/accounts/login/ and /accounts/logout/ are the portal's (``portal:login``, ``portal:logout``)."""

from __future__ import annotations

from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from govshare.accounts import views
from govshare.portal.nav import NavItem

app_name = "accounts"

urlpatterns: list[URLPattern] = [
    path("profile/", views.profile, name="profile"),
    path("password/", views.password, name="password"),
    path("totp/", views.totp_bind, name="totp"),
    path("totp/remove/", views.totp_remove, name="totp_remove"),
    path("second-factor/", views.second_factor, name="second_factor"),
    path("sso/login/", views.sso_login, name="sso_login"),
    path("sso/callback/", views.sso_callback, name="sso_callback"),
]

# Every signed-in user has a profile page.
NAV: list[NavItem] = [NavItem(label=_("个人中心"), url_name="accounts:profile")]
