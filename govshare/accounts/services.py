"""Writes for users: creation, sign-in with second factor, throttling and lockout, password and second-factor
changes, single sign-on (OIDC) mapping. Every function writes its audit event in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from govshare.accounts import totp
from govshare.accounts.choices import ADMIN_ROLES, DEPARTMENT_ROLES, Role
from govshare.accounts.models import ExternalIdentity, SignInFailure, User
from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from govshare.organizations.models import Department, Node

TOTP_ISSUER = totp.ISSUER
IP_FAILURE_LIMIT = 30  # default failed sign-ins per client address per lockout window


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
            secret = totp_secret or totp.new_seed()
            candidate.totp_secret_enc = totp.seal(secret)
            candidate.totp_confirmed = True
        candidate.save()
        record_event(actor=actor, action="user.created", target_type="user", target_id=str(candidate.pk),
                     data={"username": username, "role": role, "department": str(department.pk) if department
                           else "", "second_factor": bool(secret)})
    uri = totp.provisioning_uri(secret, username=username) if secret else None
    return NewUser(user=candidate, totp_secret=secret, totp_uri=uri)


def _ip_failure_limit() -> int:
    return int(settings.GOVSHARE.get("LOGIN_IP_MAX_FAILURES", IP_FAILURE_LIMIT))


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


class SignInRefused(DomainError):
    status = 401
    code = "sign_in_failed"


class SignInThrottled(DomainError):
    status = 429
    code = "throttled"


class SecondFactorPending(SignInRefused):
    """The password (or the identity provider) was right, but a second factor must still be given.

    ``enrol`` is true when the user has no second factor yet and must bind one first. The portal keeps
    ``user_id`` in a pre-authentication session; the API simply answers 401 with the code.
    """

    def __init__(self, message: str, *, code: str, user_id: int, enrol: bool) -> None:
        super().__init__(message, code=code)
        self.user_id = user_id
        self.enrol = enrol


WRONG_CREDENTIALS = "用户名、密码或动态口令错误 (wrong credentials)"


def _locked_message(until: dt.datetime) -> str:
    return (f"账户已锁定，请于 {timezone.localtime(until):%H:%M} 后再试，或联系安全管理员解锁 "
            "(account locked)")


def _count_failure(user: User | None, *, username: str, client_ip: str, now: dt.datetime,
                   details: dict[str, Any], wrong: str = WRONG_CREDENTIALS) -> str:
    """Record one failed attempt (client address and account); lock the account at the limit.

    Returns the message to show."""
    cfg = settings.GOVSHARE
    # Rows older than the window no longer count for anything: drop them so the table stays small.
    SignInFailure.objects.filter(at__lt=now - dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])).delete()
    SignInFailure.objects.create(at=now, client_ip=client_ip, username=username[:150])
    if user is None:
        return wrong
    user.failed_logins += 1
    message = wrong
    if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
        user.failed_logins = 0
        details["locked_until"] = user.locked_until.isoformat()
        message = (f"{wrong}；连续失败 {cfg['LOGIN_MAX_FAILURES']} 次，账户已锁定 "
                   f"{_minutes(cfg['LOGIN_LOCKOUT_SECONDS'])} 分钟 (account locked)")
    user.save(update_fields=["failed_logins", "locked_until"])
    return message


def _gate(user: User | None, *, client_ip: str, now: dt.datetime) -> tuple[str, DomainError | None]:
    """Refusals that come before any secret is checked: the client address is throttled, or the account
    is locked."""
    cfg = settings.GOVSHARE
    window = dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
    if client_ip and SignInFailure.objects.filter(
            client_ip=client_ip, at__gte=now - window).count() >= _ip_failure_limit():
        return "ip_throttled", SignInThrottled(
            f"该地址登录失败次数过多，请 {_minutes(cfg['LOGIN_LOCKOUT_SECONDS'])} 分钟后再试 "
            "(too many failed attempts from this address)")
    if user is not None and user.locked_until and user.locked_until > now:
        return "locked", SignInRefused(_locked_message(user.locked_until), code="account_locked",
                                       details={"locked_until": user.locked_until.isoformat()})
    return "", None


def _succeed(user: User, *, now: dt.datetime, via: str) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login = now
    user.save(update_fields=["failed_logins", "locked_until", "last_login", "totp_last_step"])
    record_event(actor=user, action="auth.sign_in", target_type="user", target_id=str(user.pk), data={"via": via})


def _deny(*, username: str, target: str, reason: str, via: str) -> None:
    record_event(actor=None, action="auth.sign_in", target_type="user", target_id=target,
                 result=Result.DENIED, data={"username": username[:150], "reason": reason, "via": via})


def _has_factor(user: User) -> bool:
    return bool(user.totp_secret_enc and user.totp_confirmed)


def sign_in(*, username: str, password: str, otp: str | None, client_ip: str) -> User:
    """Check password and second factor with throttling (per client address) and lockout (per account).

    Returns the user or raises :class:`SignInRefused` / :class:`SignInThrottled`. An administrator without a
    second factor gets :class:`SecondFactorPending` (``enrol``) once the password is right. The refusal is
    raised after the transaction commits, so failure counters and their audit events are kept.
    """
    now = timezone.now()
    refusal: DomainError | None = None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        target = str(user.pk) if user else ""
        reason, refusal = _gate(user, client_ip=client_ip, now=now)
        if reason:
            pass
        elif user is None or not user.is_active or not user.check_password(password):
            reason = "bad_credentials"
        elif user.role in ADMIN_ROLES and not _has_factor(user):
            reason = "second_factor_not_enrolled"
            refusal = SecondFactorPending("管理员账户须先绑定动态口令 (administrators need a second factor)",
                                          code="otp_not_enrolled", user_id=user.pk, enrol=True)
        elif _has_factor(user):
            if not otp:
                reason = "second_factor_required"
                refusal = SignInRefused("请输入动态口令 (one-time code required)", code="otp_required",
                                        details={"field": "otp"})
            else:
                step = totp.accepted_step(totp.unseal(user.totp_secret_enc), otp, last_step=user.totp_last_step)
                if step is None:
                    reason = "bad_second_factor"
                else:
                    user.totp_last_step = step
        if reason in ("bad_credentials", "bad_second_factor"):
            details: dict[str, Any] = {}
            message = _count_failure(user, username=username, client_ip=client_ip, now=now, details=details)
            refusal = SignInRefused(message, details=details)
        if reason:
            _deny(username=username, target=target, reason=reason, via="password")
        else:
            assert user is not None
            _succeed(user, now=now, via="password")
    if refusal is not None:
        raise refusal
    assert user is not None
    return user


def _pending_user(user_id: int) -> User:
    user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
    if user is None:
        raise SignInRefused("登录已失效，请重新登录 (sign-in expired)", code="sign_in_expired")
    return user


def complete_second_factor(*, user_id: int, code: str, client_ip: str, via: str) -> User:
    """Finish a pending sign-in (see :class:`SecondFactorPending`) with the user's one-time code.

    A wrong code counts as a failed sign-in (lockout, address throttling)."""
    now = timezone.now()
    refusal: DomainError | None = None
    with transaction.atomic():
        user = _pending_user(user_id)
        reason, refusal = _gate(user, client_ip=client_ip, now=now)
        if not reason:
            if not _has_factor(user):
                reason = "second_factor_not_enrolled"
                refusal = SignInRefused("尚未绑定动态口令 (no second factor)", code="otp_not_enrolled")
            else:
                step = totp.accepted_step(totp.unseal(user.totp_secret_enc), code, last_step=user.totp_last_step)
                if step is None:
                    reason = "bad_second_factor"
                    details: dict[str, Any] = {"field": "code"}
                    message = _count_failure(user, username=user.username, client_ip=client_ip, now=now,
                                             details=details, wrong="动态口令错误 (wrong one-time code)")
                    refusal = ValidationFailed(message, field="code", code="sign_in_failed", details=details)
                else:
                    user.totp_last_step = step
        if reason:
            _deny(username=user.username, target=str(user.pk), reason=reason, via=via)
        else:
            _succeed(user, now=now, via=via)
    if refusal is not None:
        raise refusal
    return user


def enrol_second_factor(*, user_id: int, seed: str, code: str, client_ip: str, via: str) -> User:
    """Bind ``seed`` as the pending user's second factor, proven by a code from their authenticator, and
    finish the sign-in. Only for a user who has none yet (administrators sent to enrol)."""
    now = timezone.now()
    refusal: DomainError | None = None
    with transaction.atomic():
        user = _pending_user(user_id)
        reason, refusal = _gate(user, client_ip=client_ip, now=now)
        if not reason and _has_factor(user):
            reason = "second_factor_already_enrolled"
            refusal = SignInRefused("已绑定动态口令，请重新登录 (already enrolled)", code="otp_enrolled")
        if not reason:
            step = totp.accepted_step(seed, code, last_step=0)
            if step is None:
                refusal = ValidationFailed("动态口令错误，请核对手机时间后输入验证器当前显示的 6 位数字 "
                                           "(wrong one-time code)", field="code")
                reason = "bad_enrolment_code"
            else:
                _bind(user, seed=seed, step=step, actor=user, replaced=False)
        if reason:
            _deny(username=user.username, target=str(user.pk), reason=reason, via=via)
        else:
            _succeed(user, now=now, via=via)
    if refusal is not None:
        raise refusal
    return user


def _bind(user: User, *, seed: str, step: int, actor: Any, replaced: bool) -> None:
    user.totp_secret_enc = totp.seal(seed)
    user.totp_confirmed = True
    user.totp_last_step = step
    user.save(update_fields=["totp_secret_enc", "totp_confirmed", "totp_last_step"])
    record_event(actor=actor, action="user.totp_bound", target_type="user", target_id=str(user.pk),
                 data={"replaced": replaced})


def _check_own_password(actor: User, password: str, field: str = "password") -> None:
    if not actor.check_password(password):
        raise ValidationFailed("当前密码错误 (wrong current password)", field=field)


def bind_totp(*, actor: User, seed: str, code: str, password: str) -> None:
    """Bind (or replace) the signed-in user's own second factor. The old one stays active until the new
    seed is proven with a code; the current password is asked again (step-up)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        _check_own_password(user, password)
        step = totp.accepted_step(seed, code, last_step=0)
        if step is None:
            raise ValidationFailed("动态口令错误，请核对手机时间后输入验证器当前显示的 6 位数字 "
                                   "(wrong one-time code)", field="code")
        _bind(user, seed=seed, step=step, actor=user, replaced=_has_factor(user))
    actor.refresh_from_db()


