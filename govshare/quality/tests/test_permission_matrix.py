"""Role × endpoint × scope matrix for every route under /api/v1/quality.

Scope: department roles are in scope in the department that owns the object (the providing department ``prov``
or the consuming department ``cons``, per rule) and out of scope in another department of the same node; node
roles are in scope on the object's node and out of scope on another node. House rules: an object outside the
caller's scope answers 404 like a missing one; a visible object the role may not act on answers 403; anonymous
callers get 401. ``test_every_route_has_a_rule`` fails for a quality endpoint without a rule here.

The world is built once per module inside an outer transaction; every test runs in a savepoint of it.
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
from govshare.conftest import client_for
from govshare.quality.services.disputes import raise_dispute
from govshare.quality.services.rules import create_rule
from govshare.quality.tests.conftest import build_world, rid

pytestmark = pytest.mark.django_db

PREFIX = "quality"
ROLES: list[str | None] = [*list(Role), None]
NODE_ROLES = frozenset({Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
PROVIDER_SIDE = frozenset({Role.PROVIDER, Role.DEPT_ADMIN})
CONSUMER_SIDE = frozenset({Role.CONSUMER, Role.DEPT_ADMIN})
A = f"/api/v1/{PREFIX}"


@dataclass
class World:
    users: dict[tuple[str, str], User]  # (role, slot) -> user; slot: prov / cons / out (node roles: in / out)
    dataset_id: str
    resource_id: str
    rule_id: str
    dispute_id: str


def _build() -> World:
    testing.seed()
    home = testing.node("445100", name="潮州市", level="city")
    away = testing.node("445200", name="揭阳市", level="city")
    offices = {"in": testing.department(home, name="潮州数据局", is_data_office=True),
               "out": testing.department(away, name="揭阳数据局", is_data_office=True)}
    depts = {"prov": testing.department(home, name="公安局"), "cons": testing.department(home, name="人社局"),
             "out": testing.department(home, name="民政局")}
    users: dict[tuple[str, str], User] = {}
    for role in Role:
        if role in NODE_ROLES:
            for slot, at in (("in", home), ("out", away)):
                users[(role, slot)] = testing.user(role, at=at, dept=offices[slot] if role == Role.DATA_OFFICE
                                                   else None)
        else:
            for slot, dept in depts.items():
                users[(role, slot)] = testing.user(role, dept=dept)
    w = build_world(office=users[(Role.DATA_OFFICE, "in")], provider=users[(Role.PROVIDER, "prov")],
                    consumer=users[(Role.CONSUMER, "cons")])
    rule = create_rule(actor=w.provider, kind="required", resource=w.resource, column="current_address")
    dispute = raise_dispute(actor=w.consumer, dataset=w.dataset, record_key=rid(1), column="birth_date",
                            reason="出生日期有误")
    return World(users=users, dataset_id=str(w.dataset.pk), resource_id=str(w.resource.pk), rule_id=str(rule.pk),
                 dispute_id=str(dispute.pk))


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


Request = tuple[str, str, dict[str, Any] | None]
Expect = Callable[[str | None, bool], int]


@dataclass(frozen=True)
class Rule:
    build: Callable[[World], Request]
    expect: Expect
    side: str = "prov"
    label: str = ""


def signed_in(ok: int) -> Expect:
    return lambda role, _s: 401 if role is None else ok


def gate(sees: Callable[[str, bool], bool], may: Callable[[str, bool], bool], ok: int) -> Expect:
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if not sees(role, in_scope):
            return 404
        return ok if may(role, in_scope) else 403

    return expect


def in_scope(roles: frozenset[str] | set[str], side: str | None = None, on: str = "prov"
             ) -> Callable[[str, bool], bool]:
    return lambda role, s: s and role in roles and (role in NODE_ROLES or side is None or side == on)


def either(*preds: Callable[[str, bool], bool]) -> Callable[[str, bool], bool]:
    return lambda role, s: any(p(role, s) for p in preds)


EVERYONE = lambda _r, _s: True  # noqa: E731  (a listed resource's dataset: every signed-in user sees it)
PROVIDER_OR_OFFICE = either(in_scope(PROVIDER_SIDE, "prov", "prov"), in_scope({Role.DATA_OFFICE}))


def dispute_sees(side: str) -> Callable[[str, bool], bool]:
    """The raising department (cons), the providing department (prov), the node's data office and auditor."""

    def sees(role: str, s: bool) -> bool:
        if not s:
            return False
        if role in (Role.DATA_OFFICE, Role.AUDIT_ADMIN):
            return True
        if role == Role.CONSUMER:
            return side == "cons"
        if role == Role.PROVIDER:
            return side == "prov"
        return role == Role.DEPT_ADMIN

    return sees


