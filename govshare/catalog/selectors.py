"""Permission-checked reads of the catalog."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from govshare.accounts.choices import Role
from govshare.catalog.models import Resource


def public_statistics() -> dict[str, Any]:
    listed = Resource.objects.filter(is_listed=True)
    total = listed.count()
    mounted = listed.filter(dataset__generation__gt=0).count()
    return {
        "resources": total,
        "departments": listed.values("provider").distinct().count(),
        "mounted": mounted,
        "mounted_ratio": round(100 * mounted / total, 1) if total else 0,
    }


def resources_visible_to(user: Any) -> QuerySet[Resource]:
    """Listed (published, not withdrawn) resources for everyone signed in; working copies only for the
    provider department and the node's data office and administrators."""
    qs = Resource.objects.select_related("provider", "classification", "node", "published_version")
    role = getattr(user, "role", None)
    if role in (Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN):
        return qs.filter(Q(is_listed=True) | Q(node_id=user.node_id))
    if role in (Role.PROVIDER, Role.DEPT_ADMIN):
        return qs.filter(Q(is_listed=True) | Q(provider_id=user.department_id))
    if role is not None:
        return qs.filter(is_listed=True)
    return qs.none()
