"""Role × endpoint × scope matrix for every router except the catalog's (which has its own matrix).

The matrix is checked against the API itself: an endpoint mounted under /auth, /org, /registry, /datasets,
/exchange or /audit without a rule here fails ``test_every_route_has_a_rule``.

Scope: department roles are in scope in the department that owns the object (the providing department
``prov`` or the consuming department ``cons``, per rule) and out of scope in another department of the same
node; node roles are in scope on the object's node and out of scope on another node. House rules
(DESIGN.md §6): an object outside the caller's scope answers 404 like a missing one; a visible object the
role may not act on answers 403; anonymous callers get 401.

Where the code breaks a house rule the rule below says what it should be and the case is
``xfail(strict=True)`` with the reason (``Rule.violations``).

The world is built once per module inside an outer transaction; every test runs in a savepoint of it
(pytest-django's ``db``), so writes made by one case never reach the next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
from govshare.core.crypto import get_sm2_provider
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.services import applications as app_services
from govshare.exchange.services.grants import Decision, suspend
from govshare.registry.services import add_allowed_host, create_system, issue_credential

pytestmark = pytest.mark.django_db

# Routers whose app keeps its own role × endpoint × scope matrix (``<app>/tests/test_permission_matrix.py``,
# each with its own "every route has a rule" check).
OWN_MATRIX = frozenset({"catalog", "connectors", "subscriptions", "quality", "baselibs", "licences", "stats"})

ROLES: list[str | None] = [*list(Role), None]  # None = anonymous
NODE_ROLES = frozenset({Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
PROVIDER_SIDE = frozenset({Role.PROVIDER, Role.DEPT_ADMIN})
CONSUMER_SIDE = frozenset({Role.CONSUMER, Role.DEPT_ADMIN})
NODE_READERS = frozenset({Role.DATA_OFFICE, Role.SEC_ADMIN, Role.AUDIT_ADMIN})

PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
    ItemSpec(name="现住址", element_code="DE0007"),
]
DECISION = {"id_number": "plain", "person_name": "plain", "gender": "plain"}
ID_NUMBER = make_resident_id("445102", dt.date(1980, 1, 1), 1)


@dataclass
class World:
    users: dict[tuple[str, str], User]  # (role, slot) -> user; slot: prov / cons / out (node roles: in / out)
    login_username: str
    resource_id: str  # published, conditional, mounted (pdept)
    unmounted_id: str  # published, not mounted (pdept)
    dataset_id: str
    system_id: str  # the consuming department's information system
    credential_id: str
    app_compliance: str  # in 符合性审查: the provider has not seen it yet
    app_provider: str  # in provider review
    grant_id: str  # active, flagged for review after tightening
    suspension_id: str  # active, of the consumer's system
    sm2_public: str


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
    office = users[(Role.DATA_OFFICE, "in")]
    provider = users[(Role.PROVIDER, "prov")]
    consumer = users[(Role.CONSUMER, "cons")]
    consumer_admin = users[(Role.DEPT_ADMIN, "cons")]
    sec_admin = users[(Role.SEC_ADMIN, "in")]

    resource = testing.resource(depts["prov"], name="人口基本信息", items=PERSON_ITEMS, share_type="conditional",
                                share_modes=["api", "file"], publish_by=office)
    dataset = mount_resource(actor=provider, resource=resource)
    load_rows(actor=provider, dataset=dataset, rows=[
        {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 1), "person_name": f"张{n}", "gender": "男"}
        for n in range(1, 4)])
    unmounted = testing.resource(depts["prov"], name="户籍迁移信息", items=PERSON_ITEMS, share_type="conditional",
                                 share_modes=["api"], publish_by=office)
    system = create_system(actor=consumer_admin, department=depts["cons"], name="社保经办系统")
    credential = issue_credential(actor=consumer_admin, system=system, label="matrix").credential

    valid_to = timezone.localdate() + dt.timedelta(days=365)

    def submit() -> Any:
        return app_services.submit_application(
            actor=consumer, resource=resource, system=system, items=["id_number", "person_name", "gender"],
            modes=["query"], purpose="办理社会保险参保登记核验身份", valid_to=valid_to)

    app_compliance = submit()
    app_provider = app_services.act(actor=office, application=submit(), action="pass_compliance")
    app_ok = app_services.act(actor=office, application=submit(), action="pass_compliance")
    app_ok = app_services.act(actor=provider, application=app_ok, action="approve", decision=Decision(items=DECISION))
    grant = app_ok.grant
    type(grant).objects.filter(pk=grant.pk).update(needs_review=True, review_reasons=["共享条件收紧"])
    suspension = suspend(actor=sec_admin, scope="system", target_id=system.pk, reason="疑似凭证泄露")
    return World(
        users=users, login_username=consumer.username, resource_id=str(resource.pk), unmounted_id=str(unmounted.pk),
        dataset_id=str(dataset.pk), system_id=str(system.pk), credential_id=str(credential.pk),
        app_compliance=str(app_compliance.pk), app_provider=str(app_provider.pk), grant_id=str(grant.pk),
        suspension_id=str(suspension.pk), sm2_public=get_sm2_provider().generate_keypair()[1],
    )


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once per module (per xdist worker) and rolled back at the end; tests run in savepoints."""
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


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

