"""Sign-in through the portal pages: lockout, address throttling, the administrator's second factor
(enrolment and code), session rotation, sign-out, idle timeout."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from govshare import testing
from govshare.accounts import services
from govshare.accounts.choices import Role
from govshare.accounts.middleware import SESSION_KEY
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.core.crypto.envelope import decrypt_secret

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _post(c: Client, username: str, password: str = testing.PASSWORD, otp: str = "", **extra: str):
    return c.post(LOGIN, {"username": username, "password": password, "otp": otp}, **extra)


def _seed(user: User) -> str:
    user.refresh_from_db()
    return decrypt_secret(user.totp_secret_enc).decode()


def _code(seed: str, offset: int = 0) -> str:
    totp = pyotp.TOTP(seed)
    return totp.generate_otp(int(time.time()) // totp.interval + offset)


def _field_errors(html: str, field: str) -> str:
    """The text of the error list rendered beside ``field`` (portal/_form.html), or ''."""
    m = re.search(rf'id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return m.group(1) if m else ""


def _signed_in_as(c: Client) -> str | None:
    r = c.get("/api/v1/auth/me")
    return r.json()["username"] if r.status_code == 200 else None


def test_consumer_signs_in_and_is_redirected_to_next(consumer: User) -> None:
    c = Client()
    r = _post(c, consumer.username, **{"QUERY_STRING": "next=/accounts/profile/"})
    assert r.status_code == 302 and r["Location"] == "/accounts/profile/"
    assert _signed_in_as(c) == consumer.username
    assert AuditEvent.objects.filter(action="auth.sign_in", result="ok", actor_id=str(consumer.pk)).exists()


def test_next_pointing_off_site_is_ignored(consumer: User) -> None:
    r = Client().post(LOGIN + "?next=//evil.example/x", {"username": consumer.username,
                                                        "password": testing.PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/"


def test_wrong_password_is_explained_in_chinese(consumer: User) -> None:
    r = _post(Client(), consumer.username, password="Wrong-Password-1")
    assert r.status_code == 200
    assert "用户名、密码或动态口令错误" in r.content.decode()


def test_lockout_after_max_failures_even_with_the_right_password(consumer: User) -> None:
    limit = settings.GOVSHARE["LOGIN_MAX_FAILURES"]
    c = Client()
    for _ in range(limit):
        r = _post(c, consumer.username, password="Wrong-Password-1")
        assert r.status_code == 200
    assert "账户已锁定 15 分钟" in r.content.decode()  # the failure that locks says so
    r = _post(c, consumer.username)  # right password, but locked
    page = r.content.decode()
    assert "账户已锁定，请于" in page and "联系安全管理员解锁" in page
    assert _signed_in_as(c) is None
    consumer.refresh_from_db()
    assert consumer.locked_until and consumer.locked_until > timezone.now()
    reasons = list(AuditEvent.objects.filter(action="auth.sign_in", result="denied")
                   .order_by("seq").values_list("data__reason", flat=True))
    assert reasons == ["bad_credentials"] * limit + ["locked"]
    # The security officer unlocks; the right password works again.
    services.unlock_user(actor=testing.user(Role.SEC_ADMIN, at=consumer.node), user=consumer)
    assert _post(c, consumer.username).status_code == 302


def test_throttling_by_client_address_across_accounts(city, consumer: User, settings) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "LOGIN_IP_MAX_FAILURES": 4}
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(4):  # different (unknown) accounts: no account lockout helps here
        assert _post(attacker, f"guess{n}", password="x").status_code == 200
    r = _post(attacker, consumer.username)  # even the right password is refused from this address now
    assert r.status_code == 429
    assert "该地址登录失败次数过多，请 15 分钟后再试" in r.content.decode()
    assert _signed_in_as(attacker) is None
    # Another address is not affected, and the account itself is not locked.
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert _post(other, consumer.username).status_code == 302
    assert AuditEvent.objects.filter(action="auth.sign_in", data__reason="ip_throttled").count() == 1


def test_session_key_changes_on_sign_in(consumer: User) -> None:
    c = Client()
    c.get(LOGIN)
    session = c.session
    session["planted"] = "by an attacker"
    session.save()
    before = session.session_key
    assert c.cookies[settings.SESSION_COOKIE_NAME].value == before
    assert _post(c, consumer.username).status_code == 302
    after = c.cookies[settings.SESSION_COOKIE_NAME].value
    assert after and after != before
    # The old key does not carry the signed-in user.
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = before
    assert _signed_in_as(stale) is None


def test_administrator_gives_the_code_on_the_sign_in_form(sec_admin: User) -> None:
    seed = _seed(sec_admin)
    c = Client()
    r = _post(c, sec_admin.username)
    assert r.status_code == 200 and "请输入动态口令" in _field_errors(r.content.decode(), "otp")
    wrong = "000000" if _code(seed) != "000000" else "111111"
    r = _post(c, sec_admin.username, otp=wrong)
    assert "用户名、密码或动态口令错误" in r.content.decode()
    assert _post(c, sec_admin.username, otp=_code(seed)).status_code == 302
    assert _signed_in_as(c) == sec_admin.username


def test_administrator_without_second_factor_must_enrol(city, sec_admin: User) -> None:
    admin = testing.user(Role.SYS_ADMIN, at=city)
    services.reset_second_factor(actor=sec_admin, user=admin)  # e.g. a lost phone
    c = Client()
    r = c.post(LOGIN + "?next=/accounts/profile/", {"username": admin.username, "password": testing.PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/accounts/second-factor/"
    assert _signed_in_as(c) is None  # not signed in yet
    # Other pages still need sign-in while enrolment is pending.
    assert Client().get("/accounts/profile/").status_code == 302
    page = c.get("/accounts/second-factor/")
    html = page.content.decode()
    assert page.status_code == 200 and "绑定动态口令" in html
    seed = re.search(r'class="totp-seed"[^>]*>([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    uri = re.search(r'class="totp-uri"[^>]*>([^<]+)<', html).group(1)
    assert uri.startswith("otpauth://totp/") and f"secret={seed}" in uri and "issuer=govshare" in uri
    assert "<script" not in html and "http" not in html.split("<main>")[1].split("otpauth")[0]  # no CDN, no JS

    # A wrong code is shown beside the code field; nothing is bound.
    wrong = "000000" if _code(seed) != "000000" else "111111"
    r = c.post("/accounts/second-factor/", {"code": wrong})
    assert r.status_code == 200 and "动态口令错误" in _field_errors(r.content.decode(), "code")
    admin.refresh_from_db()
    assert not admin.totp_confirmed
    assert _signed_in_as(c) is None

    r = c.post("/accounts/second-factor/", {"code": _code(seed)})
    assert r.status_code == 302 and r["Location"] == "/accounts/profile/"
    assert _signed_in_as(c) == admin.username
    assert _seed(admin) == seed and admin.totp_confirmed
    assert AuditEvent.objects.filter(action="user.totp_bound", actor_id=str(admin.pk)).exists()
    # From now on the code is required on the sign-in form.
    other = Client()
    assert _post(other, admin.username).status_code == 200
    assert _post(other, admin.username, otp=_code(seed, +1)).status_code == 302


def test_enrolment_page_needs_a_pending_sign_in(db: None) -> None:
    r = Client().get("/accounts/second-factor/", follow=True)
    assert r.redirect_chain[-1][0] == "/accounts/login/"
    assert "登录已超时或无效" in r.content.decode()


def test_sign_out_is_post_only_and_audited(consumer: User) -> None:
    c = Client()
    assert _post(c, consumer.username).status_code == 302
    assert c.get("/accounts/logout/").status_code == 405
    assert _signed_in_as(c) == consumer.username
    r = c.post("/accounts/logout/", follow=True)
    assert "您已安全退出" in r.content.decode()
    assert _signed_in_as(c) is None
    assert AuditEvent.objects.filter(action="auth.sign_out", actor_id=str(consumer.pk)).exists()


def test_idle_timeout_signs_out_of_the_portal(consumer: User, settings) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "IDLE_TIMEOUT_SECONDS": 60}
    c = Client()
    assert _post(c, consumer.username).status_code == 302
    assert c.get("/accounts/profile/").status_code == 200
    session = c.session
    session[SESSION_KEY] = time.time() - 61
    session.save()
    r = c.get("/accounts/profile/", follow=True)
    assert r.redirect_chain[0][0].startswith("/accounts/login/?next=/accounts/profile/")
    assert "长时间未操作" in r.content.decode()
    assert c.get("/accounts/profile/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.sign_out", data__reason="idle").count() == 1
