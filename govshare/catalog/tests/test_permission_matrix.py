"""Role × endpoint × scope matrix for the catalog API.

The matrix is checked against the router itself: a new catalog endpoint without a rule here fails
``test_every_catalog_route_has_a_rule``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.api import api
from govshare.catalog.models import Resource
from govshare.conftest import client_for

pytestmark = pytest.mark.django_db

ROLES = [*list(Role), None]  # None = anonymous


@dataclass
class World:
    users: dict[tuple[str | None, bool], User | None]  # (role, in_scope) -> user
    draft: Resource
    published: Resource


@pytest.fixture
def world(db: None) -> World:
    testing.seed()
    home = testing.node("445100", name="潮州市", level="city")
    away = testing.node("445200", name="揭阳市", level="city")
    office_home = testing.department(home, name="数据局", is_data_office=True)
    office_away = testing.department(away, name="揭阳数据局", is_data_office=True)
    dept = testing.department(home, name="公安局")
    other = testing.department(home, name="人社局")
    users: dict[tuple[str | None, bool], User | None] = {(None, True): None, (None, False): None}
    for role in Role:
        if role in (Role.DEPT_ADMIN, Role.PROVIDER, Role.CONSUMER, Role.WINDOW_CLERK):
            users[(role, True)] = testing.user(role, dept=dept)
            users[(role, False)] = testing.user(role, dept=other)
        else:
            users[(role, True)] = testing.user(role, at=home, dept=office_home if role == Role.DATA_OFFICE else None)
            users[(role, False)] = testing.user(role, at=away, dept=office_away if role == Role.DATA_OFFICE else None)
    draft = testing.resource(dept, name="草稿资源")
    published = testing.resource(dept, name="已发布资源", publish_by=users[(Role.DATA_OFFICE, True)])
    return World(users=users, draft=draft, published=published)


PROVIDER_SIDE = {Role.PROVIDER, Role.DEPT_ADMIN}
NODE_STAFF = {Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN}


def sees_draft(role: str | None, in_scope: bool) -> bool:
    return in_scope and (role in PROVIDER_SIDE or role in NODE_STAFF)


def resource_body() -> dict[str, Any]:
    return {"name": "新资源", "classification_code": "101001", "summary": "摘要",
            "items": [{"name": "姓名", "element_code": "DE0002"}]}


def element_body() -> dict[str, Any]:
    return {"code": "DE9999", "name": "测试数据元", "column_name": "test_col"}


# (method, route) -> (request builder, expected status for (role, in_scope))
Request = tuple[str, str, dict[str, Any] | None]
Rule = tuple[Callable[[World], Request], Callable[[str | None, bool], int]]


def signed_in(ok: int) -> Callable[[str | None, bool], int]:
    return lambda role, _s: 401 if role is None else ok


def only(roles: set[str], ok: int, scoped: bool = False, other: int = 403) -> Callable[[str | None, bool], int]:
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if role in roles and (in_scope or not scoped):
            return ok
        return other

    return expect


def draft_rule(ok: int, allowed: set[str], in_scope_denied: int = 403) -> Callable[[str | None, bool], int]:
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if not sees_draft(role, in_scope):
            return 404
        return ok if role in allowed else in_scope_denied

    return expect


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/elements"): (lambda w: ("get", "/api/v1/catalog/elements", None), signed_in(200)),
    ("POST", "/elements"): (lambda w: ("post", "/api/v1/catalog/elements", element_body()),
                            only({Role.SEC_ADMIN}, 201)),
    ("GET", "/elements/{code}"): (lambda w: ("get", "/api/v1/catalog/elements/DE0001", None), signed_in(200)),
    ("PATCH", "/elements/{code}"): (lambda w: ("patch", "/api/v1/catalog/elements/DE0050", {"description": "x"}),
                                    only({Role.SEC_ADMIN}, 200)),
    ("GET", "/classifications"): (lambda w: ("get", "/api/v1/catalog/classifications", None), signed_in(200)),
    ("GET", "/resources"): (lambda w: ("get", "/api/v1/catalog/resources", None), signed_in(200)),
    ("GET", "/review-queue"): (lambda w: ("get", "/api/v1/catalog/review-queue", None), signed_in(200)),
    ("POST", "/resources"): (lambda w: ("post", "/api/v1/catalog/resources", resource_body()),
                             only(PROVIDER_SIDE, 201)),
    ("GET", "/resources/{resource_id}"): (lambda w: ("get", f"/api/v1/catalog/resources/{w.draft.pk}", None),
                                          draft_rule(200, PROVIDER_SIDE | NODE_STAFF)),
    ("PUT", "/resources/{resource_id}"): (
        lambda w: ("put", f"/api/v1/catalog/resources/{w.draft.pk}", resource_body()),
        draft_rule(200, PROVIDER_SIDE)),
    ("POST", "/resources/{resource_id}/actions/{action}"): (
        lambda w: ("post", f"/api/v1/catalog/resources/{w.draft.pk}/actions/submit", {}),
        draft_rule(200, PROVIDER_SIDE)),
    ("GET", "/resources/{resource_id}/versions"): (
        lambda w: ("get", f"/api/v1/catalog/resources/{w.published.pk}/versions", None), signed_in(200)),
    ("GET", "/resources/{resource_id}/versions/{number}"): (
        lambda w: ("get", f"/api/v1/catalog/resources/{w.published.pk}/versions/1", None), signed_in(200)),
    ("GET", "/resources/{resource_id}/diff"): (
        lambda w: ("get", f"/api/v1/catalog/resources/{w.published.pk}/diff?from=1&to=1", None), signed_in(200)),
    ("GET", "/resources/{resource_id}/reviews"): (
        lambda w: ("get", f"/api/v1/catalog/resources/{w.draft.pk}/reviews", None),
        draft_rule(200, PROVIDER_SIDE | NODE_STAFF)),
}

# Routers mounted under /catalog by sibling modules register their rules here too.
EXTRA_RULE_MODULES = ["govshare.catalog.tests.permission_rules_extra"]


def _all_rules() -> dict[tuple[str, str], Rule]:
    import importlib

    rules = dict(RULES)
    for name in EXTRA_RULE_MODULES:
        try:
            rules.update(importlib.import_module(name).RULES)
        except ModuleNotFoundError:
            continue
    return rules


def _catalog_routes() -> set[tuple[str, str]]:
    routes = set()
    for prefix, router in api._routers:
        if not prefix.strip("/").startswith("catalog"):
            continue
        for path, view in router.path_operations.items():
            for op in view.operations:
                for method in op.methods:
                    routes.add((method, "/" + path.lstrip("/")))
    return routes


def test_every_catalog_route_has_a_rule() -> None:
    missing = _catalog_routes() - set(_all_rules())
    assert not missing, f"catalog endpoints without a permission rule: {sorted(missing)}"


CASES = [(route, role, scope) for route in sorted(_all_rules()) for role in ROLES for scope in (True, False)
         if not (role is None and not scope)]


@pytest.mark.parametrize(("route", "role", "in_scope"), CASES,
                         ids=[f"{m} {p} {r or 'anon'} {'in' if s else 'out'}" for (m, p), r, s in CASES])
def test_matrix(world: World, route: tuple[str, str], role: str | None, in_scope: bool) -> None:
    build, expect = _all_rules()[route]
    method, url, body = build(world)
    user = world.users[(role, in_scope)]
    c = client_for(user)
    if body is None:
        resp = getattr(c, method)(url)
    elif "__multipart__" in body:
        from django.core.files.uploadedfile import SimpleUploadedFile

        files = {k: SimpleUploadedFile(name, data) for k, (name, data) in body["__multipart__"].items()}
        resp = getattr(c, method)(url, files)
    else:
        resp = getattr(c, method)(url, body, content_type="application/json")
    expected = expect(role, in_scope)
    assert resp.status_code == expected, (route, role, in_scope, resp.content[:300])
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False