Request = tuple[str, str, dict[str, Any] | None]
Expect = Callable[[str | None, bool], int]


@dataclass(frozen=True)
class Rule:
    build: Callable[[World], Request]
    expect: Expect  # the status the house rules call for
    side: str = "prov"  # the department an in-scope department user belongs to: prov or cons
    label: str = ""
    # (role, in_scope) -> why the code answers differently today (xfail, strict)
    violations: dict[tuple[str | None, bool], str] = field(default_factory=dict)


def signed_in(ok: int) -> Expect:
    return lambda role, _s: 401 if role is None else ok


def everyone(ok: int) -> Expect:  # auth=None endpoints
    return lambda _r, _s: ok


def only(roles: frozenset[str] | set[str], ok: int, scoped: bool = False, other: int = 403) -> Expect:
    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if role in roles and (in_scope or not scoped):
            return ok
        return other

    return expect


def gate(sees: Callable[[str, bool], bool], may: Callable[[str, bool], bool], ok: int) -> Expect:
    """404 unless the object is visible to the caller; then ``ok`` if allowed, else 403."""

    def expect(role: str | None, in_scope: bool) -> int:
        if role is None:
            return 401
        if not sees(role, in_scope):
            return 404
        return ok if may(role, in_scope) else 403

    return expect


def in_scope(roles: frozenset[str] | set[str], side: str | None = None, on: str = "prov"
             ) -> Callable[[str, bool], bool]:
    """``roles`` in scope; department roles only when the rule's side ``on`` is ``side`` (if given)."""
    return lambda role, s: s and role in roles and (role in NODE_ROLES or side is None or side == on)


def app_sees(side: str, reached_provider: bool) -> Callable[[str, bool], bool]:
    """exchange.selectors.applications_visible_to: the consumer side always, the provider side once the
    application reached it, the node's data office / security / audit administrators."""

    def sees(role: str, s: bool) -> bool:
        if not s:
            return False
        if role in NODE_READERS:
            return True
        if role == Role.CONSUMER:
            return side == "cons"
        if role == Role.PROVIDER:
            return side == "prov" and reached_provider
        if role == Role.DEPT_ADMIN:
            return side == "cons" or reached_provider
        return False

    return sees


def grant_sees(role: str, s: bool) -> bool:
    return s and role in (NODE_READERS | {Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN})


A = "/api/v1"
CSV_UPLOAD = {"__multipart__": {"file": ("rows.csv", f"id_number,person_name\n{ID_NUMBER},李四\n".encode())}}
POLICY = {"internal_review": False, "compliance_review": True, "internal_days": 3, "compliance_days": 2,
          "provider_days": 10, "supply_days": 5, "coordination_days": 5, "reminder_days": 2}


