"""事项 → 材料 → 证照类型: service items, their materials, and which materials an applicant need not bring
because a valid licence of the mapped type is already in the library (免提交)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from govshare.accounts.choices import Role
from govshare.audit.services import audit_key_hmac, record_event
from govshare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from govshare.licences.models import LicenceType, ServiceItem, ServiceMaterial
from govshare.licences.services.common import clean_text, is_data_office, is_platform
from govshare.licences.services.lookup import parse_holder, valid_licences
from govshare.organizations.models import Department, Node

ITEM_CODE_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
MAX_MATERIALS = 50


@dataclass(frozen=True)
class MaterialSpec:
    name: str
    licence_type: LicenceType | None = None


def _require_office(actor: Any, node_id: Any) -> None:
    if not is_platform(actor) and not is_data_office(actor, node_id):
        raise PermissionDenied("只有本节点数据主管部门可以维护事项材料 (data office only)")


def _clean_materials(node_id: Any, materials: Sequence[MaterialSpec]) -> list[MaterialSpec]:
    if len(materials) > MAX_MATERIALS:
        raise ValidationFailed(f"材料最多 {MAX_MATERIALS} 项 (at most {MAX_MATERIALS})", field="materials")
    out: list[MaterialSpec] = []
    for i, m in enumerate(materials):
        name = clean_text(m.name, field=f"materials[{i}].name", limit=200, label="材料名称")
        if m.licence_type is not None and m.licence_type.node_id != node_id:
            raise ValidationFailed("证照类型须属于本节点 (licence type of this node)",
                                   field=f"materials[{i}].licence_type_id")
        out.append(MaterialSpec(name=name, licence_type=m.licence_type))
    return out


def _write_materials(item: ServiceItem, materials: Sequence[MaterialSpec]) -> None:
    ServiceMaterial.objects.filter(item=item).delete()
    ServiceMaterial.objects.bulk_create([ServiceMaterial(item=item, position=i + 1, name=m.name,
                                                         licence_type=m.licence_type)
                                         for i, m in enumerate(materials)])


def _event_materials(materials: Sequence[MaterialSpec]) -> list[list[str]]:
    return [[m.name, m.licence_type.code if m.licence_type else ""] for m in materials]


def create_item(*, actor: Any, node: Node, code: str, name: str, department: Department,
                materials: Sequence[MaterialSpec] = ()) -> ServiceItem:
    _require_office(actor, node.pk)
    code = (code or "").strip()
    if not ITEM_CODE_RE.fullmatch(code):
        raise ValidationFailed("事项编码须为 1–64 位字母、数字或连字符 (item code)", field="code")
    name = clean_text(name, field="name", limit=200, label="事项名称")
    if department.node_id != node.pk:
        raise ValidationFailed("实施部门须属于本节点 (department of this node)", field="department_id")
    cleaned = _clean_materials(node.pk, materials)
    with transaction.atomic():
        if ServiceItem.objects.filter(node=node, code=code).exists():
            raise Conflict(f"事项编码已存在: {code} (item code taken)", details={"field": "code"})
        item = ServiceItem.objects.create(node=node, code=code, name=name, department=department)
        _write_materials(item, cleaned)
        record_event(actor=actor, action="licences.item_created", target_type="service_item", target_id=str(item.pk),
                     data={"code": code, "name": name, "materials": _event_materials(cleaned)})
    return item


def update_item(*, actor: Any, item: ServiceItem, name: str | None = None, department: Department | None = None,
                materials: Sequence[MaterialSpec] | None = None) -> ServiceItem:
    """Rename, change the department, or replace the materials list (in the given order)."""
    _require_office(actor, item.node_id)
    with transaction.atomic():
        locked = ServiceItem.objects.select_for_update().get(pk=item.pk)
        if name is not None:
            locked.name = clean_text(name, field="name", limit=200, label="事项名称")
        if department is not None:
            if department.node_id != locked.node_id:
                raise ValidationFailed("实施部门须属于本节点 (department of this node)", field="department_id")
            locked.department = department
        locked.save()
        data: dict[str, Any] = {"code": locked.code, "name": locked.name}
        if materials is not None:
            cleaned = _clean_materials(locked.node_id, materials)
            _write_materials(locked, cleaned)
            data["materials"] = _event_materials(cleaned)
        record_event(actor=actor, action="licences.item_updated", target_type="service_item",
                     target_id=str(locked.pk), data=data)
    return locked


@dataclass(frozen=True)
class MaterialAnswer:
    name: str
    licence_type_code: str | None
    licence_type_name: str | None
    waived: bool  # 免提交: a valid licence of the mapped type is in the library


def materials_for(*, node: Node, item_code: str, holder: str) -> list[MaterialAnswer]:
    """For each material of the item: whether the holder need not bring it (a pure read, not audited)."""
    item = ServiceItem.objects.filter(node=node, code=item_code).first()
    if item is None:
        raise NotFound("事项不存在 (no such service item)")
    holder_id = parse_holder(holder)
    held = {lic.licence_type_id for lic in valid_licences(node_id=node.pk, holder_id=holder_id)}
    return [MaterialAnswer(name=m.name, licence_type_code=m.licence_type.code if m.licence_type else None,
                           licence_type_name=m.licence_type.name if m.licence_type else None,
                           waived=m.licence_type_id is not None and m.licence_type_id in held)
            for m in item.materials.select_related("licence_type").order_by("position")]


def check_materials(*, actor: Any, item_code: str, holder: str) -> list[MaterialAnswer]:
    """The window clerk's check of an applicant's materials; audited with the holder's key HMAC."""
    if getattr(actor, "role", None) != Role.WINDOW_CLERK:
        raise PermissionDenied("只有窗口人员可以核对申请材料 (window staff only)")
    answers = materials_for(node=actor.node, item_code=item_code, holder=holder)
    with transaction.atomic():
        record_event(actor=actor, action="licences.materials_checked", target_type="service_item",
                     target_id=item_code[:128],
                     data={"waived": [a.name for a in answers if a.waived],
                           "key_hmacs": [audit_key_hmac(parse_holder(holder))]})
    return answers
