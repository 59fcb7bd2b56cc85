"""The registry's portal pages (信息系统): a department administrator registers systems and issues, rotates and
revokes credentials; the AppSecret is shown once and never again; other departments' systems answer 404."""

from __future__ import annotations

import re
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.core.crypto.envelope import decrypt_secret
from govshare.registry.models import AppCredential, InformationSystem

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(consumer_dept: Any) -> Any:
    return testing.user(Role.DEPT_ADMIN, dept=consumer_dept)


def _secret(html: str) -> str:
    m = re.search(r'<code id="app-secret">([^<]+)</code>', html)
    assert m, "the secret is on the page"
    return m.group(1)


def test_dept_admin_registers_a_system_and_errors_stand_beside_fields(admin: Any, consumer: Any) -> None:
    c = client_for(admin)
    resp = c.post("/systems/new/", {"name": "", "purpose": ""})
    assert resp.status_code == 422 and 'id="id_name_errors"' in resp.content.decode()
    resp = c.post("/systems/new/", {"name": "社保业务经办系统", "purpose": "参保登记"})
    system = InformationSystem.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/systems/{system.pk}/"
    assert system.department_id == admin.department_id
    # A duplicate name is the service's error, shown beside the name.
    resp = c.post("/systems/new/", {"name": "社保业务经办系统"})
    assert resp.status_code == 422 and "系统名称已存在" in resp.content.decode()
    assert InformationSystem.objects.count() == 1
    # Consumers of the department see the list but cannot register.
    listing = client_for(consumer).get("/systems/").content.decode()
    assert "社保业务经办系统" in listing and "登记信息系统" not in listing
    assert client_for(consumer).get("/systems/new/").status_code == 403


def test_credential_secret_is_shown_once(admin: Any) -> None:
    c = client_for(admin)
    c.post("/systems/new/", {"name": "就业服务管理系统"})
    system = InformationSystem.objects.get()
    resp = c.post(f"/systems/{system.pk}/credentials/", {"label": "生产环境", "valid_days": ""})
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    html = resp.content.decode()
    secret = _secret(html)
    cred = AppCredential.objects.get()
    assert cred.app_key in html and decrypt_secret(cred.secret_enc, purpose="credential").decode() == secret
    assert secret not in cred.secret_enc
    # Never again: not on the system page, not in its export.
    page = c.get(f"/systems/{system.pk}/").content.decode()
    assert cred.app_key in page and secret not in page
    assert secret not in c.get("/systems/?format=json").content.decode()
    # Rotation issues a second credential beside the first and shows only the new secret, once.
    resp = c.post(f"/systems/credentials/{cred.pk}/rotate/")
    new_secret = _secret(resp.content.decode())
    assert new_secret != secret and "吊销旧凭证" in resp.content.decode()
    assert AppCredential.objects.filter(status="active").count() == 2
    # A third active credential is refused (two at most): the error is shown, no secret.
    resp = c.post(f"/systems/{system.pk}/credentials/", {"label": "多余"})
    assert resp.status_code == 422 and "最多 2 个有效凭证" in resp.content.decode()
    assert 'id="app-secret"' not in resp.content.decode()
    resp = c.post(f"/systems/credentials/{cred.pk}/revoke/")
    assert resp.status_code == 302
    cred.refresh_from_db()
    assert cred.status == "revoked"
    assert AuditEvent.objects.filter(action="credential.issued").count() == 2
    assert AuditEvent.objects.filter(action="credential.revoked").count() == 1
    page = c.get(f"/systems/{system.pk}/").content.decode()
    assert secret not in page and new_secret not in page


def test_other_departments_systems_and_credentials_answer_404(admin: Any, provider_dept: Any) -> None:
    client_for(admin).post("/systems/new/", {"name": "社会救助信息系统"})
    system = InformationSystem.objects.get()
    client_for(admin).post(f"/systems/{system.pk}/credentials/", {"label": "x"})
    cred = AppCredential.objects.get()
    other = client_for(testing.user(Role.DEPT_ADMIN, dept=provider_dept))
    assert other.get(f"/systems/{system.pk}/").status_code == 404
    assert other.post(f"/systems/{system.pk}/credentials/", {"label": "y"}).status_code == 404
    assert other.post(f"/systems/credentials/{cred.pk}/rotate/").status_code == 404
    assert other.post(f"/systems/credentials/{cred.pk}/revoke/").status_code == 404
    assert "社会救助信息系统" not in other.get("/systems/").content.decode()
    assert AppCredential.objects.count() == 1 and AppCredential.objects.get().status == "active"


def test_system_list_keeps_a_constant_number_of_queries(admin: Any, django_assert_max_num_queries: Any) -> None:
    c = client_for(admin)
    for n in range(8):
        c.post("/systems/new/", {"name": f"业务系统{n}"})
    with django_assert_max_num_queries(8):
        html = c.get("/systems/").content.decode()
    assert html.count('href="/systems/') >= 8
