"""The profile page (个人中心): who am I, password change, own second factor, menu entry."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.core.crypto.envelope import decrypt_secret

pytestmark = pytest.mark.django_db


def _code(seed: str, offset: int = 0) -> str:
    totp = pyotp.TOTP(seed)
    return totp.generate_otp(int(time.time()) // totp.interval + offset)


def _field_errors(html: str, field: str) -> str:
    m = re.search(rf'id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return m.group(1) if m else ""


def _sign_in(c: Client, username: str, password: str = testing.PASSWORD, otp: str = "") -> int:
    return c.post("/accounts/login/", {"username": username, "password": password, "otp": otp}).status_code


def test_profile_shows_who_i_am(consumer: User, django_assert_max_num_queries) -> None:
    c = client_for(consumer)
    with django_assert_max_num_queries(12):
        r = c.get("/accounts/profile/")
    html = r.content.decode()
    assert r.status_code == 200
    assert consumer.username in html and "使用方" in html
    assert "市人社局" in html and "潮州市（445100）" in html
    assert "未绑定" in html
    assert 'href="/accounts/profile/"' in html.split("<main>")[0]  # menu entry for every signed-in user


def test_profile_needs_sign_in(db: None) -> None:
    r = Client().get("/accounts/profile/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/?next=/accounts/profile/")


def test_change_password(consumer: User) -> None:
    c = client_for(consumer)
    other_session = client_for(consumer)
    url = "/accounts/password/"
    new = "Brand-New-Pass-2026"
    r = c.post(url, {"old_password": "Not-My-Password-1", "new_password": new, "new_password2": new})
    assert "当前密码错误" in _field_errors(r.content.decode(), "old_password")
    r = c.post(url, {"old_password": testing.PASSWORD, "new_password": "password123",
                     "new_password2": "password123"})
    errors = _field_errors(r.content.decode(), "new_password")
    assert "至少三类" in errors or "常见" in errors or "太常见" in errors, errors
    r = c.post(url, {"old_password": testing.PASSWORD, "new_password": new, "new_password2": new + "x"})
    assert "两次输入的新密码不一致" in _field_errors(r.content.decode(), "new_password2")
    assert AuditEvent.objects.filter(action="user.password_changed").count() == 0

    r = c.post(url, {"old_password": testing.PASSWORD, "new_password": new, "new_password2": new}, follow=True)
    assert "密码已修改" in r.content.decode()
    assert c.get("/accounts/profile/").status_code == 200  # this session stays signed in
    assert other_session.get("/accounts/profile/").status_code == 302  # other sessions end
    assert _sign_in(Client(), consumer.username) == 200  # old password refused
    assert _sign_in(Client(), consumer.username, new) == 302
    consumer.refresh_from_db()
    assert consumer.password_changed_at is not None
    assert AuditEvent.objects.filter(action="user.password_changed", actor_id=str(consumer.pk)).count() == 1


def _seed_on_page(html: str) -> str:
    return re.search(r'class="totp-seed"[^>]*>([A-Z2-7 ]+)<', html).group(1).replace(" ", "")


def test_user_binds_and_removes_an_optional_second_factor(consumer: User) -> None:
    c = client_for(consumer)
    page = c.get("/accounts/totp/")
    seed = _seed_on_page(page.content.decode())
    assert _seed_on_page(c.get("/accounts/totp/").content.decode()) == seed
    wrong = "000000" if _code(seed) != "000000" else "111111"
    r = c.post("/accounts/totp/", {"password": testing.PASSWORD, "code": wrong})
    assert "动态口令错误" in _field_errors(r.content.decode(), "code")
    r = c.post("/accounts/totp/", {"password": "bad", "code": _code(seed)})
    assert "当前密码错误" in _field_errors(r.content.decode(), "password")
    r = c.post("/accounts/totp/", {"password": testing.PASSWORD, "code": _code(seed)}, follow=True)
    assert "动态口令已绑定" in r.content.decode() and "已绑定" in r.content.decode()
    # Signing in now needs the code.
    assert _sign_in(Client(), consumer.username) == 200
    assert _sign_in(Client(), consumer.username, otp=_code(seed, +1)) == 302
    # Remove it again (password confirmed).
    r = c.post("/accounts/totp/remove/", {"password": testing.PASSWORD}, follow=True)
    assert "已解除动态口令" in r.content.decode()
    assert _sign_in(Client(), consumer.username) == 302
    assert [e for e in AuditEvent.objects.filter(target_id=str(consumer.pk), action__startswith="user.totp")
            .order_by("seq").values_list("action", flat=True)] == ["user.totp_bound", "user.totp_removed"]


def test_administrator_resets_totp_and_the_old_one_works_until_confirmed(sec_admin: User) -> None:
    old_seed = decrypt_secret(sec_admin.totp_secret_enc).decode()
    c = client_for(sec_admin)
    profile = c.get("/accounts/profile/").content.decode()
    assert "重置动态口令" in profile and "/accounts/totp/remove/" not in profile
    new_seed = _seed_on_page(c.get("/accounts/totp/").content.decode())
    assert new_seed != old_seed
    sec_admin.refresh_from_db()
    assert decrypt_secret(sec_admin.totp_secret_enc).decode() == old_seed  # not replaced yet
    assert c.post("/accounts/totp/", {"password": testing.PASSWORD, "code": _code(new_seed)}).status_code == 302
    sec_admin.refresh_from_db()
    assert decrypt_secret(sec_admin.totp_secret_enc).decode() == new_seed
    # Administrators cannot turn the second factor off.
    assert c.get("/accounts/totp/remove/").status_code == 403
    assert c.post("/accounts/totp/remove/", {"password": testing.PASSWORD}).status_code == 403
    sec_admin.refresh_from_db()
    assert sec_admin.totp_confirmed


def test_nav_shows_profile_to_every_role(city) -> None:
    for role in (Role.WINDOW_CLERK, Role.AUDIT_ADMIN):
        html = client_for(testing.user(role, at=city)).get("/accounts/profile/").content.decode()
        assert "个人中心" in html.split("<main>")[0]
    assert "个人中心" not in Client().get("/accounts/login/").content.decode().split("<main>")[0]