def application_body(w: World) -> dict[str, Any]:
    return {"resource_id": w.resource_id, "system_id": w.system_id, "items": ["id_number", "person_name"],
            "modes": ["query"], "purpose": "办理社会保险参保登记核验身份",
            "valid_to": (timezone.localdate() + dt.timedelta(days=300)).isoformat()}


def _app_rules() -> dict[tuple[str, str], list[Rule]]:
    app = f"{A}/exchange/applications"
    rules: dict[tuple[str, str], list[Rule]] = {}
    for path, suffix in (("/exchange/applications/{app_id}", ""), ("/exchange/applications/{app_id}/steps",
                                                                     "/steps")):
        rules[("GET", path)] = [
            Rule(lambda w, s=suffix: ("get", f"{app}/{w.app_provider}{s}", None),
                 gate(app_sees(side, True), lambda _r, _s: True, 200), side=side, label=f"provider_review {side}")
            for side in ("prov", "cons")
        ] + [Rule(lambda w, s=suffix: ("get", f"{app}/{w.app_compliance}{s}", None),
                  gate(app_sees("prov", False), lambda _r, _s: True, 200), side="prov",
                  label="compliance_review prov")]
    rules[("POST", "/exchange/applications/{app_id}/actions/{action}")] = [
        *[Rule(lambda w: ("post", f"{app}/{w.app_compliance}/actions/pass_compliance", {}),
               gate(app_sees(side, False), in_scope({Role.DATA_OFFICE}), 200), side=side,
               label=f"pass_compliance {side}") for side in ("prov", "cons")],
        *[Rule(lambda w: ("post", f"{app}/{w.app_provider}/actions/approve", {"decision": {"items": DECISION}}),
               gate(app_sees(side, True), in_scope(PROVIDER_SIDE, "prov", side), 200), side=side,
               label=f"approve {side}") for side in ("prov", "cons")],
        Rule(lambda w: ("post", f"{app}/{w.app_provider}/actions/withdraw", {}),
             gate(app_sees("cons", True), in_scope(CONSUMER_SIDE, "cons", "cons"), 200), side="cons",
             label="withdraw cons"),
    ]
    rules[("POST", "/exchange/applications/{app_id}/guard-override")] = [
        Rule(lambda w: ("post", f"{app}/{w.app_provider}/guard-override",
                        {"items": DECISION, "reason": "业务必需，风险已评估"}),
             gate(app_sees(side, True), in_scope({Role.SEC_ADMIN}), 201), side=side, label=side)
        for side in ("prov", "cons")
    ]
    return rules


def _grant_rules() -> dict[tuple[str, str], list[Rule]]:
    g = f"{A}/exchange/grants"
    revokers = lambda side: lambda role, s: s and (  # noqa: E731
        role == Role.DATA_OFFICE or (role in PROVIDER_SIDE and side == "prov"))
    return {
        ("GET", "/exchange/grants/{grant_id}"): [
            Rule(lambda w: ("get", f"{g}/{w.grant_id}", None), gate(grant_sees, lambda _r, _s: True, 200), side=side,
                 label=side) for side in ("prov", "cons")],
        ("POST", "/exchange/grants/{grant_id}/revoke"): [
            Rule(lambda w: ("post", f"{g}/{w.grant_id}/revoke", {"reason": "业务终止"}),
                 gate(grant_sees, revokers(side), 200), side=side, label=side) for side in ("prov", "cons")],
        ("POST", "/exchange/grants/{grant_id}/review"): [
            Rule(lambda w: ("post", f"{g}/{w.grant_id}/review", {"keep": True}),
                 gate(grant_sees, in_scope(PROVIDER_SIDE, "prov", side), 200), side=side, label=side)
            for side in ("prov", "cons")],
    }


