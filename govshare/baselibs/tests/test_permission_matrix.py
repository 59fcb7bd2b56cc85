"""Role × endpoint × scope matrix of /api/v1/baselibs (the app keeps its own; see
``govshare/core/tests/test_permission_matrix_all.py`` for the pattern).

Scope: node roles are in scope on the library's node and out of scope on another node; department roles are
in scope in the department a rule names (``prov``: the 公安局, authoritative source of most 人口 fields;
``lib``: the library's providing department) and out of scope in a department with no part in the library.
A base library is a listed catalog resource, so everyone signed in sees it: what a caller may not do on it
answers 403, never 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.api import api
from govshare.baselibs.services import fuse
from govshare.baselibs.tests.conftest import build_city, it
from govshare.conftest import client_for
from govshare.datasets.services import load_rows, mount_resource

pytestmark = pytest.mark.django_db

PREFIX = "baselibs"
ROLES: list[str | None] = [*list(Role), None]
NODE_ROLES = frozenset({Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
DEPT_STAFF = frozenset({Role.PROVIDER, Role.DEPT_ADMIN})
HOUSE = [it("不动产单元号", "DE0026", key=True), it("坐落", "DE0027"), it("建筑面积", "DE0028"),
         it("房屋用途", "DE0029"), it("权利人", "DE0030"), it("权利人证件号码", "DE0001", "holder_id_number")]


@dataclass
class World:
    users: dict[tuple[str, str], User]
    library_id: str
    key: str
    install_body: dict[str, Any]


def _build() -> World:
    town = build_city(people=3)
    lib = town.install()
    fuse(actor=town.office, library=lib)
    away = testing.node("445200", name="揭阳市", level="city")
    away_office = testing.department(away, name="揭阳数据局", is_data_office=True)
    outsider = testing.department(town.node, name="市教育局")
    # A small 不动产登记 dataset, so that the install endpoint has a library it can still install.
    zrzy = testing.department(town.node, name="市自然资源局")
    r = testing.resource(zrzy, name="不动产登记信息", items=HOUSE, publish_by=town.office)
    ds = mount_resource(actor=None, resource=r)
    load_rows(actor=None, dataset=ds, rows=[{
        "property_unit": "445102001001GB00001F00010001", "property_location": "潮州市湘桥区西马路1号",
        "floor_area": "88.5", "property_use": "住宅", "right_holder": "陈1号",
        "holder_id_number": town.people[0]["id_number"]}])
    body = {"code": "housing", "sources": {f: {"authoritative": {"dataset_id": str(ds.pk), "column": f}} for f in (
        "property_unit", "property_location", "floor_area", "property_use", "right_holder", "holder_id_number")}}
    users: dict[tuple[str, str], User] = {}
    for role in Role:
        if role in NODE_ROLES:
            users[(role, "in")] = (town.office if role == Role.DATA_OFFICE
                                   else testing.user(role, at=town.node))
            users[(role, "out")] = testing.user(role, at=away, dept=away_office if role == Role.DATA_OFFICE else None)
        else:
            for slot, dept in (("prov", town.depts["gaj"]), ("lib", town.office_dept), ("out", outsider)):
                users[(role, slot)] = testing.user(role, dept=dept)
    return World(users=users, library_id=str(lib.pk), key=town.people[0]["id_number"], install_body=body)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    atomic = transaction.atomic()
    with django_db_blocker.unblock(), override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        atomic.__enter__()
        try:
            built = _build()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


Expect = Callable[[str | None, bool], int]


@dataclass(frozen=True)
class Rule:
    build: Callable[[World], tuple[str, str, dict[str, Any] | None]]
    expect: Expect
    side: str = "prov"


def signed_in(ok: int) -> Expect:
    return lambda role, _s: 401 if role is None else ok


def allowed(ok: int, *, office: bool = True, staff: bool = False, other: int = 403) -> Expect:
    """``ok`` for the in-scope data office (when ``office``) and in-scope department staff (when ``staff``)."""

    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if in_scope and ((office and role == Role.DATA_OFFICE) or (staff and role in DEPT_STAFF)):
            return ok
        return other

    return expect


def install_expect(role: str | None, in_scope: bool) -> int:
    if role is None:
        return 401
    if role == Role.DATA_OFFICE:
        return 201 if in_scope else 422  # another node's data office names datasets it does not have
    return 403


L = "/api/v1/baselibs"
RULES: dict[tuple[str, str], list[Rule]] = {
    ("GET", "/baselibs/definitions"): [Rule(lambda w: ("get", f"{L}/definitions", None), signed_in(200))],
    ("GET", "/baselibs/definitions/{code}"): [Rule(lambda w: ("get", f"{L}/definitions/housing", None),
                                                   signed_in(200))],
    ("GET", "/baselibs"): [Rule(lambda w: ("get", L, None), signed_in(200))],
    ("POST", "/baselibs/install"): [Rule(lambda w: ("post", f"{L}/install", w.install_body), install_expect)],
    ("GET", "/baselibs/{library_id}"): [Rule(lambda w: ("get", f"{L}/{w.library_id}", None), signed_in(200))],
    ("POST", "/baselibs/{library_id}/run"): [Rule(lambda w: ("post", f"{L}/{w.library_id}/run", {}), allowed(202))],
    ("GET", "/baselibs/{library_id}/runs"): [Rule(lambda w: ("get", f"{L}/{w.library_id}/runs", None),
                                                  allowed(200, staff=True), side="lib")],
    ("GET", "/baselibs/{library_id}/discrepancies"): [Rule(
        lambda w: ("get", f"{L}/{w.library_id}/discrepancies", None), allowed(200, staff=True), side="prov")],
    ("GET", "/baselibs/{library_id}/lineage/{key}"): [Rule(
        lambda w: ("get", f"{L}/{w.library_id}/lineage/{w.key}", None), allowed(200))],
}


def _routes() -> set[tuple[str, str]]:
    routes = set()
    for prefix, router in api._routers:
        if prefix.strip("/").split("/")[0] != PREFIX:
            continue
        for path, view in router.path_operations.items():
            for op in view.operations:
                for method in op.methods:
                    routes.add((method, "/" + "/".join(p for p in (prefix.strip("/"), path.strip("/")) if p)))
    return routes


def test_every_route_has_a_rule() -> None:
    missing = _routes() - set(RULES)
    assert not missing, f"endpoints without a permission rule: {sorted(missing)}"
    assert not set(RULES) - _routes(), "rules for endpoints that do not exist"


def _cases() -> list[Any]:
    return [pytest.param(route, i, role, scope, id=f"{route[0]} {route[1]} {role or 'anon'} {'in' if scope else 'out'}")
            for route in sorted(RULES) for i in range(len(RULES[route])) for role in ROLES for scope in (True, False)
            if role is not None or scope]


@pytest.mark.parametrize(("route", "index", "role", "scope"), _cases())
def test_matrix(world: World, route: tuple[str, str], index: int, role: str | None, scope: bool) -> None:
    rule = RULES[route][index]
    method, url, body = rule.build(world)
    user = None
    if role is not None:
        slot = ("in" if scope else "out") if role in NODE_ROLES else (rule.side if scope else "out")
        user = world.users[(role, slot)]
    c = client_for(user)
    resp = getattr(c, method)(url) if body is None else getattr(c, method)(url, body, content_type="application/json")
    assert resp.status_code == rule.expect(role, scope), (route, role, scope, resp.content[:300])
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False
