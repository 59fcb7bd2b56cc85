"""Test factories (no fixture files). Each builds valid objects through the services."""

from __future__ import annotations

import itertools
from typing import Any

from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.accounts.services import create_user
from govshare.catalog.models import Classification, DataElement, Resource
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, create_resource
from govshare.core.identifiers import make_uscc
from govshare.organizations.models import Department, Node
from govshare.organizations.services import create_department, create_node

PASSWORD = "Govshare-Test-2026"
_seq = itertools.count(1)


def node(code: str | None = None, **kw: Any) -> Node:
    n = next(_seq)
    code = code or f"T{n:04d}"
    return create_node(actor=None, code=code, name=kw.pop("name", f"测试节点{n}"), level=kw.pop("level", "city"),
                       **kw)


def department(at: Node | None = None, name: str | None = None, **kw: Any) -> Department:
    n = next(_seq)
    at = at or node()
    uscc = make_uscc("1", "1", "445100", f"{n:08d}")
    return create_department(actor=None, node=at, name=name or f"测试局{n}", uscc=uscc, **kw)


def user(role: str, *, dept: Department | None = None, at: Node | None = None, username: str | None = None,
         **kw: Any) -> User:
    n = next(_seq)
    if dept is None and role in (Role.DEPT_ADMIN, Role.PROVIDER, Role.CONSUMER, Role.WINDOW_CLERK):
        dept = department(at)
    at = at or (dept.node if dept else node())
    return create_user(actor=None, username=username or f"{role}{n}", password=PASSWORD, role=role, node=at,
                       department=dept, **kw).user


def classification(code: str = "1", name: str = "人口", category: str = "basic") -> Classification:
    c, _ = Classification.objects.get_or_create(
        code=code, defaults={"segment": code[-1:], "name": name, "category": category, "level": "lei"})
    return c


def element(code: str, name: str, column: str, sensitivity: int = 1, **kw: Any) -> DataElement:
    e, _ = DataElement.objects.get_or_create(
        code=code, defaults={"name": name, "column_name": column, "sensitivity": sensitivity, **kw})
    return e


def basic_elements() -> dict[str, DataElement]:
    return {
        "id": element("DE_T_ID", "公民身份号码", "id_number", 3, validator="resident_id", mask_kind="id_number",
                      data_type="string", length=18, is_personal=True),
        "name": element("DE_T_NAME", "姓名", "person_name", 2, mask_kind="name", is_personal=True),
        "gender": element("DE_T_GENDER", "性别", "gender", 1, data_type="enum", low_entropy=True),
        "phone": element("DE_T_PHONE", "手机号码", "mobile", 3, mask_kind="mobile", validator="mobile"),
        "addr": element("DE_T_ADDR", "住址", "address", 2, mask_kind="address"),
    }


def resource(provider: Department, *, name: str = "人口基本信息", publish_by: User | None = None,
             items: list[ItemSpec] | None = None, **fields: Any) -> Resource:
    classification()
    els = basic_elements()
    items = items or [
        ItemSpec(name="公民身份号码", element_code=els["id"].code, is_key=True),
        ItemSpec(name="姓名", element_code=els["name"].code, required=True),
        ItemSpec(name="性别", element_code=els["gender"].code),
    ]
    f = ResourceFields(name=name, classification_code=fields.pop("classification_code", "1"),
                       summary=fields.pop("summary", f"{name}的摘要"), **fields)
    r = create_resource(actor=None, provider=provider, fields=f, items=items)
    if publish_by is not None:
        r = apply_action(actor=None, resource=r, action="submit")
        r = apply_action(actor=publish_by, resource=r, action="publish")
    return r
