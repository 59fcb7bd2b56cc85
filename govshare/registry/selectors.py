from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from govshare.accounts.choices import Role
from govshare.registry.models import AppCredential, InformationSystem


def systems_visible_to(user: Any) -> QuerySet[InformationSystem]:
    qs = InformationSystem.objects.select_related("department", "node")
    if user.role in (Role.SYS_ADMIN, Role.DATA_OFFICE, Role.SEC_ADMIN, Role.AUDIT_ADMIN):
        return qs.filter(node_id=user.node_id)
    if user.department_id:
        return qs.filter(department_id=user.department_id)
    return qs.none()


def credentials_visible_to(user: Any) -> QuerySet[AppCredential]:
    qs = AppCredential.objects.select_related("system", "system__department")
    if user.role == Role.SYS_ADMIN or user.role == Role.SEC_ADMIN:
        return qs.filter(node_id=user.node_id)
    if user.role == Role.DEPT_ADMIN:
        return qs.filter(system__department_id=user.department_id)
    return qs.none()
