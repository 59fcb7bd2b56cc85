from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path
from django.utils.http import urlencode

from govshare.api import api
from govshare.core.admin import may_browse_admin
from govshare.portal.nav import PAGE_APPS


def _admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    # The admin signs in through the platform's own sign-in (password + second factor, lockout).
    return redirect("/accounts/login/?" + urlencode({"next": request.get_full_path()}))


admin.site.login = _admin_login  # type: ignore[method-assign]
admin.site.has_permission = may_browse_admin  # type: ignore[method-assign]
admin.site.site_header = "govshare 只读管理视图 (read-only admin)"

handler500 = "govshare.core.unavailable.server_error"

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # Portal pages (资源门户): one URL module per app, mounted under its prefix.
    *[path(prefix, include(f"govshare.{app}.urls")) for app, prefix in PAGE_APPS],
    path("", include("govshare.portal.urls")),
]
