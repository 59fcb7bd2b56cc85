from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from govshare.accounts.choices import Role
from govshare.core.api import Page, paginate
from govshare.core.errors import NotFound, PermissionDenied
from govshare.organizations.models import Department
from govshare.registry import netpolicy, selectors, services
from govshare.registry.models import AllowedHost, AppCredential, HostPurpose, InformationSystem

router = Router(tags=["registry 信息系统"])


class SystemIn(Schema):
    name: str
    purpose: str = ""
    department_id: uuid.UUID | None = None


class SystemOut(Schema):
    id: str
    name: str
    purpose: str
    department_id: str
    department_name: str
    active: bool


class CredentialIn(Schema):
    label: str = ""
    valid_days: int | None = Field(None, ge=1, le=3660)


class CredentialOut(Schema):
    id: str
    app_key: str
    status: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


class IssuedOut(CredentialOut):
    app_secret: str


def _sys_out(s: InformationSystem) -> SystemOut:
    return SystemOut(id=str(s.pk), name=s.name, purpose=s.purpose, department_id=str(s.department_id),
                     department_name=s.department.name, active=s.active)


def _cred_out(c: AppCredential) -> dict[str, object]:
    return {"id": str(c.pk), "app_key": c.app_key, "status": c.status, "label": c.label,
            "created_at": c.created_at, "expires_at": c.expires_at}


@router.get("/systems", response=Page[SystemOut])
def list_systems(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> dict[str, object]:
    rows, nxt = paginate(selectors.systems_visible_to(request.user), cursor=cursor, limit=limit,
                         ordering=["name"], scope="systems")
    return {"items": [_sys_out(s) for s in rows], "next_cursor": nxt}


@router.post("/systems", response={201: SystemOut})
def create_system(request: HttpRequest, payload: SystemIn) -> Status[SystemOut]:
    user = request.user
    dept_id = payload.department_id or getattr(user, "department_id", None)
    dept = Department.objects.filter(pk=dept_id).first() if dept_id else None
    if dept is None:
        raise NotFound("部门不存在 (department not found)")
    system = services.create_system(actor=user, department=dept, name=payload.name, purpose=payload.purpose)
    return Status(201, _sys_out(system))


def _visible_system(request: HttpRequest, system_id: uuid.UUID) -> InformationSystem:
    system = selectors.systems_visible_to(request.user).filter(pk=system_id).first()
    if system is None:
        raise NotFound()
    return system


@router.get("/systems/{system_id}/credentials", response=list[CredentialOut])
def list_credentials(request: HttpRequest, system_id: uuid.UUID) -> list[dict[str, object]]:
    system = _visible_system(request, system_id)
    return [_cred_out(c) for c in selectors.credentials_visible_to(request.user).filter(system=system)]


@router.post("/systems/{system_id}/credentials", response={201: IssuedOut})
def issue_credential(request: HttpRequest, system_id: uuid.UUID,
                     payload: CredentialIn) -> Status[dict[str, object]]:
    system = _visible_system(request, system_id)
    issued = services.issue_credential(actor=request.user, system=system, label=payload.label,
                                       valid_days=payload.valid_days)
    return Status(201, {**_cred_out(issued.credential), "app_secret": issued.app_secret})


@router.post("/credentials/{credential_id}/revoke", response=CredentialOut)
def revoke_credential(request: HttpRequest, credential_id: uuid.UUID) -> dict[str, object]:
    cred = selectors.credentials_visible_to(request.user).filter(pk=credential_id).first()
    if cred is None:
        raise NotFound()
    return _cred_out(services.revoke_credential(actor=request.user, credential=cred))


class Sm2KeyIn(Schema):
    public_key: str


@router.put("/systems/{system_id}/sm2-key", response=SystemOut)
def set_sm2_key(request: HttpRequest, system_id: uuid.UUID, payload: Sm2KeyIn) -> SystemOut:
    system = _visible_system(request, system_id)
    return _sys_out(services.set_sm2_public_key(actor=request.user, system=system, public_key=payload.public_key))


# ---------------------------------------------------------------------------------------------
# Outbound allowlist (出站白名单): the node's sys_admin keeps it; sec_admin and audit_admin read it
# ---------------------------------------------------------------------------------------------


class AllowedHostIn(Schema):
    host: str = Field(..., max_length=255, description="DNS name, IP address or CIDR network (10.1.0.0/16)")
    port: int | None = Field(None, ge=1, le=65535, description="empty = any port")
    purpose: HostPurpose = HostPurpose.BOTH
    note: str = Field("", max_length=500)


class AllowedHostOut(Schema):
    id: str
    host: str
    port: int | None
    purpose: str
    note: str
    active: bool
    created_by: str | None
    created_at: dt.datetime
    deactivated_at: dt.datetime | None


def _host_out(e: AllowedHost) -> AllowedHostOut:
    return AllowedHostOut(id=str(e.pk), host=e.host, port=e.port, purpose=e.purpose, note=e.note, active=e.active,
                          created_by=e.created_by.username if e.created_by else None, created_at=e.created_at,
                          deactivated_at=e.deactivated_at)


def _require_allowlist_reader(request: HttpRequest) -> None:
    if getattr(request.user, "role", None) not in netpolicy.READERS:
        raise PermissionDenied("只有系统管理员、安全管理员和审计管理员可以查看出站白名单 (administrators only)")


@router.get("/allowed-hosts", response=Page[AllowedHostOut], summary="出站白名单 (outbound allowlist)")
def list_allowed_hosts(request: HttpRequest, active: bool | None = None, cursor: str | None = None,
                       limit: int = 50) -> dict[str, object]:
    _require_allowlist_reader(request)
    qs = netpolicy.allowed_hosts_visible_to(request.user)
    if active is not None:
        qs = qs.filter(active=active)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["host"], scope="allowed-hosts")
    return {"items": [_host_out(e) for e in rows], "next_cursor": nxt}


@router.post("/allowed-hosts", response={201: AllowedHostOut}, summary="添加出站白名单条目 (add an allowed host)")
def add_allowed_host(request: HttpRequest, payload: AllowedHostIn) -> Status[AllowedHostOut]:
    user = request.user
    if getattr(user, "role", None) != Role.SYS_ADMIN or not getattr(user, "node_id", None):
        raise PermissionDenied("只有系统管理员可以维护出站白名单 (system administrator only)")
    entry = services.add_allowed_host(actor=user, node=getattr(user, "node", None), host=payload.host,
                                      port=payload.port, purpose=payload.purpose, note=payload.note)
    return Status(201, _host_out(entry))


@router.post("/allowed-hosts/{entry_id}/deactivate", response=AllowedHostOut,
             summary="停用出站白名单条目 (deactivate an allowed host)")
def deactivate_allowed_host(request: HttpRequest, entry_id: uuid.UUID) -> AllowedHostOut:
    entry = netpolicy.allowed_hosts_visible_to(request.user).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound()
    return _host_out(services.deactivate_allowed_host(actor=request.user, entry=entry))
