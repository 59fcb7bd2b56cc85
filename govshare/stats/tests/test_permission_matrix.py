"""Role × endpoint matrix of the stats API (the stats router keeps its own matrix, like catalog and quality):
the summary answers everyone (anonymous callers get the public figures), a department's figures need a
signed-in user, and an unknown department is a 404 in the error envelope."""

from __future__ import annotations

import uuid

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.api import api
from govshare.conftest import client_for
from govshare.stats.tests.conftest import City

pytestmark = pytest.mark.django_db

ROLES: list[str | None] = [*list(Role), None]
DEPARTMENT_ROLES = (Role.DEPT_ADMIN, Role.PROVIDER, Role.CONSUMER, Role.WINDOW_CLERK)
RULES = {("GET", "/stats/summary"), ("GET", "/stats/departments/{department_id}")}


def test_every_route_has_a_rule() -> None:
    routes = set()
    for prefix, router in api._routers:
        if prefix.strip("/") != "stats":
            continue
        for path, view in router.path_operations.items():
            for op in view.operations:
                routes |= {(m, "/stats" + path) for m in op.methods}
    assert routes == RULES


@pytest.mark.parametrize("role", ROLES, ids=[str(r) for r in ROLES])
def test_stats_api_permissions(town: City, role: str | None) -> None:
    dept = town.consumer.department if role in DEPARTMENT_ROLES else None
    user = None if role is None else testing.user(role, at=town.city, dept=dept)
    client = client_for(user)
    summary = client.get("/api/v1/stats/summary")
    assert summary.status_code == 200 and summary.json()["public"] is (role is None)
    own = client.get(f"/api/v1/stats/departments/{town.provider.department_id}")
    missing = client.get(f"/api/v1/stats/departments/{uuid.uuid4()}")
    if role is None:
        assert own.status_code == 401 and missing.status_code == 401
        assert own.json()["ok"] is False
        assert summary.json()["totals"]["refused"] is None and summary.json()["regions"] == []
    else:
        assert own.status_code == 200 and own.json()["department"]["name"] == "市公安局"
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert summary.json()["totals"]["refused"] == 0
    assert client.get("/api/v1/stats/summary?days=0").status_code == 422
    assert client.get("/api/v1/stats/summary?days=367").status_code == 422
