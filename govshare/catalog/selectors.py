"""Permission-checked reads of the catalog."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from govshare.accounts.choices import Role
from govshare.catalog import workflow
from govshare.catalog.choices import ResourceStatus
from govshare.catalog.models import Classification, DataElement, Resource
from govshare.core.errors import ValidationFailed


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


def data_elements(*, q: str = "", sensitivity: int | None = None) -> QuerySet[DataElement]:
    """The data dictionary is readable by every signed-in user."""
    qs = DataElement.objects.prefetch_related("correlated_with")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(column_name__icontains=q))
    if sensitivity is not None:
        qs = qs.filter(sensitivity=sensitivity)
    return qs


def classifications(*, category: str | None = None) -> QuerySet[Classification]:
    qs = Classification.objects.all()
    return qs.filter(category=category) if category else qs


def sees_working_copy(user: Any, resource: Resource) -> bool:
    role = getattr(user, "role", None)
    if role in (Role.PROVIDER, Role.DEPT_ADMIN):
        return bool(user.department_id == resource.provider_id)
    if role in (Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN):
        return bool(user.node_id == resource.node_id)
    return False


def resource_list(user: Any, *, status: str | None = None, mine: bool = False,
                  provider_id: Any = None) -> QuerySet[Resource]:
    qs = resources_visible_to(user)
    if status:
        if status not in ResourceStatus.values:
            raise ValidationFailed(f"状态无效: {status}", field="status")
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(provider_id=getattr(user, "department_id", None))
    if provider_id:
        qs = qs.filter(provider_id=provider_id)
    return qs


def review_queue(user: Any) -> QuerySet[Resource]:
    """Resources waiting for the data office of the user's node (待审核 and 撤销待审核)."""
    if getattr(user, "role", None) != Role.DATA_OFFICE:
        return Resource.objects.none()
    return resources_visible_to(user).filter(
        node_id=user.node_id, status__in=[ResourceStatus.PENDING, ResourceStatus.WITHDRAWAL_PENDING])


def summary(r: Resource) -> dict[str, Any]:
    return {
        "id": r.pk, "code": r.code, "name": r.name, "status": r.status, "status_label": r.get_status_display(),
        "category": r.category, "provider_id": r.provider_id, "provider_name": r.provider.name,
        "share_type": r.share_type, "open_type": r.open_type, "update_cycle": r.update_cycle,
        "sensitivity": r.sensitivity,
        "published_version": r.published_version.number if r.published_version else None,
        "updated_at": r.updated_at,
    }


def detail(user: Any, r: Resource) -> dict[str, Any]:
    """The working copy for the provider side and node staff; the published snapshot for everyone else."""
    if sees_working_copy(user, r) or r.published_version is None:
        items = [
            {"position": i.position, "name": i.name, "element_code": i.element.code,
             "element_name": i.element.name, "column_name": i.column_name, "data_type": i.data_type,
             "length": i.length, "sensitivity": i.sensitivity, "required": i.required, "is_key": i.is_key}
            for i in r.items.select_related("element").order_by("position")
        ]
        data = {f: getattr(r, f) for f in (
            "summary", "formats", "share_condition", "share_modes", "no_share_basis", "open_condition",
            "published_on", "related_codes", "secrecy", "tags", "review_note")}
        return {
            **summary(r), **data, "classification_code": r.classification_id,
            "source_department_name": r.source_department.name if r.source_department else None,
            "view": "working_copy", "items": items,
            "allowed_actions": [str(a) for a in workflow.allowed_actions(r.status)],
        }
    snap = r.published_version.snapshot
    names = dict(DataElement.objects.filter(code__in=[i["element_code"] for i in snap["items"]])
                 .values_list("code", "name"))
    out = summary(r)
    out.update({k: snap[k] for k in ("name", "summary", "formats", "share_type", "share_condition",
                                      "share_modes", "no_share_basis", "open_type", "open_condition",
                                      "update_cycle", "related_codes", "secrecy", "sensitivity", "tags")})
    out.update({
        "status": ResourceStatus.PUBLISHED if r.is_listed else r.status,
        "status_label": ResourceStatus.PUBLISHED.label if r.is_listed else r.get_status_display(),
        "classification_code": snap["classification_code"],
        "source_department_name": (snap.get("source_department") or {}).get("name"),
        "published_on": r.published_on, "review_note": "", "view": "published", "allowed_actions": [],
        "items": [{"position": n, **i, "element_name": names.get(i["element_code"], "")}
                  for n, i in enumerate(snap["items"], start=1)],
    })
    return out
