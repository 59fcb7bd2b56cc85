"""证照目录: licence types, managed by the node's data office (数据主管部门)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from govshare.audit.services import record_event
from govshare.catalog.models import DataElement
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.licences.choices import HolderKind, ValidityRule
from govshare.licences.models import Licence, LicenceType, ServiceMaterial
from govshare.licences.services.common import clean_text, is_data_office, is_platform
from govshare.organizations.models import Department, Node

TYPE_CODE_RE = re.compile(r"[0-9A-Z]{4,32}")
MAX_FIELDS = 60
MAX_YEARS = 100


@dataclass(frozen=True)
class FieldSpec:
    """One 照面信息项: its name (the key in the licence's fields), data element code (optional), required."""

    name: str
    element: str = ""
    required: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "element": self.element, "required": self.required}


def _require_office(actor: Any, node_id: Any) -> None:
    if not is_platform(actor) and not is_data_office(actor, node_id):
        raise PermissionDenied("只有本节点数据主管部门可以维护证照目录 (data office only)")


def clean_fields(fields: Sequence[FieldSpec]) -> list[dict[str, Any]]:
    if len(fields) > MAX_FIELDS:
        raise ValidationFailed(f"照面信息项最多 {MAX_FIELDS} 个 (at most {MAX_FIELDS} fields)", field="fields")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, spec in enumerate(fields):
        name = clean_text(spec.name, field=f"fields[{i}].name", limit=50, label="信息项名称")
        if name in seen:
            raise ValidationFailed(f"信息项名称重复: {name} (duplicate field)", field=f"fields[{i}].name")
        seen.add(name)
        element = clean_text(spec.element, field=f"fields[{i}].element", limit=32, required=False)
        out.append({"name": name, "element": element, "required": bool(spec.required)})
    codes = {f["element"] for f in out if f["element"]}
    known = set(DataElement.objects.filter(code__in=codes).values_list("code", flat=True))
    for i, f in enumerate(out):
        if f["element"] and f["element"] not in known:
            raise ValidationFailed(f"未知数据元: {f['element']} (unknown data element)", field=f"fields[{i}].element")
    return out


def _clean_validity(rule: str, years: int | None) -> tuple[str, int | None]:
    if rule not in ValidityRule.values:
        raise ValidationFailed(
            f"有效期规则无效: {rule} (validity_rule: {', '.join(ValidityRule.values)})", field="validity_rule")
    if rule == ValidityRule.FIXED_YEARS:
        if years is None or not 1 <= years <= MAX_YEARS:
            raise ValidationFailed(f"固定年限须为 1–{MAX_YEARS} 年 (validity_years 1-{MAX_YEARS})",
                                   field="validity_years")
        return rule, years
    if years is not None:
        raise ValidationFailed("只有固定年限规则可以填写有效年限 (validity_years only with fixed_years)",
                               field="validity_years")
    return rule, None


def _next_code(node: Node, department: Department) -> str:
    """证照类型代码 in the GB/T 36902 style: the defining department's 统一社会信用代码 + a 3-digit sequence."""
    taken = set(LicenceType.objects.filter(node=node, code__startswith=department.uscc).values_list("code", flat=True))
    for n in range(1, 1000):
        code = f"{department.uscc}{n:03d}"
        if code not in taken:
            return code
    raise Conflict("该部门的证照类型代码已用尽 (no free type code)")


