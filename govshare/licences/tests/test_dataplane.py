"""``GET /dp/v1/licences`` through the real WSGI entry with signed calls, under a grant on the licence library."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.audit.services import audit_key_hmac
from govshare.client import GovshareClient, GovshareError, wsgi_transport
from govshare.conftest import client_for
from govshare.core import periodic
from govshare.exchange.choices import ApplicationStatus
from govshare.exchange.dataplane import app as dp_app
from govshare.exchange.dataplane import limits
from govshare.exchange.dataplane.app import ROUTES, extension_endpoints
from govshare.exchange.models import Application, Grant
from govshare.exchange.services.grants import Decision, create_grant
from govshare.licences.models import LicenceUse
from govshare.licences.services.library import ensure_licence_resource
from govshare.licences.tests.conftest import OTHER, PERSON, LicenceWorld
from govshare.registry.services import create_system, issue_credential

pytestmark = pytest.mark.django_db

REFS = {"operator": "王五", "case_number": "BJ20260001", "item_code": "11445100MB2C0871XK44405210001",
        "purpose": "公租房申请核验婚姻状况"}
GRANTED = {"holder_id": "plain", "holder_name": "masked", "license_type_code": "plain", "license_name": "plain",
           "license_number": "plain", "valid_until": "plain", "license_data": "masked"}
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_dataplane() -> Iterator[None]:
    dp_app.application.cache.clear()
    limits.reset_purge_clock()
    yield


class Caller:
    def __init__(self, lw: LicenceWorld) -> None:
        self.dept = testing.department(lw.city, name="潮州市住房和城乡建设局")
        admin = testing.user(Role.DEPT_ADMIN, dept=self.dept)
        self.applicant = testing.user(Role.CONSUMER, dept=self.dept)
        self.system = create_system(actor=admin, department=self.dept, name="住房保障管理系统")
        issued = issue_credential(actor=admin, system=self.system)
        self.app_key, self.secret = issued.credential.app_key, issued.app_secret

    def grant(self, resource: Any, items: dict[str, str], modes: tuple[str, ...] = ("query",), **decision: Any
              ) -> Grant:
        today = timezone.localdate()
        app = Application.objects.create(
            node=resource.node, number=f"LIC-{next(_numbers):06d}", resource=resource,
            resource_version=resource.published_version.number, provider=resource.provider, consumer=self.dept,
            system=self.system, applicant=self.applicant, items=list(items), modes=list(modes),
            purpose="公租房资格审核", valid_from=today, valid_to=today + dt.timedelta(days=365),
            status=ApplicationStatus.APPROVED)
        with transaction.atomic():
            return create_grant(actor=None, app=app, decision=Decision(items=items, modes=list(modes), **decision),
                                override_reason="测试")

    def call(self, resource_code: str, holder: str, **refs: Any) -> dict[str, Any]:
        from govshare.wsgi import application

        client = GovshareClient("http://testserver", self.app_key, self.secret, transport=wsgi_transport(application),
                                **{**REFS, **refs})
        _, _, data = client.request("GET", "/dp/v1/licences", query={"holder": holder, "resource": resource_code})
        answer: dict[str, Any] = json.loads(data)
        return answer


def denied(fn: Any, *args: Any, **kw: Any) -> GovshareError:
    with pytest.raises(GovshareError) as info:
        fn(*args, **kw)
    return info.value


def test_signed_holder_lookup_under_a_grant(lw: LicenceWorld) -> None:
    library = ensure_licence_resource(actor=lw.office, node=lw.city)
    assert ensure_licence_resource(actor=lw.office, node=lw.city).pk == library.pk  # idempotent
    assert library.classification_id == "105" and library.sensitivity == 3 and library.provider.is_data_office
    caller = Caller(lw)
    grant = caller.grant(library, GRANTED, row_filter='license_number prefix "J-"')
    kept, _filtered = lw.marry(number="J-0001"), lw.marry(number="K-0002")
    lw.marry(holder=OTHER, holder_name="张三", number="J-0003")
    answer = caller.call(library.code, PERSON)
    assert answer["ok"] and answer["count"] == 1 and answer["resource"] == library.code
    (rec,) = answer["licences"]
    assert rec == {"holder_id": PERSON, "holder_name": "陈**", "license_type_code": lw.marriage.code,
                   "license_name": "结婚证", "license_number": "J-0001", "valid_until": "",
                   "license_data": "******"}
    # One 用证记录 with the system, the grant and the business references …
    use = LicenceUse.objects.get()
    assert (use.channel, use.system_id, use.grant_id, use.operator, use.case_number, use.item_code) == (
        "dataplane", caller.system.pk, str(grant.pk), "王五", "BJ20260001", REFS["item_code"])
    assert [lic.pk for lic in use.licences.all()] == [kept.pk]
    # … the data plane's own call event and the lookup event, both with the holder's key HMAC.
    (call_event,) = AuditEvent.objects.filter(action="dataplane.licences")
    assert call_event.result == "ok" and call_event.data["key_hmacs"] == [audit_key_hmac(PERSON)]
    assert call_event.data["count"] == 1 and call_event.data["case_number"] == "BJ20260001"
    (lookup_event,) = AuditEvent.objects.filter(action="licences.holder_lookup")
    assert lookup_event.data["key_hmacs"] == [audit_key_hmac(PERSON)] and lookup_event.data["grant"] == str(grant.pk)
    assert lookup_event.data["licences"] == ["J-0001"] and caller.app_key in lookup_event.actor_label


def test_refusals(lw: LicenceWorld) -> None:
    library = ensure_licence_resource(actor=lw.office, node=lw.city)
    caller = Caller(lw)
    lw.marry()
    assert denied(caller.call, library.code, PERSON).code == "no_grant"
    verify_only = caller.grant(library, GRANTED, modes=("verify",))
    assert denied(caller.call, library.code, PERSON).code == "exchange_mode_not_granted"
    Grant.objects.filter(pk=verify_only.pk).update(modes=["query"], status="revoked")
    dp_app.application.cache.clear()
    partial = caller.grant(library, {k: v for k, v in GRANTED.items() if k != "holder_id"})
    assert denied(caller.call, library.code, PERSON).code == "item_not_granted"
    Grant.objects.filter(pk=partial.pk).update(status="revoked")
    dp_app.application.cache.clear()
    caller.grant(library, GRANTED)
    assert denied(caller.call, library.code, PERSON, case_number="").code == "missing_case_number"
    bad = denied(caller.call, library.code, PERSON[:17] + ("0" if PERSON[17] != "0" else "1"))
    assert (bad.code, bad.details["field"]) == ("bad_request", "holder")
    # A query grant on an ordinary resource does not turn it into a licence library.
    other = testing.resource(lw.civil, name="婚姻登记信息", classification_code="101003", publish_by=lw.office)
    caller.grant(other, {"id_number": "plain", "person_name": "plain"})
    wrong = denied(caller.call, other.code, PERSON)
    assert (wrong.code, wrong.details["field"]) == ("bad_request", "resource")
    assert not LicenceUse.objects.exists()
    assert caller.call(library.code, PERSON)["count"] == 1


def test_library_api(lw: LicenceWorld) -> None:
    office = client_for(lw.office)
    assert office.get("/api/v1/licences/library").status_code == 404
    assert client_for(lw.civil_staff).post("/api/v1/licences/library").status_code == 403
    made = office.post("/api/v1/licences/library")
    assert made.status_code == 200 and made.json()["resource_name"] == "电子证照库"
    assert client_for(lw.clerk).get("/api/v1/licences/library").json() == made.json()
    assert AuditEvent.objects.filter(action="licences.library_created").count() == 1


def test_app_wiring() -> None:
    assert ROUTES[("GET", "/dp/v1/licences")] == "licences"
    assert any(e.name == "licences" and e.mode == "query" for e in extension_endpoints())
    assert "licences.mark_expired" in {j.name for j in periodic.jobs()}
    doc = Client().get("/api/v1/openapi.json").json()
    assert "get" in doc["paths"]["/dp/v1/licences"] and "DataPlaneLicencesOut" in doc["components"]["schemas"]
