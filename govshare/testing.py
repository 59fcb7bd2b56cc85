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

PASSWORD = "Govshare-Test-2026"  # noqa: S105 - test-only password
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


def seed() -> None:
    """The shipped classification tree and data-element dictionary (idempotent)."""
    from govshare.catalog.seeding import seed_catalog

    if not Classification.objects.exists():
        seed_catalog(actor=None)


def element(code: str) -> DataElement:
    seed()
    return DataElement.objects.get(code=code)


DEFAULT_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
]


def resource(provider: Department, *, name: str = "人口基本信息", publish_by: User | None = None,
             items: list[ItemSpec] | None = None, **fields: Any) -> Resource:
    """A draft resource of ``provider`` (published when ``publish_by`` is a data-office user)."""
    seed()
    f = ResourceFields(name=name, classification_code=fields.pop("classification_code", "101001"),
                       summary=fields.pop("summary", f"{name}的摘要"), **fields)
    r = create_resource(actor=None, provider=provider, fields=f, items=items or DEFAULT_ITEMS)
    if publish_by is not None:
        r = apply_action(actor=None, resource=r, action="submit")
        r = apply_action(actor=publish_by, resource=r, action="publish")
    return r