def remove_totp(*, actor: User, password: str) -> None:
    """Turn off the signed-in user's own second factor. Administrators must keep theirs."""
    if actor.role in ADMIN_ROLES:
        raise ValidationFailed("管理员账户必须使用动态口令，不能解除 (administrators must keep a second factor)",
                               field="password", code="otp_required_for_role")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        _check_own_password(user, password)
        if not _has_factor(user):
            raise Conflict("尚未绑定动态口令 (no second factor)")
        user.totp_secret_enc = ""
        user.totp_confirmed = False
        user.save(update_fields=["totp_secret_enc", "totp_confirmed"])
        record_event(actor=user, action="user.totp_removed", target_type="user", target_id=str(user.pk))
    actor.refresh_from_db()


def change_password(*, actor: User, old_password: str, new_password: str) -> None:
    """Change the signed-in user's own password under the password policy (AUTH_PASSWORD_VALIDATORS)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        _check_own_password(user, old_password, field="old_password")
        if old_password == new_password:
            raise ValidationFailed("新密码不能与当前密码相同 (new password equals the old one)",
                                   field="new_password")
        try:
            validate_password(new_password, user)
        except DjangoValidationError as exc:
            raise ValidationFailed("；".join(exc.messages), field="new_password") from exc
        user.set_password(new_password)
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "password_changed_at"])
        record_event(actor=user, action="user.password_changed", target_type="user", target_id=str(user.pk))
    actor.password = user.password
    actor.password_changed_at = user.password_changed_at


def reset_second_factor(*, actor: User, user: User) -> None:
    """The security officer (安全管理员) clears someone's lost second factor. An administrator is then sent to
    bind a new one at the next sign-in (after the password); others sign in with the password alone."""
    if getattr(actor, "role", None) != Role.SEC_ADMIN or actor.node_id != user.node_id:
        raise PermissionDenied("只有本节点安全管理员可以重置动态口令 (security officer only)")
    if actor.pk == user.pk:
        raise PermissionDenied("不能重置自己的动态口令，请在个人中心重新绑定 (not your own)")
    with transaction.atomic():
        user.totp_secret_enc = ""
        user.totp_confirmed = False
        user.save(update_fields=["totp_secret_enc", "totp_confirmed"])
        record_event(actor=actor, action="user.totp_reset", target_type="user", target_id=str(user.pk))


def record_sign_out(*, actor: User, reason: str = "user") -> None:
    """Audit a sign-out (``user`` pressed 退出, or ``idle`` timeout)."""
    with transaction.atomic():
        record_event(actor=actor, action="auth.sign_out", target_type="user", target_id=str(actor.pk),
                     data={"reason": reason})


@dataclass(frozen=True)
class SsoSignIn:
    user: User
    second_factor: str  # "" (signed in), "verify" (ask the code) or "enrol" (bind one first)


def sso_sign_in(*, issuer: str, subject: str, username: str, client_ip: str) -> SsoSignIn:
    """Map a verified identity from the city's identity provider (统一身份认证) to an existing platform user.

    The provider's subject is linked to the user on first use (found by ``username``) and is used from then
    on; nobody is ever created here. Administrators still give the platform's second factor.
    """
    now = timezone.now()
    refusal: DomainError | None = None
    result: SsoSignIn | None = None
    with transaction.atomic():
        link = ExternalIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        user: User | None = None
        if link is not None:
            user = User.objects.select_for_update().get(pk=link.user_id)
        elif username:
            user = User.objects.select_for_update().filter(username=username).first()
            if user is not None and ExternalIdentity.objects.filter(user=user, issuer=issuer).exists():
                user = None  # the account is already bound to another subject of this provider
        target = str(user.pk) if user else ""
        reason, refusal = _gate(user, client_ip=client_ip, now=now)
        if reason:
            pass
        elif user is None or not user.is_active:
            reason = "sso_unknown_subject"
            refusal = SignInRefused("统一身份认证账号未关联本平台用户，请联系本部门管理员开通 "
                                    "(no platform user for this identity)", code="sso_unknown_user")
        else:
            if link is None:
                ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject, created_at=now)
                record_event(actor=user, action="user.sso_linked", target_type="user", target_id=str(user.pk),
                             data={"issuer": issuer, "subject": subject})
            if user.role in ADMIN_ROLES or _has_factor(user):
                second = "verify" if _has_factor(user) else "enrol"
                record_event(actor=None, action="auth.sso_verified", target_type="user", target_id=str(user.pk),
                             data={"issuer": issuer, "second_factor": second})
                result = SsoSignIn(user, second)
            else:
                _succeed(user, now=now, via="oidc")
                result = SsoSignIn(user, "")
        if reason:
            _deny(username=username or subject, target=target, reason=reason, via="oidc")
    if refusal is not None:
        raise refusal
    assert result is not None
    return result


def unlock_user(*, actor: Any, user: User) -> None:
    with transaction.atomic():
        user.failed_logins = 0
        user.locked_until = None
        user.save(update_fields=["failed_logins", "locked_until"])
        record_event(actor=actor, action="user.unlocked", target_type="user", target_id=str(user.pk))


def record_sso_refusal(*, reason: str, detail: str) -> None:
    """Audit a single sign-on that failed before any user was known (bad state, bad token, provider error)."""
    with transaction.atomic():
        record_event(actor=None, action="auth.sign_in", target_type="user", result=Result.DENIED,
                     data={"reason": reason, "via": "oidc", "detail": detail[:200]})
