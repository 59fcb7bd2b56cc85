"""Permission-checked reads of datasets. An object outside the caller's scope is missing (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.catalog.choices import UpdateCycle
from govshare.catalog.models import Resource
from govshare.catalog.selectors import resources_visible_to
from govshare.core.errors import NotFound, PermissionDenied
from govshare.datasets import sealing
from govshare.datasets.changes import Change, changes_since, find_by_sealed_value
from govshare.datasets.models import ChangeBatch, Dataset, DatasetRecord, DatasetUpload
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
    out = []
    for stored_key, data in rows:  # L4 values opened; the cursor stays the stored key
        key, record = sealing.open_record(stored_key, data)
        out.append({"key": key, "data": record or {}})
    return out, (rows[-1][0] if more else None)


def find_records(user: Any, dataset: Dataset, *, column: str, value: str,
                 limit: int = 20) -> list[dict[str, Any]]:
    """The provider looks its own live records up by one item's value, an L4 (sealed) item included: the lookup
    goes through the blind index (:func:`govshare.datasets.changes.find_by_sealed_value`)."""
    if not can_manage(user, dataset):
        raise PermissionDenied("只有提供部门可以查询数据 (provider department only)")
    found = find_by_sealed_value(dataset=dataset, column=column, value=value,
                                 limit=max(1, min(limit, MAX_PREVIEW_ROWS)))
    return [{"key": k, "data": d} for k, d in found.items()]


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


def changes_page(user: Any, dataset: Dataset, *, after: int, limit: int) -> list[Change]:
    """The providing department reads its own change log (consumers read theirs through the data plane,
    projected to their grant)."""
    if not can_manage(user, dataset):
        raise PermissionDenied("只有提供部门可以查看变更日志 (provider department only)")
    return changes_since(dataset=dataset, after=max(0, after), limit=max(1, min(limit, MAX_PREVIEW_ROWS)))


def batches_of(user: Any, dataset: Dataset) -> QuerySet[ChangeBatch]:
    """Applied batches (counts only, never values): same readers as the upload history."""
    uploads_of(user, dataset)  # the same permission check
    return ChangeBatch.objects.filter(dataset=dataset)


# 更新周期 -> how long a mounted resource may go without data before it is late (seconds). Settings
# ``FRESHNESS_PERIODS`` overrides; 不定期 (irregular) is never late.
DEFAULT_FRESHNESS_PERIODS: dict[str, int] = {
    UpdateCycle.REALTIME: 3600, UpdateCycle.DAILY: 86400, UpdateCycle.WEEKLY: 7 * 86400,
    UpdateCycle.MONTHLY: 31 * 86400, UpdateCycle.QUARTERLY: 92 * 86400, UpdateCycle.SEMIANNUAL: 183 * 86400,
    UpdateCycle.YEARLY: 366 * 86400,
}


def freshness_periods() -> dict[str, int]:
    return {**DEFAULT_FRESHNESS_PERIODS, **settings.GOVSHARE.get("FRESHNESS_PERIODS", {})}


def freshness(user: Any, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Mounted resources and whether each is late: nothing arrived within its declared 更新周期 (plus a
    grace share, ``FRESHNESS_GRACE``, default 0.1 of the period). Same scope as the 挂接率."""
    role = getattr(user, "role", None)
    qs = Dataset.objects.filter(resource__is_listed=True).select_related("resource", "resource__provider")
    if role in NODE_ROLES:
        qs = qs.filter(node_id=user.node_id)
    elif role is not None and getattr(user, "department_id", None):
        qs = qs.filter(resource__provider_id=user.department_id)
    else:
        return []
    now = now or timezone.now()
    periods = freshness_periods()
    grace = float(settings.GOVSHARE.get("FRESHNESS_GRACE", 0.1))
    out = []
    for d in qs.order_by("resource__provider__name", "resource__code"):
        period = periods.get(d.resource.update_cycle)
        arrived = d.last_received_at or d.last_loaded_at
        late = period is not None and (arrived is None or (now - arrived).total_seconds() > period * (1 + grace))
        out.append({
            "dataset_id": str(d.pk), "resource_id": str(d.resource_id), "resource_code": d.resource.code,
            "resource_name": d.resource.name, "department_id": str(d.resource.provider_id),
            "department_name": d.resource.provider.name, "update_cycle": d.resource.update_cycle,
            "period_seconds": period, "last_received_at": arrived, "last_seq": d.last_seq, "late": late,
            "late_by_seconds": (int((now - arrived).total_seconds() - period) if late and arrived and period
                                else None),
        })
    return out


def lateness_by_department(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per department: mounted resources with a schedule, and how many are late."""
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = by.setdefault(r["department_id"], {"department_id": r["department_id"],
                                               "department_name": r["department_name"], "scheduled": 0,
                                               "late": 0})
        if r["period_seconds"] is not None:
            d["scheduled"] += 1
            d["late"] += int(r["late"])
    return sorted(by.values(), key=lambda d: (-d["late"], d["department_name"]))
