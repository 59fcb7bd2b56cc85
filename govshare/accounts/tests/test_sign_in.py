from __future__ import annotations

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.core.crypto.envelope import decrypt_secret

pytestmark = pytest.mark.django_db


def _login(c: Client, username: str, password: str = testing.PASSWORD, otp: str | None = None):
    return c.post("/api/v1/auth/login", {"username": username, "password": password, "otp": otp},
                  content_type="application/json")


def test_consumer_signs_in_with_password_only(consumer: User) -> None:
    c = Client()
    r = _login(c, consumer.username)
    assert r.status_code == 200, r.content
    assert r.json()["role"] == "consumer"
    assert c.get("/api/v1/auth/me").json()["username"] == consumer.username
    assert AuditEvent.objects.filter(action="auth.sign_in", result="ok", actor_id=str(consumer.pk)).exists()


@pytest.mark.parametrize("role", [Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN, Role.DATA_OFFICE,
                                  Role.DEPT_ADMIN])
def test_administrators_need_the_second_factor(city, role: str) -> None:
    admin = testing.user(role, at=city)
    seed = decrypt_secret(admin.totp_secret_enc).decode()
    assert admin.totp_confirmed and len(seed) >= 16
    c = Client()
    r = _login(c, admin.username)
    assert r.status_code == 401 and r.json()["error"]["code"] == "otp_required"
    r = _login(c, admin.username, otp="000000" if pyotp.TOTP(seed).now() != "000000" else "111111")
    assert r.status_code == 401 and r.json()["error"]["code"] == "sign_in_failed"
    r = _login(c, admin.username, otp=pyotp.TOTP(seed).now())
    assert r.status_code == 200, r.content
    # The same code cannot be used twice (replay).
    r2 = _login(Client(), admin.username, otp=pyotp.TOTP(seed).now())
    assert r2.status_code == 401


def test_totp_seed_is_stored_encrypted(sec_admin: User) -> None:
    seed = decrypt_secret(sec_admin.totp_secret_enc).decode()
    assert seed not in sec_admin.totp_secret_enc


def test_lockout_after_five_failures(consumer: User) -> None:
    c = Client()
    for _ in range(5):
        r = _login(c, consumer.username, password="wrong-password")
        assert r.status_code == 401
        assert r.json()["ok"] is False
    r = _login(c, consumer.username)  # right password, but locked now
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "account_locked"
    consumer.refresh_from_db()
    assert consumer.locked_until and consumer.locked_until > timezone.now()
    assert AuditEvent.objects.filter(action="auth.sign_in", result="denied").count() == 6


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(consumer: User) -> None:
    a = _login(Client(), "nobody-here", password="x")
    b = _login(Client(), consumer.username, password="x")
    assert a.status_code == b.status_code == 401
    assert a.json()["error"]["message"] == b.json()["error"]["message"]


def test_weak_password_is_refused_naming_the_field(city) -> None:
    from govshare.accounts.services import create_user
    from govshare.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        create_user(actor=None, username="weak", password="password1", role=Role.CONSUMER, node=city,
                    department=testing.department(city))
    assert exc.value.field == "password"
    assert not User.objects.filter(username="weak").exists()


def test_api_requires_sign_in_with_envelope(db: None) -> None:
    r = Client().get("/api/v1/auth/me")
    assert r.status_code == 401
    assert r.json() == {"ok": False, "error": {"code": "not_authenticated", "message": r.json()["error"]["message"],
                                              "details": {}}}
