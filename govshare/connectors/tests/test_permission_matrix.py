"""Role × endpoint × scope matrix for /api/v1/connectors.

A connector belongs to the providing department of its dataset's resource: its provider staff and department
administrator see and manage it (in scope: the providing department ``prov``; out of scope: another department
of the same node). Everyone else — other departments, every node role of this or another node — gets 404, as
if the connector did not exist. Registering a connector needs a visible dataset (listed resources are visible
to every signed-in user) and the provider side of its department (else 403). Anonymous callers get 401.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import override_settings

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.api import api
from govshare.conftest import client_for
from govshare.connectors import services
from govshare.connectors.config import Config
from govshare.connectors.tests.conftest import ITEMS
from govshare.connectors.tests.sources import COLUMN_MAP, LiteSource, person
from govshare.datasets.services import mount_resource

pytestmark = pytest.mark.django_db

PREFIX = "connectors"
ROLES: list[str | None] = [*list(Role), None]
NODE_ROLES = frozenset({Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
PROVIDER_SIDE = frozenset({Role.PROVIDER, Role.DEPT_ADMIN})
A = f"/api/v1/{PREFIX}"
_DIR = Path(tempfile.mkdtemp(prefix="gs-connect-matrix-"))


@dataclass
class World:
    users: dict[tuple[str, str], User]
    dataset_id: str
    active_id: str
    paused_id: str
    source_path: str
    table: str


def _settings() -> Any:
    return override_settings(GOVSHARE={**django_settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(_DIR)]},
                             PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


def _build() -> World:
    testing.seed()
    home = testing.node("445100", name="潮州市", level="city")
    away = testing.node("445200", name="揭阳市", level="city")
    office_home = testing.department(home, name="潮州数据局", is_data_office=True)
    office_away = testing.department(away, name="揭阳数据局", is_data_office=True)
    depts = {"prov": testing.department(home, name="公安局"), "out": testing.department(home, name="民政局")}
    users: dict[tuple[str, str], User] = {}
    for role in Role:
        if role in NODE_ROLES:
            for slot, at, office in (("in", home, office_home), ("out", away, office_away)):
                users[(role, slot)] = testing.user(role, at=at, dept=office if role == Role.DATA_OFFICE else None)
        else:
            for slot, dept in depts.items():
                users[(role, slot)] = testing.user(role, dept=dept)
    provider = users[(Role.PROVIDER, "prov")]
    resource = testing.resource(depts["prov"], name="人口基本信息", items=ITEMS, publish_by=users[(Role.DATA_OFFICE,
                                                                                                  "in")])
    dataset = mount_resource(actor=provider, resource=resource)
    src = LiteSource(_DIR)
    src.create(person(n) for n in range(1, 4))

    def make(name: str) -> Any:
        return services.create_connector(actor=provider, dataset=dataset, config=Config(
            name=name, **src.endpoint(), source_table=src.table, column_map=COLUMN_MAP, key_column="sfzh",
            incremental_column="gxsj"))

    active, paused = make("在用前置库"), make("暂停前置库")
    services.set_paused(actor=provider, connector=paused, paused=True)
    return World(users=users, dataset_id=str(dataset.pk), active_id=str(active.pk), paused_id=str(paused.pk),
                 source_path=str(src.path), table=src.table)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    atomic = transaction.atomic()
    with django_db_blocker.unblock(), _settings():
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
    shutil.rmtree(_DIR, ignore_errors=True)


# ---------------------------------------------------------------------------------------------

Request = tuple[str, str, dict[str, Any] | None]
Expect = Callable[[str | None, bool], int]


@dataclass(frozen=True)
class Rule:
    build: Callable[[World], Request]
    expect: Expect


def provider_side(role: str | None, in_scope: bool) -> bool:
    return in_scope and role in PROVIDER_SIDE


def gate(ok: int, sees: Callable[[str | None, bool], bool] = provider_side,
         may: Callable[[str | None, bool], bool] = provider_side) -> Expect:
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if not sees(role, in_scope):
            return 404
        return ok if may(role, in_scope) else 403

    return expect


def create_body(w: World) -> dict[str, Any]:
    return {"dataset_id": w.dataset_id, "name": "新前置库", "engine": "sqlite", "database": w.source_path,
            "source_table": w.table, "column_map": COLUMN_MAP, "key_column": "sfzh", "incremental_column": "gxsj"}


def _connector_rules() -> dict[tuple[str, str], list[Rule]]:
    c = "/connectors/{connector_id}"
    return {
        ("GET", c): [Rule(lambda w: ("get", f"{A}/{w.active_id}", None), gate(200))],
        ("PATCH", c): [Rule(lambda w: ("patch", f"{A}/{w.active_id}", {"page_size": 500}), gate(200))],
        ("DELETE", c): [Rule(lambda w: ("delete", f"{A}/{w.paused_id}", None), gate(204))],
        ("POST", f"{c}/test"): [Rule(lambda w: ("post", f"{A}/{w.active_id}/test", None), gate(200))],
        ("POST", f"{c}/run"): [Rule(lambda w: ("post", f"{A}/{w.active_id}/run", {"kind": "reconcile"}), gate(202))],
        ("POST", f"{c}/pause"): [Rule(lambda w: ("post", f"{A}/{w.active_id}/pause", None), gate(200))],
        ("POST", f"{c}/resume"): [Rule(lambda w: ("post", f"{A}/{w.paused_id}/resume", None), gate(200))],
        ("GET", f"{c}/runs"): [Rule(lambda w: ("get", f"{A}/{w.active_id}/runs", None), gate(200))],
        ("GET", f"{c}/runs.csv"): [Rule(lambda w: ("get", f"{A}/{w.active_id}/runs.csv", None), gate(200))],
        ("GET", f"{c}/runs.json"): [Rule(lambda w: ("get", f"{A}/{w.active_id}/runs.json", None), gate(200))],
    }


RULES: dict[tuple[str, str], list[Rule]] = {
    ("GET", "/connectors"): [Rule(lambda w: ("get", A, None), lambda role, _s: 401 if role is None else 200)],
    # the dataset of a listed resource is visible to every signed-in user: the rest are refused, not 404
    ("POST", "/connectors"): [Rule(lambda w: ("post", A, create_body(w)), gate(201, sees=lambda r, s: True))],
    **_connector_rules(),
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
    routes = _routes()
    assert routes, "no connectors routes found"
    assert not routes - set(RULES), f"endpoints without a permission rule: {sorted(routes - set(RULES))}"
    assert not set(RULES) - routes, f"rules for endpoints that do not exist: {sorted(set(RULES) - routes)}"


def _cases() -> list[Any]:
    cases = []
    for route in sorted(RULES):
        for index, _rule in enumerate(RULES[route]):
            for role in ROLES:
                for scope in (True, False):
                    if role is None and not scope:
                        continue
                    cases.append(pytest.param(route, index, role, scope,
                                              id=f"{route[0]} {route[1]} {role or 'anon'} {'in' if scope else 'out'}"))
    return cases


def _user(w: World, role: str | None, scope: bool) -> User | None:
    if role is None:
        return None
    if role in NODE_ROLES:
        return w.users[(role, "in" if scope else "out")]
    return w.users[(role, "prov" if scope else "out")]


@pytest.mark.parametrize(("route", "index", "role", "scope"), _cases())
def test_matrix(world: World, route: tuple[str, str], index: int, role: str | None, scope: bool) -> None:
    rule = RULES[route][index]
    method, url, body = rule.build(world)
    c = client_for(_user(world, role, scope))
    with _settings():
        if body is None:
            resp = getattr(c, method)(url)
        else:
            resp = getattr(c, method)(url, body, content_type="application/json")
    expected = rule.expect(role, scope)
    content = b"" if getattr(resp, "streaming", False) else resp.content[:300]
    assert resp.status_code == expected, (route, role, scope, content)
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False

