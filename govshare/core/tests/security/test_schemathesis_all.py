"""schemathesis over the WHOLE OpenAPI document (/api/v1/openapi.json): every control-plane operation of every
app and the data-plane paths, as signed-in users of eight roles, a few derandomised examples per operation.

Properties: no 5xx; a documented answer conforms to its schema and content type; every 4xx from /api/v1/ is the
error envelope ``{"ok": false, "error": {"code", "message", "details"}}``. The data-plane paths get no HMAC
signature here (they are exercised signed in govshare/exchange/tests), so they must refuse with their own
envelope. ``govshare/core/tests/test_schemathesis.py`` goes deeper (a world with grants) on exchange, catalog
and registry; this one is the breadth pass. Budget: GOVSHARE_SCHEMATHESIS_ALL_EXAMPLES (default 4) examples per
operation, about a minute on two cores.

Needs ``schemathesis`` (pyproject, test extras: ``schemathesis>=4.0``); skipped with that reason without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed: add \"schemathesis>=4.0\" to the test extras in pyproject")

from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from govshare import testing  # noqa: E402
from govshare.accounts.choices import Role  # noqa: E402
from govshare.wsgi import application  # noqa: E402

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Signing out would end the shared session of the role for every later example.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application).exclude(
    path_regex=r"^/api/v1/auth/logout$")

MAX_EXAMPLES = int(os.environ.get("GOVSHARE_SCHEMATHESIS_ALL_EXAMPLES", "4"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


class Sessions:
    """One signed-in user per role (the admin roles' second factor is taken as given: force_login)."""

    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any) -> None:
        users = {"provider": provider, "consumer": consumer, "data_office": office,
                 "dept_admin": testing.user(Role.DEPT_ADMIN, dept=consumer.department),
                 "window_clerk": testing.user(Role.WINDOW_CLERK, dept=consumer.department),
                 "sec_admin": testing.user(Role.SEC_ADMIN, at=city),
                 "audit_admin": testing.user(Role.AUDIT_ADMIN, at=city),
                 "sys_admin": testing.user(Role.SYS_ADMIN, at=city)}
        self.cookies = {role: self._session(u) for role, u in users.items()}

    @staticmethod
    def _session(user: Any) -> dict[str, str]:
        c = Client()
        c.force_login(user)
        return {"sessionid": c.cookies["sessionid"].value, "csrftoken": get_random_string(32)}

    @staticmethod
    def path_values(name: str) -> list[Any]:
        return {"code": ["DE0001"], "number": [1]}.get(name, [])


@pytest.fixture
def sessions(city, provider, consumer, data_office) -> Iterator[Sessions]:  # type: ignore[no-untyped-def]
    s = Sessions(city, provider, consumer, data_office)
    # Raw WSGI requests fire request_started/finished, whose close_old_connections would close the test's
    # connection (and its transaction) on PostgreSQL.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield s
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _assert_error_envelope(case: Any, response: Any) -> None:
    try:
        body = json.loads(response.content)
    except ValueError:
        pytest.fail(f"{case.method} {case.formatted_path} -> {response.status_code} is not JSON: "
                    f"{response.content[:200]!r}")
    error = body.get("error") if isinstance(body, dict) else None
    ok = (body.get("ok") is False and isinstance(error, dict) and isinstance(error.get("code"), str)
          and isinstance(error.get("message"), str) and isinstance(error.get("details"), dict | None))
    assert ok, f"{case.method} {case.formatted_path} -> {response.status_code}: not the error envelope: {body!r}"


@schema.parametrize()
@schema.given(data=st.data())
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_whole_api(case: Any, data: Any, sessions: Sessions) -> None:
    role = data.draw(st.sampled_from(sorted(sessions.cookies)), label="role")
    for name in list(case.path_parameters or {}):
        real = sessions.path_values(name)
        if real:
            case.path_parameters[name] = data.draw(st.sampled_from([case.path_parameters[name], *real]),
                                                   label=name)
    cookies = sessions.cookies[role]
    response = case.call(cookies=cookies, headers={"X-CSRFToken": cookies["csrftoken"]})
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        _assert_error_envelope(case, response)
