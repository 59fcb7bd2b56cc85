from __future__ import annotations

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.core.crypto.envelope import decrypt_secret
from govshare.registry.models import AppCredential

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept_admin(provider_dept):  # type: ignore[no-untyped-def]
    return testing.user(Role.DEPT_ADMIN, dept=provider_dept)


def test_dept_admin_creates_system_and_rotates_credentials(dept_admin) -> None:
    c = client_for(dept_admin)
    resp = c.post("/api/v1/registry/systems", {"name": "人口综合管理系统", "purpose": "户籍业务"},
                  content_type="application/json")
    assert resp.status_code == 201, resp.content
    sid = resp.json()["id"]
    first = c.post(f"/api/v1/registry/systems/{sid}/credentials", {"label": "主"}, content_type="application/json")
    assert first.status_code == 201
    secret = first.json()["app_secret"]
    stored = AppCredential.objects.get(app_key=first.json()["app_key"])
    # Stored SM4-encrypted (the server must recompute HMACs), never in clear.
    assert secret not in stored.secret_enc and stored.secret_enc.startswith("sm4v1:")
    assert decrypt_secret(stored.secret_enc).decode() == secret
    # The secret is shown once: listing never includes it.
    listed = c.get(f"/api/v1/registry/systems/{sid}/credentials").json()
    assert all("app_secret" not in row for row in listed)
    second = c.post(f"/api/v1/registry/systems/{sid}/credentials", {}, content_type="application/json")
    assert second.status_code == 201
    third = c.post(f"/api/v1/registry/systems/{sid}/credentials", {}, content_type="application/json")
    assert third.status_code == 409 and third.json()["error"]["code"] == "conflict"
    revoked = c.post(f"/api/v1/registry/credentials/{first.json()['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert c.post(f"/api/v1/registry/systems/{sid}/credentials", {}, content_type="application/json"
                  ).status_code == 201
    assert AuditEvent.objects.filter(action="credential.issued").count() == 3
    assert AuditEvent.objects.filter(action="credential.revoked").count() == 1


def test_other_departments_cannot_see_or_touch_systems(dept_admin, city) -> None:
    sid = client_for(dept_admin).post("/api/v1/registry/systems", {"name": "系统A"},
                                      content_type="application/json").json()["id"]
    outsider = testing.user(Role.DEPT_ADMIN, dept=testing.department(city))
    c = client_for(outsider)
    assert c.get(f"/api/v1/registry/systems/{sid}/credentials").status_code == 404
    assert c.post(f"/api/v1/registry/systems/{sid}/credentials", {}, content_type="application/json"
                  ).status_code == 404
    assert sid not in [s["id"] for s in c.get("/api/v1/registry/systems").json()["items"]]


def test_provider_staff_cannot_issue_credentials(dept_admin, provider) -> None:
    sid = client_for(dept_admin).post("/api/v1/registry/systems", {"name": "系统B"},
                                      content_type="application/json").json()["id"]
    resp = client_for(provider).post(f"/api/v1/registry/systems/{sid}/credentials", {},
                                     content_type="application/json")
    assert resp.status_code == 403
    assert AppCredential.objects.count() == 0


def test_duplicate_system_name_is_a_conflict_naming_the_field(dept_admin) -> None:
    c = client_for(dept_admin)
    c.post("/api/v1/registry/systems", {"name": "重复系统"}, content_type="application/json")
    resp = c.post("/api/v1/registry/systems", {"name": "重复系统"}, content_type="application/json")
    assert resp.status_code == 409 and resp.json()["error"]["details"]["field"] == "name"