def _rules() -> dict[tuple[str, str], list[Rule]]:
    d = "/datasets/{dataset_id}"
    return {
        ("GET", "/quality/rules"): [Rule(lambda w: ("get", f"{A}/rules", None), signed_in(200))],
        ("POST", "/quality/rules"): [
            Rule(lambda w: ("post", f"{A}/rules", {"resource_id": w.resource_id, "column": "person_name",
                                                   "kind": "length", "params": {"min": 2}}),
                 gate(EVERYONE, PROVIDER_OR_OFFICE, 201), label="item rule"),
            Rule(lambda w: ("post", f"{A}/rules", {"element_code": "DE0002", "kind": "length", "params": {"max": 20}}),
                 lambda role, s: 401 if role is None else 201 if role == Role.DATA_OFFICE else 403,
                 label="element rule (each data office on its own node)"),
        ],
        ("PATCH", "/quality/rules/{rule_id}"): [Rule(
            lambda w: ("patch", f"{A}/rules/{w.rule_id}", {"active": False}),
            gate(PROVIDER_OR_OFFICE, PROVIDER_OR_OFFICE, 200))],
        ("GET", "/quality/scores/datasets"): [Rule(lambda w: ("get", f"{A}/scores/datasets", None), signed_in(200))],
        ("GET", "/quality/scores/departments"): [Rule(lambda w: ("get", f"{A}/scores/departments", None),
                                                      signed_in(200))],
        ("GET", f"/quality{d}"): [Rule(lambda w: ("get", f"{A}/datasets/{w.dataset_id}", None), signed_in(200))],
        ("GET", f"/quality{d}/runs"): [Rule(lambda w: ("get", f"{A}/datasets/{w.dataset_id}/runs", None),
                                            signed_in(200))],
        ("POST", f"/quality{d}/runs"): [Rule(lambda w: ("post", f"{A}/datasets/{w.dataset_id}/runs", None),
                                             gate(EVERYONE, PROVIDER_OR_OFFICE, 202))],
        **{("GET", f"/quality{d}/{tail}"): [Rule(lambda w, t=tail: ("get", f"{A}/datasets/{w.dataset_id}/{t}", None),
                                                 gate(EVERYONE, PROVIDER_OR_OFFICE, 200))]
           for tail in ("issues", "issues.csv", "issues.json")},
    }


def _dispute_rules() -> dict[tuple[str, str], list[Rule]]:
    one = "/quality/disputes/{dispute_id}"
    return {
        ("POST", "/quality/disputes"): [Rule(
            lambda w: ("post", f"{A}/disputes", {"dataset_id": w.dataset_id, "record_key": rid(2),
                                                 "column": "gender", "reason": "性别有误"}),
            # only the consumer side of a department holding a grant; everyone else sees the dataset but may not
            lambda role, s: 401 if role is None else 201 if (role in CONSUMER_SIDE and s) else 403, side="cons")],
        ("GET", "/quality/disputes"): [Rule(lambda w: ("get", f"{A}/disputes?box=all", None), signed_in(200))],
        ("GET", "/quality/disputes.csv"): [Rule(lambda w: ("get", f"{A}/disputes.csv", None), signed_in(200))],
        ("GET", "/quality/disputes.json"): [Rule(lambda w: ("get", f"{A}/disputes.json", None), signed_in(200))],
        ("GET", one): [Rule(lambda w: ("get", f"{A}/disputes/{w.dispute_id}", None),
                            gate(dispute_sees(side), EVERYONE, 200), side=side, label=side)
                       for side in ("prov", "cons")],
        ("POST", one + "/actions/{action}"): [
            *[Rule(lambda w: ("post", f"{A}/disputes/{w.dispute_id}/actions/accept", {}),
                   gate(dispute_sees(side), in_scope(PROVIDER_SIDE, "prov", side), 200), side=side,
                   label=f"accept {side}") for side in ("prov", "cons")],
            *[Rule(lambda w: ("post", f"{A}/disputes/{w.dispute_id}/actions/withdraw", {}),
                   gate(dispute_sees(side), in_scope(CONSUMER_SIDE, "cons", side), 200), side=side,
                   label=f"withdraw {side}") for side in ("prov", "cons")],
        ],
    }


RULES: dict[tuple[str, str], list[Rule]] = {**_rules(), **_dispute_rules()}


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
    assert len(routes) >= 15, routes
    missing = routes - set(RULES)
    assert not missing, f"endpoints without a permission rule: {sorted(missing)}"


def test_every_rule_names_a_route() -> None:
    stale = set(RULES) - _routes()
    assert not stale, f"permission rules for endpoints that do not exist: {sorted(stale)}"


def _cases() -> list[Any]:
    cases = []
    for route in sorted(RULES):
        for index, rule in enumerate(RULES[route]):
            for role in ROLES:
                for scope in (True, False):
                    if role is None and not scope:
                        continue
                    label = f" [{rule.label}]" if rule.label else ""
                    cases.append(pytest.param(route, index, role, scope,
                                              id=f"{route[0]} {route[1]}{label} {role or 'anon'} "
                                                 f"{'in' if scope else 'out'}"))
    return cases


def _user(w: World, role: str | None, scope: bool, side: str) -> User | None:
    if role is None:
        return None
    if role in NODE_ROLES:
        return w.users[(role, "in" if scope else "out")]
    return w.users[(role, side if scope else "out")]


@pytest.mark.parametrize(("route", "index", "role", "scope"), _cases())
def test_matrix(world: World, route: tuple[str, str], index: int, role: str | None, scope: bool) -> None:
    rule = RULES[route][index]
    method, url, body = rule.build(world)
    c = client_for(_user(world, role, scope, rule.side))
    resp = getattr(c, method)(url) if body is None else getattr(c, method)(url, body, content_type="application/json")
    expected = rule.expect(role, scope)
    content = b"" if getattr(resp, "streaming", False) else resp.content[:300]
    assert resp.status_code == expected, (route, rule.label, role, scope, content)
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False
