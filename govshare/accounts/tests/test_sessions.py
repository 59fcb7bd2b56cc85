from __future__ import annotations

import time

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.middleware import SESSION_KEY

pytestmark = pytest.mark.django_db


def test_idle_session_is_signed_out(consumer, settings) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "IDLE_TIMEOUT_SECONDS": 60}
    c = Client()
    c.force_login(consumer)
    assert c.get("/api/v1/auth/me").status_code == 200
    session = c.session
    session[SESSION_KEY] = time.time() - 61
    session.save()
    assert c.get("/api/v1/auth/me").status_code == 401


def test_active_session_is_kept(consumer, settings) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "IDLE_TIMEOUT_SECONDS": 60}
    c = Client()
    c.force_login(consumer)
    session = c.session
    session[SESSION_KEY] = time.time() - 30
    session.save()
    assert c.get("/api/v1/auth/me").status_code == 200


def test_portal_sign_in_page_asks_for_the_second_factor(city) -> None:
    admin = testing.user(Role.SYS_ADMIN, at=city)
    c = Client()
    page = c.get("/accounts/login/")
    assert page.status_code == 200 and "动态口令" in page.content.decode()
    resp = c.post("/accounts/login/", {"username": admin.username, "password": testing.PASSWORD})
    assert resp.status_code == 200 and "请输入动态口令" in resp.content.decode()
    assert c.get("/api/v1/auth/me").status_code == 401


def test_admin_site_is_read_only_and_behind_platform_sign_in(city, consumer) -> None:
    anonymous = Client().get("/admin/", follow=True)
    assert anonymous.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "动态口令" in anonymous.content.decode()
    sysadmin = testing.user(Role.SYS_ADMIN, at=city)
    c = Client()
    c.force_login(sysadmin)
    assert c.get("/admin/").status_code == 200
    assert c.get("/admin/organizations/department/").status_code == 200
    assert c.get("/admin/organizations/department/add/").status_code == 403
    # Department staff may not browse it at all.
    other = Client()
    other.force_login(consumer)
    assert other.get("/admin/organizations/department/").status_code == 302


def test_security_headers(db: None) -> None:
    resp = Client().get("/accounts/login/")
    assert resp["X-Frame-Options"] == "DENY"
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["Referrer-Policy"] == "same-origin"
    assert resp["X-Request-ID"]
