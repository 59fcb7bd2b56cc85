"""Writes for information systems and their credentials, and for the outbound allowlist (出站白名单)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.core.crypto.envelope import encrypt_secret
from govshare.core.epoch import bump_authz_epoch
from govshare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from govshare.core.names import clean_name
from govshare.organizations.models import Department
from govshare.registry.choices import MAX_ACTIVE_SECRETS, CredentialStatus
from govshare.registry.models import AllowedHost, AppCredential, HostPurpose, InformationSystem
from govshare.registry.netpolicy import parse_entry_host


def _require_dept_admin(actor: Any, department: Department) -> None:
    if getattr(actor, "role", None) == Role.SYS_ADMIN and actor.node_id == department.node_id:
        return
    if getattr(actor, "role", None) == Role.DEPT_ADMIN and actor.department_id == department.pk:
        return
    raise PermissionDenied("只有本部门管理员可以管理信息系统 (department administrator only)")


def _require_own_dept_admin(actor: Any, department: Department) -> None:
    """Secrets and signing keys of a system: only its own department's administrator (三员分立: the system
    administrator runs the platform but holds no key to shared data)."""
    if getattr(actor, "role", None) == Role.DEPT_ADMIN and actor.department_id == department.pk:
        return
    raise PermissionDenied("只有本部门管理员可以签发凭证或登记密钥 (own department administrator only)")


def create_system(*, actor: Any, department: Department, name: str, purpose: str = "") -> InformationSystem:
    _require_dept_admin(actor, department)
    name = clean_name(name)
    if not name:
        raise ValidationFailed("系统名称不能为空 (name required)", field="name")
    with transaction.atomic():
        if InformationSystem.objects.filter(department=department, name=name).exists():
            raise Conflict(f"系统名称已存在: {name}", details={"field": "name"})
        system = InformationSystem.objects.create(node=department.node, department=department, name=name,
                                                  purpose=purpose)
        record_event(actor=actor, action="system.created", target_type="information_system",
                     target_id=str(system.pk), data={"name": name, "department": str(department.pk)})
    return system


@dataclass(frozen=True)
class IssuedCredential:
    credential: AppCredential
    app_secret: str  # shown once; only the SM4-encrypted form is stored


def issue_credential(
    *, actor: Any, system: InformationSystem, label: str = "", valid_days: int | None = None
) -> IssuedCredential:
    """Issue an AppKey/AppSecret. At most two are active at once (rotation)."""
    _require_own_dept_admin(actor, system.department)
    if valid_days is not None and valid_days < 1:
        raise ValidationFailed("有效期须为正数天 (valid_days must be positive)", field="valid_days")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        active = AppCredential.objects.select_for_update().filter(system=system, status=CredentialStatus.ACTIVE)
        if active.count() >= MAX_ACTIVE_SECRETS:
            raise Conflict(f"每个系统最多 {MAX_ACTIVE_SECRETS} 个有效凭证，请先吊销旧凭证 (revoke one first)")
        cred = AppCredential.objects.create(
            node=system.node, system=system, app_key="gs" + secrets.token_hex(12),
            secret_enc=encrypt_secret(secret, purpose="credential"), created_by=actor if getattr(
                actor, "is_authenticated", False) else None,
            label=label, expires_at=timezone.now() + dt.timedelta(days=valid_days) if valid_days else None,
        )
        record_event(actor=actor, action="credential.issued", target_type="app_credential",
                     target_id=str(cred.pk), data={"system": str(system.pk), "app_key": cred.app_key})
    return IssuedCredential(credential=cred, app_secret=secret)


def revoke_credential(*, actor: Any, credential: AppCredential) -> AppCredential:
    _require_dept_admin(actor, credential.system.department)
    with transaction.atomic():
        cred = AppCredential.objects.select_for_update().filter(pk=credential.pk).first()
        if cred is None:
            raise NotFound()
        if cred.status == CredentialStatus.REVOKED:
            raise Conflict("凭证已吊销 (already revoked)")
        cred.status = CredentialStatus.REVOKED
        cred.revoked_at = timezone.now()
        cred.save(update_fields=["status", "revoked_at", "updated_at"])
        bump_authz_epoch()
        record_event(actor=actor, action="credential.revoked", target_type="app_credential",
                     target_id=str(cred.pk), data={"app_key": cred.app_key})
    return cred


def set_sm2_public_key(*, actor: Any, system: InformationSystem, public_key: str) -> InformationSystem:
    """Register the system's SM2 public key (needed to call L4 resources)."""
    from govshare.core.crypto.sm2 import normalize_public_key

    _require_own_dept_admin(actor, system.department)
    try:
        normalised = normalize_public_key(public_key)
    except ValueError as exc:
        raise ValidationFailed(f"SM2 公钥无效: {exc}", field="public_key") from exc
    with transaction.atomic():
        system.sm2_public_key = normalised
        system.save(update_fields=["sm2_public_key", "updated_at"])
        bump_authz_epoch()
        record_event(actor=actor, action="system.sm2_key_set", target_type="information_system",
                     target_id=str(system.pk), data={"public_key": normalised})
    return system


