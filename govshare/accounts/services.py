"""Writes for users: creation, sign-in with second factor, throttling and lockout."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import ADMIN_ROLES, DEPARTMENT_ROLES, Role
from govshare.accounts.models import SignInFailure, User
from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.core.crypto.envelope import decrypt_secret, encrypt_secret
from govshare.core.errors import Conflict, DomainError, ValidationFailed
from govshare.organizations.models import Department, Node

TOTP_ISSUER = "govshare"
IP_FAILURE_LIMIT = 30  # failed sign-ins per client address per lockout window


@dataclass(frozen=True)
class NewUser:
    user: User
    totp_secret: str | None  # shown once to the person; stored encrypted
    totp_uri: str | None


def _check_scope(role: str, node: Node | None, department: Department | None) -> None:
    if role not in Role.values:
        raise ValidationFailed(f"未知角色: {role}", field="role")
    if role in DEPARTMENT_ROLES and department is None:
        raise ValidationFailed("该角色须属于一个部门 (department required)", field="department")
    if node is None:
        raise ValidationFailed("须指定节点 (node required)", field="node")
    if department is not None and department.node_id != node.pk:
        raise ValidationFailed("部门不属于该节点 (department not on node)", field="department")


def create_user(
    *,
    actor: Any,
    username: str,
    password: str,
    role: str,
    node: Node,
    department: Department | None = None,
    display_name: str = "",
    totp_secret: str | None = None,
) -> NewUser:
    """Create a user. Administrator roles get a TOTP seed at once (returned once, stored encrypted)."""
    _check_scope(role, node, department)
    candidate = User(username=username, role=role, node=node, department=department, display_name=display_name)
    try:
        validate_password(password, candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed("; ".join(exc.messages), field="password") from exc
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise Conflict(f"用户名已存在: {username}", details={"field": "username"})
        candidate.set_password(password)
        candidate.password_changed_at = timezone.now()
        secret = None
        if role in ADMIN_ROLES or totp_secret:
            secret = totp_secret or pyotp.random_base32()
            candidate.totp_secret_enc = encrypt_secret(secret, purpose="totp")
            candidate.totp_confirmed = True
        candidate.save()
        record_event(actor=actor, action="user.created", target_type="user", target_id=str(candidate.pk),
                     data={"username": username, "role": role, "department": str(department.pk) if department
                           else "", "second_factor": bool(secret)})
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER) if secret else None
    return NewUser(user=candidate, totp_secret=secret, totp_uri=uri)


def enroll_totp(*, actor: User) -> str:
    """Give the signed-in user a new TOTP seed (not active until confirmed with a code)."""
    secret = pyotp.random_base32()
    with transaction.atomic():
        actor.totp_secret_enc = encrypt_secret(secret, purpose="totp")
        actor.totp_confirmed = False
        actor.save(update_fields=["totp_secret_enc", "totp_confirmed"])
        record_event(actor=actor, action="user.totp_enrolled", target_type="user", target_id=str(actor.pk))
    return secret


def confirm_totp(*, actor: User, code: str) -> None:
    with transaction.atomic():
        if not actor.totp_secret_enc or not _totp_ok(actor, code):
            raise ValidationFailed("动态口令错误 (wrong one-time code)", field="otp")
        actor.totp_confirmed = True
        actor.save(update_fields=["totp_confirmed", "totp_last_step"])
        record_event(actor=actor, action="user.totp_confirmed", target_type="user", target_id=str(actor.pk))


def _totp_ok(user: User, code: str) -> bool:
    """Accept the current code or its neighbour step, and never the same step twice (replay)."""
    if not code or not code.strip().isdigit():
        return False
    totp = pyotp.TOTP(decrypt_secret(user.totp_secret_enc).decode())
    now = timezone.now().timestamp()
    for drift in (0, -1, 1):
        step = int(now // totp.interval) + drift
        if step <= user.totp_last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code.strip()):
            user.totp_last_step = step
            return True
    return False


class SignInRefused(DomainError):
    status = 401
    code = "sign_in_failed"


def sign_in(*, username: str, password: str, otp: str | None, client_ip: str) -> User:
    """Check password and second factor with throttling and lockout. Returns the user or raises.

    The refusal is raised after the transaction commits, so failure counters and their audit
    events are kept.
    """
    cfg = settings.GOVSHARE
    now = timezone.now()
    window = dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
    refusal: DomainError | None = None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        target = str(user.pk) if user else ""
        reason = ""
        if SignInFailure.objects.filter(client_ip=client_ip, at__gte=now - window).count() >= IP_FAILURE_LIMIT:
            reason = "ip_throttled"
            refusal = DomainError("尝试次数过多，请稍后再试 (too many attempts)", code="throttled")
            refusal.status = 429
        elif user is not None and user.locked_until and user.locked_until > now:
            reason = "locked"
            refusal = SignInRefused("账户已锁定，请稍后再试 (account locked)", code="account_locked",
                                    details={"locked_until": user.locked_until.isoformat()})
        elif user is None or not user.is_active or not user.check_password(password):
            reason = "bad_credentials"
        elif user.role in ADMIN_ROLES and not (user.totp_secret_enc and user.totp_confirmed):
            reason = "second_factor_not_enrolled"
            refusal = SignInRefused("管理员账户须先绑定动态口令 (administrators need a second factor)",
                                    code="otp_not_enrolled")
        elif user.totp_confirmed and user.totp_secret_enc:
            if not otp:
                reason = "second_factor_required"
                refusal = SignInRefused("请输入动态口令 (one-time code required)", code="otp_required",
                                        details={"field": "otp"})
            elif not _totp_ok(user, otp):
                reason = "bad_second_factor"
        if reason in ("bad_credentials", "bad_second_factor"):
            SignInFailure.objects.create(at=now, client_ip=client_ip, username=username[:150])
            details: dict[str, Any] = {}
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
                    user.locked_until = now + window
                    user.failed_logins = 0
                    details["locked_until"] = user.locked_until.isoformat()
                user.save(update_fields=["failed_logins", "locked_until"])
            refusal = SignInRefused("用户名、密码或动态口令错误 (wrong credentials)", details=details)
        if reason:
            record_event(actor=None, action="auth.sign_in", target_type="user", target_id=target,
                         result=Result.DENIED, data={"username": username[:150], "reason": reason})
        else:
            assert user is not None
            user.failed_logins = 0
            user.locked_until = None
            user.last_login = now
            user.save(update_fields=["failed_logins", "locked_until", "last_login", "totp_last_step"])
            record_event(actor=user, action="auth.sign_in", target_type="user", target_id=str(user.pk))
    if refusal is not None:
        raise refusal
    assert user is not None
    return user


def unlock_user(*, actor: Any, user: User) -> None:
    with transaction.atomic():
        user.failed_logins = 0
        user.locked_until = None
        user.save(update_fields=["failed_logins", "locked_until"])
        record_event(actor=actor, action="user.unlocked", target_type="user", target_id=str(user.pk))
