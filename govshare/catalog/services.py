"""Writes for the catalog: data elements, resources and their items, the review lifecycle, versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.catalog import hooks, rules, workflow
from govshare.catalog.choices import (
    DataType,
    OpenType,
    ResourceStatus,
    Secrecy,
    Sensitivity,
    ShareMode,
    ShareType,
    UpdateCycle,
    Validator,
)
from govshare.catalog.codes import format_resource_code, next_sequence
from govshare.catalog.models import (
    Classification,
    DataElement,
    DataItem,
    Resource,
    ResourceVersion,
    ReviewRecord,
)
from govshare.catalog.search import build_search_text, sync_search_index
from govshare.catalog.versions import diff_snapshots, snapshot, tightening_reasons
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.core.masking import MASK_KINDS
from govshare.core.names import clean_name
from govshare.organizations.models import Department

# ---------------------------------------------------------------------------------------------
# Data elements (数据元): edited by the security administrator.
# ---------------------------------------------------------------------------------------------

ELEMENT_FIELDS = (
    "name", "column_name", "data_type", "length", "format", "validator", "sensitivity", "mask_kind",
    "mask_params", "enum_values", "low_entropy", "is_personal", "description",
)


def _require_sec_admin(actor: Any) -> None:
    if getattr(actor, "role", None) != Role.SEC_ADMIN and actor is not None:
        raise PermissionDenied("只有安全管理员可以维护数据元 (security administrator only)")


def _clean_element(values: dict[str, Any]) -> dict[str, Any]:
    if "name" in values and not str(values["name"]).strip():
        raise ValidationFailed("数据元名称不能为空", field="name")
    if "column_name" in values:
        col = str(values["column_name"])
        if not col or not col.replace("_", "").isalnum() or not col.isascii() or col[0].isdigit():
            raise ValidationFailed("英文列名只能包含字母、数字和下划线 (column_name)", field="column_name")
        values["column_name"] = col.lower()
    if "data_type" in values and values["data_type"] not in DataType.values:
        raise ValidationFailed(f"数据类型无效: {values['data_type']}", field="data_type")
    if "validator" in values and values["validator"] not in Validator.values:
        raise ValidationFailed(f"校验规则无效: {values['validator']}", field="validator")
    if "sensitivity" in values and values["sensitivity"] not in Sensitivity.values:
        raise ValidationFailed("敏感级别须为 1–4 (L1–L4)", field="sensitivity")
    if "mask_kind" in values and values["mask_kind"] not in MASK_KINDS:
        raise ValidationFailed(f"脱敏方式无效: {values['mask_kind']}", field="mask_kind")
    if values.get("validator") == Validator.REGEX and not values.get("format"):
        raise ValidationFailed("正则校验须填写格式 (format)", field="format")
    if values.get("data_type") in (DataType.BOOLEAN, DataType.ENUM):
        values["low_entropy"] = True
    return values


def create_data_element(
    *, actor: Any, code: str, correlated_with: Sequence[str] = (), **values: Any
) -> DataElement:
    _require_sec_admin(actor)
    unknown = set(values) - set(ELEMENT_FIELDS)
    if unknown:
        raise ValidationFailed(f"未知字段: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    for required in ("name", "column_name"):
        if not values.get(required):
            raise ValidationFailed(f"{required} 必填", field=required)
    values = _clean_element(values)
    with transaction.atomic():
        for f in ("code", "name", "column_name"):
            v = code if f == "code" else values[f]
            if DataElement.objects.filter(**{f: v}).exists():
                raise Conflict(f"数据元 {f} 已存在: {v}", details={"field": f})
        element = DataElement.objects.create(code=code, **values)
        _set_correlations(element, correlated_with)
        record_event(actor=actor, action="data_element.created", target_type="data_element",
                     target_id=str(element.pk), data={"code": code, "name": element.name,
                                                      "sensitivity": element.sensitivity})
    return element


def _set_correlations(element: DataElement, codes: Sequence[str]) -> None:
    related = list(DataElement.objects.filter(code__in=list(codes)))
    missing = set(codes) - {e.code for e in related}
    if missing:
        raise ValidationFailed(f"未知数据元: {', '.join(sorted(missing))}", field="correlated_with")
    element.correlated_with.set(related)


def update_data_element(
    *, actor: Any, element: DataElement, correlated_with: Sequence[str] | None = None, **changes: Any
) -> DataElement:
    _require_sec_admin(actor)
    unknown = set(changes) - set(ELEMENT_FIELDS)
    if unknown:
        raise ValidationFailed(f"未知字段: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    changes = _clean_element(dict(changes))
    with transaction.atomic():
        before = {f: getattr(element, f) for f in changes}
        for f, v in changes.items():
            setattr(element, f, v)
        element.save()
        if correlated_with is not None:
            _set_correlations(element, correlated_with)
        # Raising an element's level raises every item below it (an item is never below its element).
        if "sensitivity" in changes:
            DataItem.objects.filter(element=element, sensitivity__lt=element.sensitivity).update(
                sensitivity=element.sensitivity)
        record_event(actor=actor, action="data_element.updated", target_type="data_element",
                     target_id=str(element.pk),
                     data={"changes": {f: [before[f], changes[f]] for f in changes if before[f] != changes[f]}})
    return element


# ---------------------------------------------------------------------------------------------
# Resources (信息资源) and items (信息项)
# ---------------------------------------------------------------------------------------------


@dataclass
class ItemSpec:
    name: str
    element_code: str
    column_name: str | None = None
    data_type: str | None = None
    length: int | None = None
    sensitivity: int | None = None
    required: bool = False
    is_key: bool = False


@dataclass
class ResourceFields:
    """The editable metadata of a resource (everything except code, status and versions)."""

    name: str
    classification_code: str
    summary: str = ""
    source_department: Department | None = None
    formats: list[str] = field(default_factory=list)
    share_type: str = ShareType.CONDITIONAL
    share_condition: str = ""
    share_modes: list[str] = field(default_factory=lambda: [ShareMode.API])
    no_share_basis: str = ""
    open_type: str = OpenType.NONE
    open_condition: str = ""
    update_cycle: str = UpdateCycle.IRREGULAR
    related_codes: list[str] = field(default_factory=list)
    secrecy: str = Secrecy.NON_SECRET
    tags: list[str] = field(default_factory=list)


def _is_provider_side(actor: Any, resource_provider_id: Any) -> bool:
    return (getattr(actor, "role", None) in (Role.PROVIDER, Role.DEPT_ADMIN)
            and actor.department_id == resource_provider_id)


def _require_provider_side(actor: Any, provider: Department) -> None:
    if actor is None:  # the system itself (imports run by an operator, the demo builder)
        return
    if not _is_provider_side(actor, provider.pk):
        raise PermissionDenied("只有提供部门的人员可以编辑该资源 (provider department only)")


def _build_items(specs: Sequence[ItemSpec]) -> list[DataItem]:
    codes = {s.element_code for s in specs}
    elements = {e.code: e for e in DataElement.objects.filter(code__in=codes)}
    items: list[DataItem] = []
    seen: set[str] = set()
    for pos, spec in enumerate(specs, start=1):
        where = f"items[{pos - 1}]"
        element = elements.get(spec.element_code)
        if element is None:
            raise ValidationFailed(f"第 {pos} 个信息项引用了未知数据元 {spec.element_code}",
                                   field=f"{where}.element_code")
        if not spec.name.strip():
            raise ValidationFailed(f"第 {pos} 个信息项名称为空", field=f"{where}.name")
        column = (spec.column_name or element.column_name).lower()
        if column in seen:
            raise ValidationFailed(f"信息项列名重复: {column}", field=f"{where}.column_name")
        seen.add(column)
        level = spec.sensitivity if spec.sensitivity is not None else element.sensitivity
        if level not in Sensitivity.values:
            raise ValidationFailed("敏感级别须为 1–4", field=f"{where}.sensitivity")
        if level < element.sensitivity:
            raise ValidationFailed(
                f"信息项 {spec.name} 的敏感级别不能低于其数据元 {element.name} 的 L{element.sensitivity}",
                field=f"{where}.sensitivity")
        dtype = spec.data_type or element.data_type
        if dtype not in DataType.values:
            raise ValidationFailed(f"数据类型无效: {dtype}", field=f"{where}.data_type")
        items.append(DataItem(position=pos, name=spec.name.strip(), element=element, column_name=column,
                              data_type=dtype, length=spec.length or element.length, sensitivity=level,
                              required=spec.required or spec.is_key, is_key=spec.is_key))
    if sum(1 for i in items if i.is_key) > 1:
        raise ValidationFailed("一个资源最多一个主键信息项 (one key item)", field="items")
    return items


def _apply_fields(resource: Resource, f: ResourceFields) -> Classification:
    classification = Classification.objects.filter(code=f.classification_code).first()
    if classification is None:
        raise ValidationFailed(f"未知的资源分类 {f.classification_code}", field="classification_code")
    resource.name = clean_name(f.name)
    resource.classification = classification
    resource.category = classification.category
    resource.summary = f.summary
    resource.source_department = f.source_department
    resource.formats = list(f.formats)
    resource.share_type = f.share_type
    resource.share_condition = f.share_condition
    resource.share_modes = list(dict.fromkeys(f.share_modes))
    resource.no_share_basis = f.no_share_basis
    resource.open_type = f.open_type
    resource.open_condition = f.open_condition
    resource.update_cycle = f.update_cycle
    resource.related_codes = list(f.related_codes)
    resource.secrecy = f.secrecy
    resource.tags = list(f.tags)
    return classification


def _save_items(resource: Resource, items: list[DataItem]) -> None:
    DataItem.objects.filter(resource=resource).delete()
    for item in items:
        item.resource = resource
    DataItem.objects.bulk_create(items)


def _refresh_search(resource: Resource, items: Sequence[DataItem]) -> None:
    resource.search_text = build_search_text(resource, [i.name for i in items])


def create_resource(
    *, actor: Any, provider: Department, fields: ResourceFields, items: Sequence[ItemSpec]
) -> Resource:
    """Create a draft (草稿). Drafts may be incomplete; the full rules apply on submission."""
    _require_provider_side(actor, provider)
    resource = Resource(node=provider.node, provider=provider, status=ResourceStatus.DRAFT,
                        created_by=actor if getattr(actor, "is_authenticated", False) else None)
    classification = _apply_fields(resource, fields)
    built = _build_items(items)
    resource.sensitivity = max((i.sensitivity for i in built), default=Sensitivity.L1)
    rules.check_draft(resource, built)
    with transaction.atomic():
        resource.sequence = next_sequence(provider.node, classification)
        resource.code = format_resource_code(prefix=provider.node.code_prefix,
                                             segments=classification.segments(), seq=resource.sequence)
        _refresh_search(resource, built)
        resource.save()
        _save_items(resource, built)
        sync_search_index(resource)
        record_event(actor=actor, action="resource.created", target_type="resource", target_id=str(resource.pk),
                     data={"code": resource.code, "name": resource.name, "provider": str(provider.pk)})
    return resource


def update_resource(
    *, actor: Any, resource: Resource, fields: ResourceFields, items: Sequence[ItemSpec] | None = None
) -> Resource:
    """Edit the working copy. Only drafts are editable (revise a published resource first)."""
    _require_provider_side(actor, resource.provider)
    if resource.status != ResourceStatus.DRAFT:
        raise Conflict(f"只有草稿可以编辑，当前状态: {resource.get_status_display()} (only drafts are editable)")
    with transaction.atomic():
        locked = Resource.objects.select_for_update().get(pk=resource.pk)
        if locked.status != ResourceStatus.DRAFT:
            raise Conflict("只有草稿可以编辑 (only drafts are editable)")
        old_classification = locked.classification_id
        _apply_fields(locked, fields)
        if locked.classification_id != old_classification and locked.published_version_id:
            raise ValidationFailed("已发布资源不能更改分类 (classification is fixed once published)",
                                   field="classification_code")
        built = _build_items(items) if items is not None else list(locked.items.all())
        locked.sensitivity = max((i.sensitivity for i in built), default=Sensitivity.L1)
        rules.check_draft(locked, built)
        _refresh_search(locked, built)
        locked.save()
        if items is not None:
            _save_items(locked, built)
        sync_search_index(locked)
        record_event(actor=actor, action="resource.updated", target_type="resource", target_id=str(locked.pk),
                     data={"code": locked.code})
    return locked


# ---------------------------------------------------------------------------------------------
# Lifecycle (目录审核)
# ---------------------------------------------------------------------------------------------


def _check_authority(actor: Any, resource: Resource, by: str) -> None:
    if actor is None:
        return
    if by == workflow.PROVIDER:
        if not _is_provider_side(actor, resource.provider_id):
            raise PermissionDenied("只有提供部门可以执行此操作 (provider department only)")
    elif by == workflow.DATA_OFFICE:
        if getattr(actor, "role", None) != Role.DATA_OFFICE or actor.node_id != resource.node_id:
            raise PermissionDenied("只有本节点数据主管部门可以审核 (data office only)")


def apply_action(*, actor: Any, resource: Resource, action: str, reason: str = "") -> Resource:
    """Run one lifecycle action (提交 / 发布 / 退回 / 修订 / 撤销 …) per ``workflow.TRANSITIONS``."""
    with transaction.atomic():
        locked = Resource.objects.select_for_update().select_related("provider", "node").get(pk=resource.pk)
        step = workflow.transition(locked.status, action)
        if step is None:
            raise Conflict(f"当前状态“{locked.get_status_display()}”不允许操作 {action} (not allowed)",
                           details={"status": locked.status, "action": action,
                                    "allowed": [str(a) for a in workflow.allowed_actions(locked.status)]})
        _check_authority(actor, locked, step.by)
        reason = reason.strip()
        if step.needs_reason and not reason:
            raise ValidationFailed("此操作须填写理由 (a reason is required)", field="reason")
        items = list(locked.items.select_related("element").order_by("position"))
        if step.target in (ResourceStatus.PENDING, ResourceStatus.PUBLISHED) and action != "reject_withdrawal":
            rules.check_publishable(locked, items)
        from_status = locked.status
        locked.status = step.target
        locked.review_note = reason if action in ("reject", "reject_withdrawal") else ""
        event_data: dict[str, Any] = {"code": locked.code, "from": from_status, "to": step.target}
        if action == "publish":
            version = _publish_version(actor, locked, items)
            event_data["version"] = version.number
            event_data["tightened"] = version.tightened
        if step.target == ResourceStatus.WITHDRAWN:
            locked.is_listed = False
        if action == "reject_withdrawal":
            locked.is_listed = True
        locked.save()
        sync_search_index(locked)
        ReviewRecord.objects.create(resource=locked, action=action, from_status=from_status,
                                    to_status=step.target, reason=reason,
                                    actor=actor if getattr(actor, "is_authenticated", False) else None)
        record_event(actor=actor, action=f"resource.{action}", target_type="resource", target_id=str(locked.pk),
                     data={**event_data, "reason": reason} if reason else event_data)
    return locked


def _publish_version(actor: Any, resource: Resource, items: list[DataItem]) -> ResourceVersion:
    snap = snapshot(resource, items)
    previous = resource.published_version
    number = (previous.number + 1) if previous else 1
    changes = diff_snapshots(previous.snapshot, snap) if previous else {}
    reasons, removed = tightening_reasons(previous.snapshot, snap) if previous else ([], [])
    version = ResourceVersion.objects.create(
        resource=resource, number=number, snapshot=snap, change_summary=changes, tightened=bool(reasons),
        published_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    resource.published_version = version
    resource.is_listed = True
    if resource.published_on is None:
        resource.published_on = timezone.localdate()
    if reasons:
        event = hooks.Tightening(resource_id=resource.pk, version_number=number, reasons=reasons,
                                 removed_columns=removed, actor=actor)
        for handler in hooks.tightening_handlers():
            handler(event)
        record_event(actor=actor, action="resource.tightened", target_type="resource", target_id=str(resource.pk),
                     data={"version": number, "reasons": reasons, "removed_columns": removed})
    return version
