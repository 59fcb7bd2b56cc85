"""The web surface: security headers and CSP, HSTS on HTTPS deployments, CSRF on every portal POST form,
session fixation on sign-in, and sign-in throttling/lockout through the portal page and the API."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.registry.models import InformationSystem

pytestmark = pytest.mark.django_db

PACKAGE = Path(__file__).resolve().parents[3]


def _csp(resp: Any) -> dict[str, str]:
    policy = resp["Content-Security-Policy"]
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/auth/me", "/no-such-page/", "/catalog/"])
def test_security_headers_on_pages_api_and_errors(path: str, consumer: User) -> None:
    resp = client_for(consumer).get(path)
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["X-Frame-Options"] == "DENY"
    assert resp["Referrer-Policy"] == "same-origin"
    assert resp["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = _csp(resp)
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["default-src"] == "default-src 'self'" and csp["script-src"] == "script-src 'self'"
    assert csp["object-src"] == "object-src 'none'" and csp["form-action"] == "form-action 'self'"
    # No CDN or other origin anywhere in the policy, no wildcard, no inline/eval script.
    policy = resp["Content-Security-Policy"]
    assert not re.search(r"https?:|\*|'unsafe-eval'", policy)
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "camera=()" in resp["Permissions-Policy"]
    assert "Strict-Transport-Security" not in resp  # plain HTTP deployment (demo): no HSTS


def test_templates_load_nothing_from_other_origins_and_run_no_inline_script() -> None:
    # What the CSP enforces in the browser, checked at the source: every <script> has a src on our origin,
    # and no template pulls a script, style, font or image from a CDN.
    offenders = []
    for tpl in PACKAGE.rglob("templates/**/*.html"):
        text = tpl.read_text(encoding="utf-8")
        for m in re.finditer(r"<script\b([^>]*)>", text):
            attrs = m.group(1)
            if "src=" not in attrs and 'type="application/json"' not in attrs:
                offenders.append(f"{tpl}: inline <script>")
        for m in re.finditer(r"<(script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//[^\"']*",
                             text):
            offenders.append(f"{tpl}: {m.group(0)[:100]}")
        for m in re.finditer(r"\son[a-z]+=\"", text):
            offenders.append(f"{tpl}: inline event handler {m.group(0)}")
    assert not offenders, "\n".join(offenders)


def test_api_docs_page_uses_no_cdn(consumer: User) -> None:
    resp = client_for(consumer).get("/api/v1/docs")
    assert resp.status_code == 200
    assert b"cdn." not in resp.content and b"//" not in re.sub(rb"<!--.*?-->", b"", resp.content).split(b"<body")[1]


def test_hsts_and_secure_cookies_when_secure_cookies_is_on(monkeypatch: Any, settings: Any) -> None:
    monkeypatch.setenv("GOVSHARE_SECURE_COOKIES", "1")
    monkeypatch.setenv("GOVSHARE_TRUST_FORWARDED_PROTO", "1")
    conf = runpy.run_path(str(PACKAGE / "settings.py"))
    assert conf["SECURE_HSTS_SECONDS"] >= 180 * 24 * 3600
    assert conf["SESSION_COOKIE_SECURE"] is True and conf["CSRF_COOKIE_SECURE"] is True
    assert conf["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.delenv("GOVSHARE_SECURE_COOKIES")
    monkeypatch.delenv("GOVSHARE_TRUST_FORWARDED_PROTO")
    plain = runpy.run_path(str(PACKAGE / "settings.py"))
    assert plain["SECURE_HSTS_SECONDS"] == 0 and "SECURE_PROXY_SSL_HEADER" not in plain
    # With those settings, an HTTPS request (here: forwarded by the TLS gateway) carries the header.
    settings.SECURE_HSTS_SECONDS = conf["SECURE_HSTS_SECONDS"]
    settings.SECURE_PROXY_SSL_HEADER = conf["SECURE_PROXY_SSL_HEADER"]
    resp = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert resp["Strict-Transport-Security"] == f"max-age={conf['SECURE_HSTS_SECONDS']}"
    assert "Strict-Transport-Security" not in Client().get("/accounts/login/")


# --- CSRF ------------------------------------------------------------------------------------------------------

def _csrf_client(user: User | None) -> Client:
    c = Client(enforce_csrf_checks=True)
    if user is not None:
        c.force_login(user)
    return c


def test_portal_post_forms_refuse_a_missing_csrf_token(provider_dept: Any, provider: User) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    forms = [
        (None, "/accounts/login/", {"username": provider.username, "password": testing.PASSWORD}),
        (admin, "/systems/new/", {"name": "跨站伪造系统", "purpose": "x"}),
        (provider, "/accounts/password/", {"old_password": testing.PASSWORD, "new_password1": "Xx-1234567890ab",
                                           "new_password2": "Xx-1234567890ab"}),
        (provider, "/accounts/logout/", {}),
    ]
    for user, path, data in forms:
        resp = _csrf_client(user).post(path, data)
        assert resp.status_code == 403, (path, resp.status_code)
    assert not InformationSystem.objects.filter(name="跨站伪造系统").exists()
    provider.refresh_from_db()
    assert provider.check_password(testing.PASSWORD)  # the password was not changed


def test_portal_post_form_with_the_token_is_accepted(provider_dept: Any) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    c = _csrf_client(admin)
    page = c.get("/systems/new/")
    assert page.status_code == 200
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token, "the form carries no CSRF token"
    resp = c.post("/systems/new/", {"name": "正常登记系统", "purpose": "x",
                                    "csrfmiddlewaretoken": token.group(1).decode()})
    assert resp.status_code in (200, 302), resp.status_code
    assert InformationSystem.objects.filter(name="正常登记系统").exists()


def test_api_writes_with_a_session_need_the_csrf_header(provider_dept: Any) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    c = _csrf_client(admin)
    resp = c.post("/api/v1/registry/systems", {"name": "接口伪造系统", "department_id": str(provider_dept.pk)},
                  content_type="application/json")
    assert resp.status_code == 403
    assert not InformationSystem.objects.filter(name="接口伪造系统").exists()


# --- session fixation -----------------------------------------------------------------------------------------

def _planted_session(c: Client) -> str:
    session = c.session
    session["planted"] = True
    session.save()
    c.cookies["sessionid"] = session.session_key
    return str(session.session_key)


def test_portal_sign_in_rotates_the_session_key(provider: User) -> None:
    c = Client()
    planted = _planted_session(c)
    resp = c.post("/accounts/login/", {"username": provider.username, "password": testing.PASSWORD})
    assert resp.status_code == 302
    new = c.cookies["sessionid"].value
    assert new and new != planted
    assert not Session.objects.filter(session_key=planted).exists()
    assert c.get("/api/v1/auth/me").json()["username"] == provider.username
    # The attacker's copy of the old cookie is not signed in.
    attacker = Client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get("/api/v1/auth/me").status_code == 401


def test_api_sign_in_rotates_the_session_key(provider: User) -> None:
    c = Client()
    planted = _planted_session(c)
    resp = c.post("/api/v1/auth/login", {"username": provider.username, "password": testing.PASSWORD,
                                         "otp": None}, content_type="application/json")
    assert resp.status_code == 200, resp.content
    assert c.cookies["sessionid"].value != planted
    assert not Session.objects.filter(session_key=planted).exists()


# --- sign-in throttling ---------------------------------------------------------------------------------------

def test_password_guessing_locks_the_account(provider: User, settings: Any) -> None:
    limit = settings.GOVSHARE["LOGIN_MAX_FAILURES"]
    c = Client()
    for i in range(limit):
        resp = c.post("/api/v1/auth/login", {"username": provider.username, "password": f"guess-{i}", "otp": None},
                      content_type="application/json")
        assert resp.status_code == 401
    # The right password no longer helps while the account is locked.
    resp = c.post("/api/v1/auth/login", {"username": provider.username, "password": testing.PASSWORD,
                                         "otp": None}, content_type="application/json")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "account_locked"
    portal = Client()
    page = portal.post("/accounts/login/", {"username": provider.username, "password": testing.PASSWORD})
    assert page.status_code == 200  # the form again, with the refusal
    assert portal.get("/api/v1/auth/me").status_code == 401
    denied = AuditEvent.objects.filter(action="auth.sign_in", result="denied")
    assert denied.count() >= limit + 1


def test_guessing_many_accounts_from_one_address_is_throttled(city: Any, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "LOGIN_IP_MAX_FAILURES": 4}
    users = [testing.user(Role.CONSUMER, at=city) for _ in range(5)]
    c = Client(REMOTE_ADDR="203.0.113.9")
    for u in users[:4]:
        resp = c.post("/api/v1/auth/login", {"username": u.username, "password": "wrong", "otp": None},
                      content_type="application/json")
        assert resp.status_code == 401
    resp = c.post("/api/v1/auth/login", {"username": users[4].username, "password": testing.PASSWORD, "otp": None},
                  content_type="application/json")
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "throttled"
    # Another address is not affected.
    other = Client(REMOTE_ADDR="203.0.113.10").post(
        "/api/v1/auth/login", {"username": users[4].username, "password": testing.PASSWORD, "otp": None},
        content_type="application/json")
    assert other.status_code == 200
