"""Permission-checked reads of datasets. An object outside the caller's scope is missing (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from govshare.accounts.choices import Role
from govshare.catalog.models import Resource
from govshare.catalog.selectors import resources_visible_to
from govshare.core.errors import NotFound, PermissionDenied
from govshare.datasets.models import Dataset, DatasetRecord, DatasetUpload
from govshare.datasets.services import is_provider_side

NODE_ROLES = (Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN)
# Who may read a dataset's upload history (file names, row counts, problems — never values).
UPLOAD_READERS = (Role.DATA_OFFICE, Role.AUDIT_ADMIN)
MAX_PREVIEW_ROWS = 100


def datasets_visible_to(user: Any) -> QuerySet[Dataset]:
    """Datasets of the resources the user can see (metadata only: whether and when data is mounted)."""
    return (Dataset.objects.filter(resource__in=resources_visible_to(user).values("pk"))
            .select_related("resource", "resource__provider", "resource__published_version"))


def visible_resource(user: Any, resource_id: Any) -> Resource:
    resource = resources_visible_to(user).filter(pk=resource_id).first()
    if resource is None:
        raise NotFound("资源不存在 (resource not found)")
    return resource


def visible_dataset(user: Any, dataset_id: Any) -> Dataset:
    dataset = datasets_visible_to(user).filter(pk=dataset_id).first()
    if dataset is None:
        raise NotFound("数据集不存在 (dataset not found)")
    return dataset


def can_manage(user: Any, dataset: Dataset) -> bool:
    return is_provider_side(user, dataset.resource)


def uploads_of(user: Any, dataset: Dataset) -> QuerySet[DatasetUpload]:
    """Upload history: the providing department, and the data office and auditor of the dataset's node."""
    role = getattr(user, "role", None)
    if not (can_manage(user, dataset) or (role in UPLOAD_READERS and user.node_id == dataset.node_id)):
        raise PermissionDenied("只有提供部门、数据主管部门和审计管理员可以查看上传记录 (not allowed)")
    return DatasetUpload.objects.filter(dataset=dataset).select_related("uploaded_by")


def records_page(user: Any, dataset: Dataset, *, limit: int = 20,
                 after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The provider previews its own live rows, ordered by key: (rows, key to continue after)."""
    if not can_manage(user, dataset):
        raise PermissionDenied("只有提供部门可以预览数据 (provider department only)")
    limit = max(1, min(limit, MAX_PREVIEW_ROWS))
    qs = DatasetRecord.objects.filter(dataset=dataset, generation=dataset.generation)
    if after is not None:
        qs = qs.filter(key__gt=after)
    rows = list(qs.order_by("key").values_list("key", "data")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return [{"key": k, "data": d} for k, d in rows], (rows[-1][0] if more else None)


def mounted_ratio_by_department(user: Any) -> list[dict[str, Any]]:
    """挂接率 per providing department: listed (published, not withdrawn) resources, how many have data
    (dataset generation > 0), and the ratio in percent. Node roles see every department of their node;
    department roles see their own department."""
    role = getattr(user, "role", None)
    qs = Resource.objects.filter(is_listed=True)
    if role in NODE_ROLES:
        qs = qs.filter(node_id=user.node_id)
    elif role is not None and getattr(user, "department_id", None):
        qs = qs.filter(provider_id=user.department_id)
    else:
        return []
    rows = (qs.values("provider_id", "provider__name", "provider__uscc")
            .annotate(listed=Count("pk"), mounted=Count("pk", filter=Q(dataset__generation__gt=0)))
            .order_by("provider__name"))
    return [{
        "department_id": str(r["provider_id"]),
        "department_name": r["provider__name"],
        "department_uscc": r["provider__uscc"],
        "listed": r["listed"],
        "mounted": r["mounted"],
        "mounted_ratio": round(100 * r["mounted"] / r["listed"], 1) if r["listed"] else 0.0,
    } for r in rows]
