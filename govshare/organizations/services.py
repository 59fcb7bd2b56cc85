"""Writes for nodes, regions and departments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from govshare.audit.services import record_event
from govshare.core.errors import Conflict, ValidationFailed
from govshare.core.identifiers import IdentifierError, validate_uscc
from govshare.core.names import clean_name
from govshare.organizations.choices import NodeLevel
from govshare.organizations.models import Department, Node, Region

REGIONS_FILE = Path(__file__).resolve().parent / "data" / "regions_gb2260.json"


def load_regions(*, actor: Any, path: Path = REGIONS_FILE) -> int:
    """Load (or refresh) the GB/T 2260 region table from the project data file. Idempotent."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    with transaction.atomic():
        existing = set(Region.objects.values_list("code", flat=True))
        new = [
            Region(code=c, name=n, level=lvl, parent_code=p, current=cur, version=doc["version"])
            for c, n, lvl, p, cur in doc["regions"]
            if c not in existing
        ]
        Region.objects.bulk_create(new, batch_size=1000)
        record_event(actor=actor, action="regions.loaded", target_type="region",
                     data={"added": len(new), "version": doc["version"], "source": doc["source"]})
    return len(new)


def _region(code: str | None, field: str) -> Region | None:
    if not code:
        return None
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationFailed(f"未知的行政区划代码 {code} (unknown region code)", field=field)
    return region


def create_node(
    *,
    actor: Any,
    code: str,
    name: str,
    level: str,
    parent: Node | None = None,
    region_code: str | None = None,
    is_local: bool = False,
    code_prefix: str | None = None,
) -> Node:
    if level not in NodeLevel.values:
        raise ValidationFailed(f"节点级别无效: {level}", field="level")
    if not code or not code.replace("-", "").isalnum():
        raise ValidationFailed("节点代码只能包含字母、数字和连字符 (node code)", field="code")
    with transaction.atomic():
        if Node.objects.filter(code=code).exists():
            raise Conflict(f"节点代码已存在: {code}", details={"field": "code"})
        node = Node.objects.create(
            code=code, name=name, level=level, parent=parent, region=_region(region_code, "region_code"),
            is_local=is_local, code_prefix=code_prefix or code,
        )
        record_event(actor=actor, action="node.created", target_type="node", target_id=str(node.pk),
                     data={"code": code, "name": name, "level": level})
    return node


def create_department(
    *,
    actor: Any,
    node: Node,
    name: str,
    uscc: str,
    short_name: str = "",
    region_code: str | None = None,
    parent: Department | None = None,
    is_data_office: bool = False,
) -> Department:
    name = clean_name(name)
    if not name:
        raise ValidationFailed("部门名称不能为空 (name required)", field="name")
    try:
        uscc = validate_uscc(uscc)
    except IdentifierError as exc:
        raise ValidationFailed(f"统一社会信用代码无效: {exc}", field="uscc") from exc
    with transaction.atomic():
        if Department.objects.filter(uscc=uscc).exists():
            raise Conflict(f"统一社会信用代码已被使用: {uscc}", details={"field": "uscc"})
        if Department.objects.filter(node=node, name=name).exists():
            raise Conflict(f"部门名称已存在: {name}", details={"field": "name"})
        dept = Department.objects.create(
            node=node, name=name, short_name=short_name, uscc=uscc,
            region=_region(region_code, "region_code"), parent=parent, is_data_office=is_data_office,
        )
        record_event(actor=actor, action="department.created", target_type="department",
                     target_id=str(dept.pk), data={"name": name, "uscc": uscc, "node": node.code})
    return dept


def local_node() -> Node | None:
    return Node.objects.filter(is_local=True).first()