def _registry_rules() -> dict[tuple[str, str], list[Rule]]:
    r = f"{A}/registry"
    managers = in_scope({Role.DEPT_ADMIN, Role.SYS_ADMIN}, "cons", "cons")
    dept_admin_only = in_scope({Role.DEPT_ADMIN}, "cons", "cons")
    # systems_visible_to: the node's sys/data-office/security/audit administrators, the owning department's staff
    sees_system = lambda role, s: s  # noqa: E731  (side="cons": every in-scope user is on the node or in cons)
    sees_credential = in_scope({Role.SYS_ADMIN, Role.SEC_ADMIN, Role.DEPT_ADMIN}, "cons", "cons")
    return {
        ("GET", "/registry/systems"): [Rule(lambda w: ("get", f"{r}/systems", None), signed_in(200), side="cons")],
        ("POST", "/registry/systems"): [Rule(
            lambda w: ("post", f"{r}/systems", {"name": "新业务系统", "department_id": str(w.users[
                (Role.CONSUMER, "cons")].department_id)}),
            # departments are directory data (visible to all): another node's sys_admin is refused, not 404
            lambda role, s: 401 if role is None else 201 if managers(role, s) else 403, side="cons")],
        ("GET", "/registry/systems/{system_id}/credentials"): [Rule(
            lambda w: ("get", f"{r}/systems/{w.system_id}/credentials", None),
            gate(sees_system, lambda _r, _s: True, 200), side="cons")],
        ("POST", "/registry/systems/{system_id}/credentials"): [Rule(
            lambda w: ("post", f"{r}/systems/{w.system_id}/credentials", {"label": "轮换"}),
            gate(sees_system, dept_admin_only, 201), side="cons")],
        ("POST", "/registry/credentials/{credential_id}/revoke"): [Rule(
            lambda w: ("post", f"{r}/credentials/{w.credential_id}/revoke", None),
            gate(sees_credential, managers, 200), side="cons")],
        ("PUT", "/registry/systems/{system_id}/sm2-key"): [Rule(
            lambda w: ("put", f"{r}/systems/{w.system_id}/sm2-key", {"public_key": w.sm2_public}),
            gate(sees_system, dept_admin_only, 200), side="cons")],
        # The outbound allowlist is the node's: its sys_admin keeps it, sec_admin and audit_admin read it;
        # every administrator reads and writes only their own node's list.
        ("GET", "/registry/allowed-hosts"): [Rule(lambda w: ("get", f"{r}/allowed-hosts", None),
                                                  only(ALLOWLIST_READERS, 200))],
        ("POST", "/registry/allowed-hosts"): [Rule(
            lambda w: ("post", f"{r}/allowed-hosts", {"host": "10.8.0.0/16", "port": 5432, "purpose": "connector"}),
            only({Role.SYS_ADMIN}, 201))],
        ("POST", "/registry/allowed-hosts/{entry_id}/deactivate"): [Rule(
            lambda w: ("post", f"{r}/allowed-hosts/{_allowed_host(w)}/deactivate", None),
            gate(in_scope(ALLOWLIST_READERS), in_scope({Role.SYS_ADMIN}), 200))],
    }


ALLOWLIST_READERS = frozenset({Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})


def _allowed_host(w: World) -> str:
    """An allowlist entry of the home node (made inside the test's savepoint)."""
    entry = add_allowed_host(actor=None, node=w.users[(Role.SYS_ADMIN, "in")].node, host="192.0.2.1",
                             purpose="webhook")
    return str(entry.pk)