def create_type(*, actor: Any, node: Node, name: str, department: Department, holder_kind: str,
                fields: Sequence[FieldSpec], validity_rule: str, validity_years: int | None = None,
                code: str | None = None, description: str = "") -> LicenceType:
    _require_office(actor, node.pk)
    if department.node_id != node.pk:
        raise ValidationFailed("颁发部门须属于本节点 (issuing department of this node)", field="department_id")
    name = clean_text(name, field="name", limit=100, label="证照名称")
    if holder_kind not in HolderKind.values:
        raise ValidationFailed("持证主体类型须为 person 或 company (holder_kind)", field="holder_kind")
    cleaned = clean_fields(fields)
    rule, years = _clean_validity(validity_rule, validity_years)
    description = clean_text(description, field="description", limit=2000, required=False)
    if code is not None:
        code = code.strip().upper()
        if not TYPE_CODE_RE.fullmatch(code):
            raise ValidationFailed("证照类型代码须为 4–32 位数字或大写字母 (type code: 4-32 of 0-9A-Z)", field="code")
    with transaction.atomic():
        code = code or _next_code(node, department)
        if LicenceType.objects.filter(node=node, code=code).exists():
            raise Conflict(f"证照类型代码已存在: {code} (type code taken)", details={"field": "code"})
        if LicenceType.objects.filter(node=node, name=name).exists():
            raise Conflict(f"证照名称已存在: {name} (type name taken)", details={"field": "name"})
        licence_type = LicenceType.objects.create(
            node=node, code=code, name=name, department=department, holder_kind=holder_kind, fields=cleaned,
            validity_rule=rule, validity_years=years, description=description)
        record_event(actor=actor, action="licences.type_created", target_type="licence_type",
                     target_id=str(licence_type.pk),
                     data={"code": code, "name": name, "department": str(department.pk), "holder_kind": holder_kind,
                           "validity_rule": rule, "validity_years": years, "fields": len(cleaned)})
    return licence_type


UPDATABLE = frozenset({"name", "department", "fields", "validity_rule", "validity_years", "description", "active"})


def update_type(*, actor: Any, licence_type: LicenceType, **changes: Any) -> LicenceType:
    """Edit a type. The code is fixed (it is part of every signed licence); changed fields and validity apply to
    licences issued afterwards, never to those already signed."""
    _require_office(actor, licence_type.node_id)
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValidationFailed(f"不可修改的字段: {', '.join(sorted(unknown))} (not editable)", field=sorted(unknown)[0])
    with transaction.atomic():
        locked = LicenceType.objects.select_for_update().get(pk=licence_type.pk)
        before = {"name": locked.name, "department": str(locked.department_id), "validity_rule": locked.validity_rule,
                  "validity_years": locked.validity_years, "active": locked.active}
        if "name" in changes:
            name = clean_text(changes["name"], field="name", limit=100, label="证照名称")
            if LicenceType.objects.filter(node_id=locked.node_id, name=name).exclude(pk=locked.pk).exists():
                raise Conflict(f"证照名称已存在: {name} (type name taken)", details={"field": "name"})
            locked.name = name
        if "department" in changes:
            department = changes["department"]
            if department.node_id != locked.node_id:
                raise ValidationFailed("颁发部门须属于本节点 (issuing department of this node)", field="department_id")
            locked.department = department
        if "fields" in changes:
            locked.fields = clean_fields(changes["fields"])
        if "validity_rule" in changes or "validity_years" in changes:
            rule = changes.get("validity_rule", locked.validity_rule)
            years = changes["validity_years"] if "validity_years" in changes else (
                locked.validity_years if rule == ValidityRule.FIXED_YEARS else None)
            locked.validity_rule, locked.validity_years = _clean_validity(rule, years)
        if "description" in changes:
            locked.description = clean_text(changes["description"], field="description", limit=2000, required=False)
        if "active" in changes:
            locked.active = bool(changes["active"])
        locked.save()
        after = {"name": locked.name, "department": str(locked.department_id), "validity_rule": locked.validity_rule,
                 "validity_years": locked.validity_years, "active": locked.active}
        record_event(actor=actor, action="licences.type_updated", target_type="licence_type",
                     target_id=str(locked.pk),
                     data={"code": locked.code, "changes": {k: [before[k], after[k]] for k in before
                                                            if before[k] != after[k]},
                           "fields_changed": "fields" in changes})
    return locked


def delete_type(*, actor: Any, licence_type: LicenceType) -> None:
    """Remove a type that was never used (no licence issued, no material mapped); otherwise deactivate it."""
    _require_office(actor, licence_type.node_id)
    with transaction.atomic():
        locked = LicenceType.objects.select_for_update().get(pk=licence_type.pk)
        if Licence.objects.filter(licence_type=locked).exists() or \
                ServiceMaterial.objects.filter(licence_type=locked).exists():
            raise Conflict("已签发证照或已关联申请材料的证照类型不能删除，请停用 (in use: deactivate it instead)")
        record_event(actor=actor, action="licences.type_deleted", target_type="licence_type",
                     target_id=str(locked.pk), data={"code": locked.code, "name": locked.name})
        locked.delete()
