"""Property-based API test: schemathesis over the control-plane OpenAPI document (/api/v1/openapi.json).

Every exchange, catalog and registry operation gets a bounded, derandomised batch of generated requests, sent
through the real WSGI entry (``govshare.wsgi.application``, so CSRF and the session middleware run) as one of
three signed-in users (provider, consumer, data office). Path parameters are either generated or drawn from
a small world built in the test database, so the handlers get past the 404 as well. Each response must

- not be a 5xx;
- conform to its documented schema (2xx: the declared body; schemathesis' ``response_schema_conformance``
  and ``content_type_conformance`` checks);
- for a 4xx, be the error envelope ``{"ok": false, "error": {"code", "message", "details"}}``. The
  control-plane operations document only their 2xx answer, so the envelope is checked here rather than by
  schemathesis' ``status_code_conformance`` (which is therefore not run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from govshare import testing
from govshare.accounts.choices import Role
from govshare.catalog.services import ItemSpec
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.registry.services import create_system
from govshare.wsgi import application

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# The data plane (/dp/v1/) needs HMAC-signed requests and has its own tests; the brief is the control plane.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application).include(
    path_regex=r"^/api/v1/(exchange|catalog|registry)/"
)

# Examples per operation; raise it locally to hunt (GOVSHARE_SCHEMATHESIS_EXAMPLES=200).
MAX_EXAMPLES = int(os.environ.get("GOVSHARE_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

# Found by this test and fixed: integers without an upper bound in the schemas overflowed in the database
# layer (500 instead of 422). The schemas now carry bounds; no operation is exempt from the checks.


PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
]


class World:
    """A published resource, a consumer system, one application under review and one granted."""

    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any) -> None:
        self.users = {"provider": provider, "consumer": consumer, "data_office": office}
        consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
        self.system = create_system(actor=consumer_admin, department=consumer.department, name="社保经办系统")
        self.resource = testing.resource(provider.department, items=PERSON_ITEMS, share_modes=["api", "file"],
                                         publish_by=office)
        dataset = mount_resource(actor=provider, resource=self.resource)  # mounted: approval grants at once
        load_rows(actor=provider, dataset=dataset, rows=[
            {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 1), "person_name": f"张{n}",
             "gender": "男"} for n in range(1, 4)])
        self.draft = testing.resource(provider.department, name="法人基本信息", items=PERSON_ITEMS)
        c = client_for(consumer)
        body = {"resource_id": str(self.resource.pk), "system_id": str(self.system.pk),
                "items": ["id_number", "person_name", "gender"], "modes": ["query", "verify"],
                "purpose": "办理社会保险参保登记核验身份", "legal_basis": "《社会保险法》",
                "valid_to": (timezone.localdate() + dt.timedelta(days=365)).isoformat()}
        pending = c.post("/api/v1/exchange/applications", body, content_type="application/json")
        granted = c.post("/api/v1/exchange/applications", body, content_type="application/json")
        assert pending.status_code == granted.status_code == 201, pending.content
        self.pending_app, app = pending.json()["id"], granted.json()["id"]
        self._act(office, app, "pass_compliance")
        decision = {"items": {"id_number": "plain", "person_name": "plain", "gender": "plain"}}
        approved = self._act(provider, app, "approve", decision=decision)
        self.granted_app, self.grant = app, approved["grant_id"]
        assert self.grant, approved
        cred = client_for(consumer_admin).post(f"/api/v1/registry/systems/{self.system.pk}/credentials", {},
                                               content_type="application/json")
        assert cred.status_code == 201, cred.content
        self.credential = cred.json()["id"]
        susp = client_for(office).post("/api/v1/exchange/suspensions", {
            "scope": "system", "target_id": str(self.system.pk), "reason": "安全检查"},
            content_type="application/json")
        self.suspension = susp.json()["id"] if susp.status_code == 201 else None
        self.sessions = {role: self._session(u) for role, u in self.users.items()}

    @staticmethod
    def _act(user: Any, app_id: str, action: str, **body: Any) -> dict[str, Any]:
        resp = client_for(user).post(f"/api/v1/exchange/applications/{app_id}/actions/{action}", body,
                                     content_type="application/json")
        assert resp.status_code == 200, resp.content
        return resp.json()

    @staticmethod
    def _session(user: Any) -> dict[str, str]:
        c = Client()
        c.force_login(user)
        # A raw WSGI request goes through CsrfViewMiddleware, and ninja's session auth checks CSRF on writes:
        # send the double-submit pair (an unmasked 32-character secret is a valid token).
        return {"sessionid": c.cookies["sessionid"].value, "csrftoken": get_random_string(32)}

    def path_values(self, name: str) -> list[Any]:
        return {
            "app_id": [self.pending_app, self.granted_app],
            "grant_id": [self.grant],
            "suspension_id": [self.suspension] if self.suspension else [],
            "system_id": [str(self.system.pk)],
            "credential_id": [self.credential],
            "resource_id": [str(self.resource.pk), str(self.draft.pk)],
            "code": ["DE0001", "DE0002"],
            "number": [1, 2],
        }.get(name, [])


@pytest.fixture
def world(city, provider, consumer, data_office) -> Iterator[World]:  # type: ignore[no-untyped-def]
    w = World(city, provider, consumer, data_office)
    # Raw WSGI requests fire request_started/finished, whose close_old_connections would close the test's
    # connection (and its transaction) on PostgreSQL; django.test.Client unhooks it around each of its
    # requests (and hooks it back, hence after building the world).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield w
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _assert_error_envelope(case: Any, response: Any) -> None:
    try:
        body = json.loads(response.content)
    except ValueError:
        pytest.fail(f"{case.method} {case.formatted_path} -> {response.status_code} is not JSON: "
                    f"{response.content[:200]!r}")
    ok = (isinstance(body, dict) and body.get("ok") is False and isinstance(body.get("error"), dict)
          and isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str)
          and isinstance(body["error"].get("details"), dict))
    assert ok, f"{case.method} {case.formatted_path} -> {response.status_code}: not the error envelope: {body!r}"


@schema.parametrize()
@schema.given(data=st.data())
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_control_plane_api(case: Any, data: Any, world: World) -> None:
    role = data.draw(st.sampled_from(sorted(world.sessions)), label="role")
    for name in list(case.path_parameters or {}):
        real = world.path_values(name)
        if real:
            case.path_parameters[name] = data.draw(st.sampled_from([case.path_parameters[name], *real]),
                                                   label=name)
    cookies = world.sessions[role]
    response = case.call(cookies=cookies, headers={"X-CSRFToken": cookies["csrftoken"]})
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        _assert_error_envelope(case, response)