def _dataset_rules() -> dict[tuple[str, str], list[Rule]]:
    d = f"{A}/datasets"
    provider_side = in_scope(PROVIDER_SIDE, "prov", "prov")
    upload_readers = lambda role, s: provider_side(role, s) or (  # noqa: E731
        s and role in (Role.DATA_OFFICE, Role.AUDIT_ADMIN))
    everyone_sees = lambda _r, _s: True  # noqa: E731  (listed resources: every signed-in user sees the dataset)
    return {
        ("GET", "/datasets"): [Rule(lambda w: ("get", d, None), signed_in(200))],
        ("GET", "/datasets/mounted-ratio"): [Rule(lambda w: ("get", f"{d}/mounted-ratio", None), signed_in(200))],
        ("POST", "/datasets/mount/{resource_id}"): [Rule(
            lambda w: ("post", f"{d}/mount/{w.unmounted_id}", None), gate(everyone_sees, provider_side, 201))],
        ("GET", "/datasets/{dataset_id}"): [Rule(lambda w: ("get", f"{d}/{w.dataset_id}", None), signed_in(200))],
        ("POST", "/datasets/{dataset_id}/uploads"): [Rule(
            lambda w: ("post", f"{d}/{w.dataset_id}/uploads", CSV_UPLOAD), gate(everyone_sees, provider_side, 201))],
        ("GET", "/datasets/{dataset_id}/uploads"): [Rule(
            lambda w: ("get", f"{d}/{w.dataset_id}/uploads", None), gate(everyone_sees, upload_readers, 200))],
        ("GET", "/datasets/{dataset_id}/records"): [Rule(
            lambda w: ("get", f"{d}/{w.dataset_id}/records", None), gate(everyone_sees, provider_side, 200))],
        ("GET", "/datasets/{dataset_id}/records/lookup"): [Rule(
            lambda w: ("get", f"{d}/{w.dataset_id}/records/lookup?column=person_name&value=李四", None),
            gate(everyone_sees, provider_side, 200))],
        ("GET", "/datasets/freshness"): [Rule(lambda w: ("get", f"{d}/freshness", None), signed_in(200))],
        ("POST", "/datasets/{dataset_id}/batches"): [Rule(
            lambda w: ("post", f"{d}/{w.dataset_id}/batches", {"batch_id": "matrix", "deletes": []}),
            gate(everyone_sees, provider_side, 201))],
        ("GET", "/datasets/{dataset_id}/batches"): [Rule(
            lambda w: ("get", f"{d}/{w.dataset_id}/batches", None), gate(everyone_sees, upload_readers, 200))],
        ("GET", "/datasets/{dataset_id}/changes"): [Rule(
            lambda w: ("get", f"{d}/{w.dataset_id}/changes", None), gate(everyone_sees, provider_side, 200))],
    }


def _exchange_rules() -> dict[tuple[str, str], list[Rule]]:
    x = f"{A}/exchange"
    # Suspensions concern a grant / system / department of one node: that node's security officer acts,
    # its data office and auditor read; another node's administrators must not even see them (404).
    suspension_readers = in_scope({Role.SEC_ADMIN, Role.DATA_OFFICE, Role.AUDIT_ADMIN})
    return {
        **_app_rules(),
        **_grant_rules(),
        ("POST", "/exchange/applications"): [Rule(
            lambda w: ("post", f"{x}/applications", application_body(w)),
            # another department's consumer names a system that is not its own: 422 on system_id, as if missing
            lambda role, s: 401 if role is None else (201 if s else 422) if role in CONSUMER_SIDE else 403,
            side="cons")],
        ("GET", "/exchange/applications"): [Rule(lambda w: ("get", f"{x}/applications?box=inbox", None),
                                                 signed_in(200))],
        ("GET", "/exchange/grants"): [Rule(lambda w: ("get", f"{x}/grants", None), signed_in(200))],
        ("GET", "/exchange/suspensions"): [Rule(lambda w: ("get", f"{x}/suspensions", None), signed_in(200))],
        ("POST", "/exchange/suspensions"): [Rule(
            lambda w: ("post", f"{x}/suspensions", {"scope": "grant", "target_id": w.grant_id, "reason": "应急"}),
            lambda role, s: 401 if role is None else 403 if role != Role.SEC_ADMIN else 201 if s else 404)],
        ("POST", "/exchange/suspensions/{suspension_id}/lift"): [Rule(
            lambda w: ("post", f"{x}/suspensions/{w.suspension_id}/lift", {"reason": "已处置"}),
            gate(suspension_readers, in_scope({Role.SEC_ADMIN}), 200))],
        ("GET", "/exchange/policy"): [Rule(lambda w: ("get", f"{x}/policy", None), signed_in(200))],
        # each sys_admin sets their own node's policy: out of scope is simply another node's sys_admin
        ("PUT", "/exchange/policy"): [Rule(lambda w: ("put", f"{x}/policy", POLICY), only({Role.SYS_ADMIN}, 200))],
        ("GET", "/exchange/notifications"): [Rule(lambda w: ("get", f"{x}/notifications", None), signed_in(200))],
    }