# ---------------------------------------------------------------------------------------------
# Outbound allowlist (出站白名单), kept by the node's system administrator (DESIGN.md §6)
# ---------------------------------------------------------------------------------------------


def _require_node_sys_admin(actor: Any, node: Any) -> None:
    if getattr(actor, "role", None) == Role.SYS_ADMIN and actor.node_id == getattr(node, "pk", node):
        return
    raise PermissionDenied("只有本节点的系统管理员可以维护出站白名单 (the node's system administrator only)")


def add_allowed_host(*, actor: Any, node: Any, host: str, port: int | None = None,
                     purpose: str = HostPurpose.BOTH, note: str = "") -> AllowedHost:
    """List a host name, IP address or CIDR network (and a port, or any) as an outbound destination."""
    if actor is not None and not isinstance(actor, str):
        _require_node_sys_admin(actor, node)
    _kind, value = parse_entry_host(host, field="host")
    if port is not None and (isinstance(port, bool) or not 1 <= int(port) <= 65535):
        raise ValidationFailed("端口须在 1 到 65535 之间，留空表示任意端口 (port 1-65535, empty = any)", field="port")
    if purpose not in HostPurpose.values:
        raise ValidationFailed(f"用途须为 {'/'.join(HostPurpose.values)} (unknown purpose)", field="purpose")
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationFailed("备注不超过 500 字 (note at most 500 characters)", field="note")
    with transaction.atomic():
        if AllowedHost.objects.filter(node=node, host=value, port=port, purpose=purpose, active=True).exists():
            raise Conflict(f"白名单中已有相同条目: {value} (the entry already exists)", details={"field": "host"})
        entry = AllowedHost.objects.create(node=node, host=value, port=port, purpose=purpose, note=note,
                                           created_by=actor if getattr(actor, "is_authenticated", False) else None)
        record_event(actor=actor, action="allowlist.added", target_type="allowed_host", target_id=str(entry.pk),
                     data={"host": value, "port": port, "purpose": purpose, "note": note[:200]})
    return entry


def deactivate_allowed_host(*, actor: Any, entry: AllowedHost) -> AllowedHost:
    """Take an entry off the allowlist; connections already configured with the host are refused from now on."""
    if actor is not None and not isinstance(actor, str):
        _require_node_sys_admin(actor, entry.node_id)
    with transaction.atomic():
        locked = AllowedHost.objects.select_for_update().filter(pk=entry.pk).first()
        if locked is None:
            raise NotFound()
        if not locked.active:
            raise Conflict("该条目已停用 (already deactivated)")
        locked.active = False
        locked.deactivated_at = timezone.now()
        locked.deactivated_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.save(update_fields=["active", "deactivated_at", "deactivated_by", "updated_at"])
        record_event(actor=actor, action="allowlist.deactivated", target_type="allowed_host",
                     target_id=str(locked.pk), data={"host": locked.host, "port": locked.port,
                                                     "purpose": locked.purpose})
    return locked
