"""Permission-checked reads of the licences app.

Visibility: the licence catalogue (types), signing keys (public keys and certifications) and service items are
visible to every user of the node; licences to their issuing department (provider staff and administrator) and
to the node's data office; 用证记录 to the node's data office and audit administrator, and a window clerk's own.
Anything else answers 404 like a missing object.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from govshare.accounts.choices import Role
from govshare.core.errors import NotFound, PermissionDenied
from govshare.licences.models import Licence, LicenceType, LicenceUse, ServiceItem, SigningKey

USE_READERS = frozenset({Role.DATA_OFFICE, Role.AUDIT_ADMIN, Role.WINDOW_CLERK})


def _node_id(user: Any) -> Any:
    return getattr(user, "node_id", None)


def types_visible_to(user: Any) -> QuerySet[LicenceType]:
    return LicenceType.objects.select_related("department").filter(node_id=_node_id(user))


def visible_type(user: Any, type_id: Any) -> LicenceType:
    found = types_visible_to(user).filter(pk=type_id).first()
    if found is None:
        raise NotFound("证照类型不存在 (no such licence type)")
    return found


def keys_visible_to(user: Any) -> QuerySet[SigningKey]:
    return SigningKey.objects.select_related("department").filter(department__node_id=_node_id(user))


def licences_visible_to(user: Any) -> QuerySet[Licence]:
    qs = Licence.objects.select_related("licence_type", "issuer", "signing_key")
    role = getattr(user, "role", None)
    if role == Role.DATA_OFFICE:
        return qs.filter(node_id=user.node_id)
    if role in (Role.PROVIDER, Role.DEPT_ADMIN) and user.department_id:
        return qs.filter(issuer_id=user.department_id)
    return qs.none()


def visible_licence(user: Any, licence_id: Any) -> Licence:
    found = licences_visible_to(user).filter(pk=licence_id).first()
    if found is None:
        raise NotFound("证照不存在 (no such licence)")
    return found


def uses_visible_to(user: Any) -> QuerySet[LicenceUse]:
    """用证记录. Roles that never see them are refused (403) rather than shown an empty list."""
    role = getattr(user, "role", None)
    if role not in USE_READERS:
        raise PermissionDenied("无权查看用证记录 (data office, audit admin or window staff only)")
    qs = LicenceUse.objects.select_related("user", "system").filter(node_id=user.node_id)
    if role == Role.WINDOW_CLERK:
        qs = qs.filter(user=user)
    return qs


def items_visible_to(user: Any) -> QuerySet[ServiceItem]:
    return ServiceItem.objects.select_related("department").filter(node_id=_node_id(user))


def visible_item(user: Any, item_id: Any) -> ServiceItem:
    found = items_visible_to(user).filter(pk=item_id).first()
    if found is None:
        raise NotFound("事项不存在 (no such service item)")
    return found