def _audit_rules() -> dict[tuple[str, str], list[Rule]]:
    # Only the audit administrator reads the trail (三员分立); the log is the installation's, and both
    # nodes here are roots, so an auditor of either node reads it.
    auditor = only({Role.AUDIT_ADMIN}, 200)
    a = f"{A}/audit"
    return {
        ("GET", "/audit/events"): [Rule(lambda w: ("get", f"{a}/events?action=application.", None), auditor)],
        ("GET", "/audit/events.csv"): [Rule(lambda w: ("get", f"{a}/events.csv", None), auditor)],
        ("GET", "/audit/events.json"): [Rule(lambda w: ("get", f"{a}/events.json", None), auditor)],
        ("GET", "/audit/lookups"): [Rule(lambda w: ("get", f"{a}/lookups?id_number={ID_NUMBER}", None), auditor)],
        ("GET", "/audit/status"): [Rule(lambda w: ("get", f"{a}/status", None), auditor)],
    }


RULES: dict[tuple[str, str], list[Rule]] = {
    ("POST", "/auth/login"): [Rule(
        lambda w: ("post", f"{A}/auth/login", {"username": w.login_username, "password": testing.PASSWORD}),
        everyone(200))],
    ("POST", "/auth/logout"): [Rule(lambda w: ("post", f"{A}/auth/logout", {}), signed_in(204))],
    ("GET", "/auth/me"): [Rule(lambda w: ("get", f"{A}/auth/me", None), signed_in(200))],
    ("GET", "/org/departments"): [Rule(lambda w: ("get", f"{A}/org/departments", None), signed_in(200))],
    ("GET", "/org/nodes"): [Rule(lambda w: ("get", f"{A}/org/nodes", None), signed_in(200))],
    **_registry_rules(),
    **_dataset_rules(),
    **_exchange_rules(),
    **_audit_rules(),
}


def _routes() -> set[tuple[str, str]]:
    routes = set()
    for prefix, router in api._routers:
        if prefix.strip("/").split("/")[0] in OWN_MATRIX:
            continue
        for path, view in router.path_operations.items():
            for op in view.operations:
                for method in op.methods:
                    full = "/" + "/".join(p for p in (prefix.strip("/"), path.strip("/")) if p)
                    routes.add((method, full))
    return routes


def test_every_route_has_a_rule() -> None:
    prefixes = {p.strip("/") for p, _ in api._routers if p.strip("/").split("/")[0] not in OWN_MATRIX}
    assert prefixes >= {"auth", "org", "registry", "datasets", "exchange", "audit"}, prefixes
    missing = _routes() - set(RULES)
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
                    case_id = f"{route[0]} {route[1]}{label} {role or 'anon'} {'in' if scope else 'out'}"
                    reason = rule.violations.get((role, scope))
                    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                    cases.append(pytest.param(route, index, role, scope, id=case_id, marks=marks))
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
    elif "__multipart__" in body:
        from django.core.files.uploadedfile import SimpleUploadedFile

        files = {k: SimpleUploadedFile(name, data) for k, (name, data) in body["__multipart__"].items()}
        resp = getattr(c, method)(url, files)
    else:
        resp = getattr(c, method)(url, body, content_type="application/json")
    expected = rule.expect(role, scope)
    content = b"" if getattr(resp, "streaming", False) else resp.content[:300]
    assert resp.status_code == expected, (route, rule.label, role, scope, content)
    if resp.status_code >= 400:
        assert resp.json()["ok"] is False
