"""Catalog rules (DESIGN.md §3), checked by the services. Each failure names its field."""

from __future__ import annotations

from collections.abc import Sequence

from govshare.catalog.choices import (
    OpenType,
    ResourceFormat,
    Secrecy,
    Sensitivity,
    ShareMode,
    ShareType,
    UpdateCycle,
)
from govshare.catalog.models import DataItem, Resource
from govshare.core.errors import ValidationFailed


def check_draft(resource: Resource, items: Sequence[DataItem]) -> None:
    """Vocabulary checks that hold for every saved state, drafts included."""
    if not resource.name:
        raise ValidationFailed("信息资源名称不能为空 (name required)", field="name")
    if len(resource.name) > 200:
        raise ValidationFailed("信息资源名称过长 (at most 200 characters)", field="name")
    if resource.share_type not in ShareType.values:
        raise ValidationFailed(f"共享类型无效: {resource.share_type}", field="share_type")
    if resource.open_type not in OpenType.values:
        raise ValidationFailed(f"开放类型无效: {resource.open_type}", field="open_type")
    if resource.update_cycle not in UpdateCycle.values:
        raise ValidationFailed(
            f"更新周期须取自固定词表 ({'/'.join(UpdateCycle.labels)}): {resource.update_cycle}",
            field="update_cycle")
    if resource.secrecy not in Secrecy.values:
        raise ValidationFailed(f"涉密属性无效: {resource.secrecy}", field="secrecy")
    bad_modes = [m for m in resource.share_modes if m not in ShareMode.values]
    if bad_modes:
        raise ValidationFailed(f"共享方式无效: {', '.join(bad_modes)}", field="share_modes")
    bad_formats = [f for f in resource.formats if f not in ResourceFormat.values]
    if bad_formats:
        raise ValidationFailed(f"资源格式无效: {', '.join(bad_formats)}", field="formats")
    level = max((i.sensitivity for i in items), default=Sensitivity.L1)
    # 就高从严: a resource is as sensitive as its most sensitive item.
    if level >= Sensitivity.L4 and resource.open_type != OpenType.NONE:
        raise ValidationFailed("含 L4 敏感信息项的资源不得开放 (L4 data is never opened)", field="open_type")
    if level >= Sensitivity.L3 and resource.open_type == OpenType.UNCONDITIONAL:
        raise ValidationFailed("含 L3/L4 信息项的资源不能无条件开放 (no unconditional opening above L2)",
                               field="open_type")
    if resource.share_type == ShareType.NONE and not resource.no_share_basis.strip():
        raise ValidationFailed("不予共享须提供法律、行政法规或政策依据 (legal basis required)",
                               field="no_share_basis")
    if resource.share_type == ShareType.CONDITIONAL and not resource.share_condition.strip():
        pass  # the condition text is recommended; the provider decides per application


def check_publishable(resource: Resource, items: Sequence[DataItem]) -> None:
    """Rules for submission and publication."""
    check_draft(resource, items)
    if resource.secrecy != Secrecy.NON_SECRET:
        raise ValidationFailed("涉密信息资源不得进入平台，只有非涉密资源可以发布 (classified data never enters)",
                               field="secrecy")
    if not items:
        raise ValidationFailed("至少需要一个信息项 (at least one data item)", field="items")
    if resource.share_type != ShareType.NONE and not resource.share_modes:
        raise ValidationFailed("须选择至少一种共享方式 (接口/库表/文件)", field="share_modes")
    if not resource.summary.strip():
        raise ValidationFailed("摘要不能为空 (summary required)", field="summary")
