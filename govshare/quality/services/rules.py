"""Configured quality rules (质量规则): create, change, switch off.

The data office (数据主管部门) of a node manages rules on data elements (数据元; they apply to every item
carrying the element on that node's datasets) and rules on any item of its node's resources; a providing
department manages rules on its own resources' items. A change requests a full quality run of every dataset
it affects (the worker's ``quality.full`` job is kicked after commit).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.catalog.models import DataElement, DataItem, Resource
from govshare.core import periodic
from govshare.core.errors import PermissionDenied, ValidationFailed
from govshare.datasets.models import Dataset
from govshare.quality.choices import RuleKind
from govshare.quality.models import QualityRule, QualityState
from govshare.quality.rules import RuleError, validate_params
from govshare.quality.services.common import is_data_office_of, is_provider_side, user_or_none

FULL_JOB = "quality.full"
MESSAGE_MAX = 200


def may_manage_rule(actor: Any, *, resource: Resource | None, node_id: Any) -> bool:
    """Element rules: the node's data office. Item rules: that, or the resource's providing department."""
    if resource is None:
        return is_data_office_of(actor, node_id)
    return is_data_office_of(actor, resource.node_id) or is_provider_side(actor, resource)


def _check_target(kind: str, params: dict[str, Any], *, element: DataElement | None, resource: Resource | None,
                  column: str) -> None:
    if (element is None) == (resource is None):
        raise ValidationFailed("规则须指定数据元，或指定资源及其信息项之一 (a data element, or a resource and one "
                               "of its items)", field="element_code")
    if resource is not None:
        items = list(DataItem.objects.filter(resource=resource).select_related("element"))
        if column not in {i.column_name for i in items}:
            raise ValidationFailed(f"资源中没有信息项 {column} (no such item in the resource)", field="column")
        refs = {i.column_name for i in items} | {i.element.code for i in items}
    else:
        refs = set(DataElement.objects.values_list("code", flat=True))
    if kind == RuleKind.CROSS_FIELD:
        for name in ("birth", "gender"):
            ref = params.get(name)
            if ref and ref not in refs:
                raise ValidationFailed(f"{name} 引用的信息项或数据元 {ref} 不存在 (unknown column or element)",
                                       field=f"params.{name}")


def _request_full_runs(rule: QualityRule) -> int:
    """Ask for a full run of every dataset the rule applies to (inside the caller's transaction)."""
    datasets = Dataset.objects.filter(node_id=rule.node_id)
    if rule.resource_id is not None:
        datasets = datasets.filter(resource_id=rule.resource_id)
    else:
        datasets = datasets.filter(resource__items__element_id=rule.element_id).distinct()
    ids = list(datasets.values_list("pk", flat=True))
    now = timezone.now()
    existing = set(QualityState.objects.filter(dataset_id__in=ids).values_list("dataset_id", flat=True))
    QualityState.objects.bulk_create([QualityState(dataset_id=i, full_requested_at=now) for i in ids
                                      if i not in existing], ignore_conflicts=True)
    QualityState.objects.filter(dataset_id__in=ids).update(full_requested_at=now)
    periodic.kick_on_commit(FULL_JOB)
    return len(ids)


def _clean(kind: str, params: dict[str, Any] | None, message: str) -> tuple[dict[str, Any], str]:
    try:
        cleaned = validate_params(kind, params)
    except RuleError as exc:
        raise ValidationFailed(exc.message, field=exc.field) from None
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX:
        raise ValidationFailed(f"提示信息不超过 {MESSAGE_MAX} 个字符 (message too long)", field="message")
    return cleaned, message


def create_rule(
    *,
    actor: Any,
    kind: str,
    params: dict[str, Any] | None = None,
    element: DataElement | None = None,
    resource: Resource | None = None,
    column: str = "",
    message: str = "",
) -> QualityRule:
    """Configure a rule on a data element (``element``) or on one item (``resource`` + ``column``)."""
    node_id = resource.node_id if resource is not None else getattr(actor, "node_id", None)
    if not may_manage_rule(actor, resource=resource, node_id=node_id) or node_id is None:
        raise PermissionDenied("只有数据主管部门或资源提供部门可以配置质量规则 (data office or providing "
                               "department only)")
    cleaned, message = _clean(kind, params, message)
    column = (column or "").strip() if resource is not None else ""
    _check_target(kind, cleaned, element=element, resource=resource, column=column)
    with transaction.atomic():
        rule = QualityRule.objects.create(node_id=node_id, element=element, resource=resource, column_name=column,
                                          kind=kind, params=cleaned, message=message,
                                          created_by=user_or_none(actor))
        affected = _request_full_runs(rule)
        record_event(actor=actor, action="quality.rule_created", target_type="quality_rule", target_id=str(rule.pk),
                     data={"kind": kind, "params": cleaned, "element": element.code if element else "",
                           "resource": str(resource.pk) if resource else "", "column": column,
                           "datasets": affected})
    return rule


def update_rule(
    *,
    actor: Any,
    rule: QualityRule,
    params: dict[str, Any] | None = None,
    message: str | None = None,
    active: bool | None = None,
) -> QualityRule:
    """Change a rule's parameters or message, or switch it off (``active=False``) or on again."""
    with transaction.atomic():
        locked = (QualityRule.objects.select_for_update(of=("self",)).select_related("resource", "element")
                  .get(pk=rule.pk))
        if not may_manage_rule(actor, resource=locked.resource, node_id=locked.node_id):
            raise PermissionDenied("只有数据主管部门或资源提供部门可以修改质量规则 (data office or providing "
                                   "department only)")
        before = {"params": locked.params, "message": locked.message, "active": locked.active}
        new_params, new_message = _clean(locked.kind, locked.params if params is None else params,
                                         locked.message if message is None else message)
        _check_target(locked.kind, new_params, element=locked.element, resource=locked.resource,
                      column=locked.column_name)
        locked.params, locked.message = new_params, new_message
        if active is not None:
            locked.active = bool(active)
        locked.save(update_fields=["params", "message", "active", "updated_at"])
        affected = _request_full_runs(locked)
        record_event(actor=actor, action="quality.rule_updated", target_type="quality_rule",
                     target_id=str(locked.pk),
                     data={"before": before, "after": {"params": locked.params, "message": locked.message,
                                                       "active": locked.active}, "datasets": affected})
    return locked
