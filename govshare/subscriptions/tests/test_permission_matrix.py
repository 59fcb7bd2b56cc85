"""Role × endpoint × scope matrix of the subscriptions API (/api/v1/subscriptions).

Scope: department roles are in scope in the consuming department (``cons``) or the providing department
(``prov``) of the subscription's grant, per rule, and out of scope in another department; node roles are in
scope on the grant's node and out of scope on another node. Who sees a subscription: the consumer department
(consumer, dept_admin), the provider department (provider, dept_admin) and the node's data office, security
and audit administrators; only the consumer department (consumer, dept_admin) manages it. Out of scope: 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.api import api
from govshare.catalog.services import ItemSpec
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.services import applications as app_services
from govshare.exchange.services.grants import Decision
from govshare.registry.services import add_allowed_host, create_system
from govshare.subscriptions.services import create_subscription, pause_subscription

pytestmark = pytest.mark.django_db

PREFIX = "subscriptions"
ROLES: list[str | None] = [*list(Role), None]
NODE_ROLES = frozenset({Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
NODE_READERS = frozenset({Role.DATA_OFFICE, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
CONSUMER_SIDE = frozenset({Role.CONSUMER, Role.DEPT_ADMIN})
ITEMS = [ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
         ItemSpec(name="姓名", element_code="DE0002", required=True), ItemSpec(name="性别", element_code="DE0003")]
URL = "http://127.0.0.1:9/hook"


@dataclass
class World:
    users: dict[tuple[str, str], User]
    grant_id: str
    sub_id: str  # active webhook subscription
    paused_id: str  # paused webhook subscription


def _build_world() -> World:
    testing.seed()
    home = testing.node("445100", name="潮州市", level="city")
    away = testing.node("445200", name="揭阳市", level="city")
    office_home = testing.department(home, name="潮州数据局", is_data_office=True)
    office_away = testing.department(away, name="揭阳数据局", is_data_office=True)
    depts = {"prov": testing.department(home, name="公安局"), "cons": testing.department(home, name="人社局"),
             "out": testing.department(home, name="民政局")}
    users: dict[tuple[str, str], User] = {}
    for role in Role:
        if role in NODE_ROLES:
            for slot, at, office in (("in", home, office_home), ("out", away, office_away)):
                users[(role, slot)] = testing.user(role, at=at, dept=office if role == Role.DATA_OFFICE else None)
        else:
            for slot, dept in depts.items():
                users[(role, slot)] = testing.user(role, dept=dept)
    office, provider = users[(Role.DATA_OFFICE, "in")], users[(Role.PROVIDER, "prov")]
    consumer = users[(Role.CONSUMER, "cons")]
    resource = testing.resource(depts["prov"], name="人口基本信息", items=ITEMS, share_type="conditional",
                                share_modes=["api", "table"], publish_by=office)
    dataset = mount_resource(actor=provider, resource=resource)
    load_rows(actor=provider, dataset=dataset, rows=[
        {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 1), "person_name": f"张{n}", "gender": "男"}
        for n in range(1, 4)])
    system = create_system(actor=users[(Role.DEPT_ADMIN, "cons")], department=depts["cons"], name="社保经办系统")
    app = app_services.submit_application(
        actor=consumer, resource=resource, system=system, items=["id_number", "person_name", "gender"],
        modes=["subscription"], purpose="办理社会保险参保登记", valid_to=timezone.localdate() + dt.timedelta(days=300))
    app = app_services.act(actor=office, application=app, action="pass_compliance")
    app = app_services.act(actor=provider, application=app, action="approve", decision=Decision(
        items={"id_number": "plain", "person_name": "masked", "gender": "plain"}))
    add_allowed_host(actor=None, node=home, host="127.0.0.1", purpose="webhook")
    sub = create_subscription(actor=consumer, grant=app.grant, name="订阅", kind="webhook", url=URL).subscription
    paused = create_subscription(actor=consumer, grant=app.grant, name="暂停的订阅", kind="webhook",
                                 url=URL).subscription
    pause_subscription(actor=consumer, subscription=paused)
    return World(users=users, grant_id=str(app.grant.pk), sub_id=str(sub.pk), paused_id=str(paused.pk))


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    atomic = transaction.atomic()
    with django_db_blocker.unblock(), override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        atomic.__enter__()
        try:
            built = _build_world()
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
    side: str = "cons"
    label: str = ""


def signed_in(ok: int) -> Expect:
    return lambda role, _s: 401 if role is None else ok


def gate(sees: Callable[[str, bool, str], bool], may: Callable[[str, bool, str], bool], ok: int, side: str) -> Expect:
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if not sees(role, in_scope, side):
            return 404
        return ok if may(role, in_scope, side) else 403

    return expect


def sees(role: str, in_scope: bool, side: str) -> bool:
    if not in_scope:
        return False
    if role in NODE_READERS:
        return True
    # like exchange.selectors.grants_visible_to: the department users of both departments of the grant
    return role in (Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN)


def manages(role: str, in_scope: bool, side: str) -> bool:
    return in_scope and side == "cons" and role in CONSUMER_SIDE


def anyone(_r: str, _s: bool, _side: str) -> bool:
    return True


def grant_sees(role: str, in_scope: bool) -> bool:
    """exchange.selectors.grants_visible_to (side cons: the department users of the consuming department)."""
    return in_scope and role in (NODE_READERS | {Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN})


def create_expect(role: str | None, in_scope: bool) -> int:
    if role is None:
        return 401
    if not grant_sees(role, in_scope):
        return 422  # a grant the caller cannot see is reported on grant_id, as if missing
    return 201 if role in CONSUMER_SIDE else 403


S = "/api/v1/subscriptions"


def _both(method: str, suffix: str, body: dict[str, Any] | None, may: Callable[[str, bool, str], bool], ok: int,
          target: str = "sub_id") -> list[Rule]:
    return [Rule(lambda w, t=target: (method, f"{S}/{getattr(w, t)}{suffix}", body), gate(sees, may, ok, side),
                 side=side, label=side) for side in ("cons", "prov")]


RULES: dict[tuple[str, str], list[Rule]] = {
    ("GET", "/subscriptions"): [Rule(lambda w: ("get", S, None), signed_in(200))],
    ("POST", "/subscriptions"): [Rule(
        lambda w: ("post", S, {"grant_id": w.grant_id, "name": "新订阅", "kind": "webhook", "url": URL}),
        create_expect)],
    ("GET", "/subscriptions/{subscription_id}"): _both("get", "", None, anyone, 200),
    ("PATCH", "/subscriptions/{subscription_id}"): _both("patch", "", {"name": "改名", "batch_size": 20}, manages,
                                                         200),
    ("POST", "/subscriptions/{subscription_id}/pause"): _both("post", "/pause", {"reason": "维护"}, manages, 200),
    ("POST", "/subscriptions/{subscription_id}/resume"): _both("post", "/resume", {}, manages, 200,
                                                               target="paused_id"),
    ("POST", "/subscriptions/{subscription_id}/cancel"): _both("post", "/cancel", {"reason": "不再需要"}, manages,
                                                               200),
    ("POST", "/subscriptions/{subscription_id}/rotate-secret"): _both("post", "/rotate-secret", {}, manages, 200),
    ("GET", "/subscriptions/{subscription_id}/lag"): _both("get", "/lag", None, anyone, 200),
    ("GET", "/subscriptions/{subscription_id}/deliveries"): _both("get", "/deliveries", None, anyone, 200),
    ("GET", "/subscriptions/{subscription_id}/deliveries.csv"): _both("get", "/deliveries.csv", None, anyone, 200),
    ("GET", "/subscriptions/{subscription_id}/deliveries.json"): _both("get", "/deliveries.json", None, anyone,
                                                                       200),
}


def _routes() -> set[tuple[str, str]]:
    routes = set()
    for prefix, router in api._routers:
        if prefix.strip("/").split("/")[0] != PREFIX:
            continue
        for path, view in router.path_operations.items():
            for op in view.operations:
                for method in op.methods:
                    full = "/" + "/".join(p for p in (prefix.strip("/"), path.strip("/")) if p)
                    routes.add((method, full))
    return routes


def test_every_route_has_a_rule() -> None:
    routes = _routes()
    assert routes, "the subscriptions router is not mounted"
    missing = routes - set(RULES)
    assert not missing, f"endpoints without a permission rule: {sorted(missing)}"
    assert not set(RULES) - routes, f"rules for endpoints that do not exist: {sorted(set(RULES) - routes)}"


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
    if body is None:
        resp = getattr(c, method)(url)
    else:
        resp = getattr(c, method)(url, body, content_type="application/json")
    expected = rule.expect(role, scope)
    content = b"" if getattr(resp, "streaming", False) else resp.content[:300]
    assert resp.status_code == expected, (route, rule.label, role, scope, content)
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False
