"""Role × endpoint × scope matrix for the licences API (/api/v1/licences).

Scope: department roles are in scope in the issuing department of the world's licence type (民政局) and out of
scope in another department of the same node; node roles are in scope on the node and out of scope on another
node. The licence catalogue, keys, service items and the library are visible to the whole node; a licence only
to its issuing department and the node's data office. Out-of-scope objects answer 404 like missing ones; visible
but not allowed is 403; anonymous callers get 401. ``test_every_route_has_a_rule`` walks the router.
"""

from __future__ import annotations

import uuid
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
from govshare.conftest import client_for
from govshare.licences.choices import HolderKind, ValidityRule
from govshare.licences.services import items, types
from govshare.licences.services.issue import IssueSpec, issue_licence
from govshare.licences.services.library import ensure_licence_resource
from govshare.licences.tests.conftest import PERSON

pytestmark = pytest.mark.django_db

PREFIX = "licences"
ROLES: list[str | None] = [*list(Role), None]
NODE_ROLES = frozenset({Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
ISSUERS = frozenset({Role.PROVIDER, Role.DEPT_ADMIN})


@dataclass
class World:
    users: dict[tuple[str, bool], User]
    dept_id: str  # the issuing department (in scope for department roles)
    type_id: str  # used: has a licence
    spare_type_id: str  # never used: may be deleted
    licence_id: str
    number: str
    item_id: str
    item_code: str


def _build() -> World:
    testing.seed()
    home = testing.node("445100", name="潮州市", level="city")
    away = testing.node("445200", name="揭阳市", level="city")
    office_home = testing.department(home, name="潮州数据局", is_data_office=True)
    office_away = testing.department(away, name="揭阳数据局", is_data_office=True)
    civil = testing.department(home, name="民政局")
    other = testing.department(home, name="人社局")
    users: dict[tuple[str, bool], User] = {}
    for role in Role:
        if role in NODE_ROLES:
            users[(role, True)] = testing.user(role, at=home, dept=office_home if role == Role.DATA_OFFICE else None)
            users[(role, False)] = testing.user(role, at=away, dept=office_away if role == Role.DATA_OFFICE else None)
        else:
            users[(role, True)] = testing.user(role, dept=civil)
            users[(role, False)] = testing.user(role, dept=other)
    office = users[(Role.DATA_OFFICE, True)]
    used = types.create_type(actor=office, node=home, name="结婚证", department=civil, holder_kind=HolderKind.PERSON,
                             fields=[types.FieldSpec("登记日期", "DE0033", True)],
                             validity_rule=ValidityRule.NO_EXPIRY)
    spare = types.create_type(actor=office, node=home, name="离婚证", department=civil,
                              holder_kind=HolderKind.PERSON, fields=[], validity_rule=ValidityRule.NO_EXPIRY)
    lic = issue_licence(actor=users[(Role.PROVIDER, True)], licence_type=used,
                        spec=IssueSpec(holder_id=PERSON, holder_name="陈晓明", fields={"登记日期": "2020-05-20"}))
    item = items.create_item(actor=office, node=home, code="ITEM-0001", name="公租房申请", department=civil,
                             materials=[items.MaterialSpec("结婚证", used)])
    ensure_licence_resource(actor=office, node=home)
    return World(users=users, dept_id=str(civil.pk), type_id=str(used.pk), spare_type_id=str(spare.pk),
                 licence_id=str(lic.pk), number=lic.number, item_id=str(item.pk), item_code=item.code)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once per module and rolled back at the end; each test runs in a savepoint of it."""
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


# ---------------------------------------------------------------------------------------------------------------
# Expectations
# ---------------------------------------------------------------------------------------------------------------

Request = tuple[str, str, dict[str, Any] | None]
Expect = Callable[[str | None, bool], int]


def signed_in(ok: int) -> Expect:
    return lambda role, _s: 401 if role is None else ok


def roles(allowed: frozenset[str] | set[str], ok: int) -> Expect:
    return lambda role, _s: 401 if role is None else (ok if role in allowed else 403)


def node_visible(allowed: Callable[[str, bool], bool], ok: int) -> Expect:
    """A node-wide object: node roles of another node get 404; everyone else sees it; ``allowed`` acts."""
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if role in NODE_ROLES and not in_scope:
            return 404
        return ok if allowed(role, in_scope) else 403
    return expect


def office_creates(ok: int) -> Expect:
    """Create on the caller's own node: the other node's data office names a department it does not have."""
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if role != Role.DATA_OFFICE:
            return 403
        return ok if in_scope else 422
    return expect


def office_of_node(role: str, in_scope: bool) -> bool:
    return role == Role.DATA_OFFICE and in_scope


def issuer(role: str, in_scope: bool) -> bool:
    return role in ISSUERS and in_scope


def key_manager(role: str, in_scope: bool) -> bool:
    return in_scope and role in (Role.DEPT_ADMIN, Role.SEC_ADMIN)


def licence_rule(allowed: Callable[[str, bool], bool], ok: int) -> Expect:
    """A licence: visible to the issuing department's staff and the node's data office, else 404."""
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        sees = in_scope and (role in ISSUERS or role == Role.DATA_OFFICE)
        if not sees:
            return 404
        return ok if allowed(role, in_scope) else 403
    return expect


TYPE_BODY = {"name": "新证照", "holder_kind": "person", "validity_rule": "no_expiry", "fields": []}
NOWHERE = str(uuid.uuid4())

RULES: dict[tuple[str, str], tuple[Callable[[World], Request], Expect]] = {
    ("GET", "/licences/types"): (lambda w: ("get", "/api/v1/licences/types", None), signed_in(200)),
    ("POST", "/licences/types"): (
        lambda w: ("post", "/api/v1/licences/types", {**TYPE_BODY, "department_id": w.dept_id}), office_creates(201)),
    ("GET", "/licences/types/{type_id}"): (
        lambda w: ("get", f"/api/v1/licences/types/{w.type_id}", None), node_visible(lambda r, s: True, 200)),
    ("PATCH", "/licences/types/{type_id}"): (
        lambda w: ("patch", f"/api/v1/licences/types/{w.type_id}", {"description": "说明"}),
        node_visible(office_of_node, 200)),
    ("DELETE", "/licences/types/{type_id}"): (
        lambda w: ("delete", f"/api/v1/licences/types/{w.spare_type_id}", None), node_visible(office_of_node, 204)),
    ("POST", "/licences/types/{type_id}/issue-from-dataset"): (
        lambda w: ("post", f"/api/v1/licences/types/{w.type_id}/issue-from-dataset",
                   {"dataset_id": NOWHERE, "holder_id_column": "id_number", "holder_name_column": "person_name"}),
        node_visible(issuer, 422)),  # allowed, then the dataset does not exist
    ("GET", "/licences/keys"): (lambda w: ("get", "/api/v1/licences/keys", None), signed_in(200)),
    ("POST", "/licences/keys/rotate"): (
        lambda w: ("post", "/api/v1/licences/keys/rotate", {"department_id": w.dept_id}),
        node_visible(key_manager, 201)),
    ("POST", "/licences/verify"): (lambda w: ("post", "/api/v1/licences/verify", {"number": w.number}),
                                   signed_in(200)),
    ("POST", "/licences/lookup"): (
        lambda w: ("post", "/api/v1/licences/lookup", {"holder": PERSON, "case_number": "BJ1", "item_code": "I1"}),
        roles({Role.WINDOW_CLERK}, 200)),
    ("GET", "/licences/uses"): (lambda w: ("get", "/api/v1/licences/uses", None),
                                roles({Role.DATA_OFFICE, Role.AUDIT_ADMIN, Role.WINDOW_CLERK}, 200)),
    ("GET", "/licences/items"): (lambda w: ("get", "/api/v1/licences/items", None), signed_in(200)),
    ("POST", "/licences/items"): (
        lambda w: ("post", "/api/v1/licences/items", {"code": "ITEM-NEW", "name": "新事项", "department_id": w.dept_id,
                                                      "materials": [{"name": "申请表"}]}), office_creates(201)),
    ("GET", "/licences/items/{item_id}"): (
        lambda w: ("get", f"/api/v1/licences/items/{w.item_id}", None), node_visible(lambda r, s: True, 200)),
    ("PATCH", "/licences/items/{item_id}"): (
        lambda w: ("patch", f"/api/v1/licences/items/{w.item_id}", {"name": "公租房申请（新）"}),
        node_visible(office_of_node, 200)),
    ("POST", "/licences/materials/check"): (
        lambda w: ("post", "/api/v1/licences/materials/check", {"item_code": w.item_code, "holder": PERSON}),
        roles({Role.WINDOW_CLERK}, 200)),
    ("GET", "/licences/library"): (lambda w: ("get", "/api/v1/licences/library", None),
                                   node_visible(lambda r, s: True, 200)),
    ("POST", "/licences/library"): (lambda w: ("post", "/api/v1/licences/library", None),
                                    roles({Role.DATA_OFFICE}, 200)),  # each data office for its own node
    ("GET", "/licences"): (lambda w: ("get", "/api/v1/licences", None), signed_in(200)),
    ("POST", "/licences"): (
        lambda w: ("post", "/api/v1/licences", {"type_id": w.type_id, "holder_id": PERSON, "holder_name": "陈晓明",
                                                "fields": {"登记日期": "2021-01-01"}}), node_visible(issuer, 201)),
    ("GET", "/licences/{licence_id}"): (lambda w: ("get", f"/api/v1/licences/{w.licence_id}", None),
                                        licence_rule(lambda r, s: True, 200)),
    ("POST", "/licences/{licence_id}/revoke"): (
        lambda w: ("post", f"/api/v1/licences/{w.licence_id}/revoke", {"reason": "登记错误"}),
        licence_rule(issuer, 200)),
}


def _routes() -> set[tuple[str, str]]:
    found = set()
    for prefix, router in api._routers:
        if prefix.strip("/").split("/")[0] != PREFIX:
            continue
        for path, view in router.path_operations.items():
            for op in view.operations:
                for method in op.methods:
                    found.add((method, "/" + "/".join(p for p in (prefix.strip("/"), path.strip("/")) if p)))
    return found


def test_every_route_has_a_rule() -> None:
    missing = _routes() - set(RULES)
    assert not missing, f"licences endpoints without a permission rule: {sorted(missing)}"


def test_every_rule_names_a_route() -> None:
    stale = set(RULES) - _routes()
    assert not stale, f"permission rules for endpoints that do not exist: {sorted(stale)}"


def _cases() -> list[Any]:
    return [pytest.param(route, role, scope, id=f"{route[0]} {route[1]} {role or 'anon'} {'in' if scope else 'out'}")
            for route in sorted(RULES) for role in ROLES for scope in (True, False) if role is not None or scope]


@pytest.mark.parametrize(("route", "role", "scope"), _cases())
def test_matrix(world: World, route: tuple[str, str], role: str | None, scope: bool) -> None:
    build, expect = RULES[route]
    method, url, body = build(world)
    c = client_for(world.users[(role, scope)] if role is not None else None)
    resp = getattr(c, method)(url) if body is None else getattr(c, method)(url, body, content_type="application/json")
    assert resp.status_code == expect(role, scope), (route, role, scope, resp.content[:300])
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False
