"""A fused base library is a catalog resource like any other: queried and verified through the data plane under
a grant, with the data elements' masks, and it follows a fused change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.baselibs.services import fuse
from govshare.baselibs.tests.conftest import City
from govshare.client import GovshareClient, wsgi_transport
from govshare.core.masking import mask
from govshare.exchange.choices import ApplicationStatus
from govshare.exchange.dataplane import app as dp_app
from govshare.exchange.dataplane import limits
from govshare.exchange.models import Application
from govshare.exchange.services.grants import Decision, create_grant
from govshare.registry.services import create_system, issue_credential

pytestmark = pytest.mark.django_db
REFS = {"operator": "王五", "case_number": "BJ20250001", "item_code": "11445100MB2D1234XY", "purpose": "婚姻登记核验"}


@pytest.fixture(autouse=True)
def _fresh_dataplane() -> None:
    dp_app.application.cache.clear()
    limits.reset_purge_clock()


def test_fused_library_queried_and_verified_under_a_grant(town: City) -> None:
    lib = town.install()
    fuse(actor=town.office, library=lib)
    lib.resource.refresh_from_db()
    consumer_dept = testing.department(town.node, name="市教育局")
    admin = testing.user(Role.DEPT_ADMIN, dept=consumer_dept)
    consumer = testing.user(Role.CONSUMER, dept=consumer_dept)
    office_provider = testing.user(Role.PROVIDER, dept=town.office_dept)
    system = create_system(actor=admin, department=consumer_dept, name="入学资格审核系统")
    issued = issue_credential(actor=admin, system=system)
    today = timezone.localdate()
    items = {"id_number": "plain", "person_name": "masked", "marital_status": "plain", "deceased": "plain"}
    app = Application.objects.create(
        node=town.node, number="BL-000001", resource=lib.resource,
        resource_version=lib.resource.published_version.number,
        provider=lib.resource.provider, consumer=consumer_dept, system=system, applicant=consumer, items=list(items),
        modes=["query", "verify"], purpose="入学资格审核", valid_from=today, valid_to=today + dt.timedelta(days=30),
        status=ApplicationStatus.APPROVED)
    with transaction.atomic():
        create_grant(actor=office_provider, app=app, decision=Decision(items=items, modes=["query", "verify"]),
                     override_reason="测试")
    from govshare.wsgi import application

    gs = GovshareClient("http://testserver", issued.credential.app_key, issued.app_secret,
                        transport=wsgi_transport(application), **REFS)
    p = town.people[4]
    answer: dict[str, Any] = gs.query(lib.resource.code, keys=[p["id_number"]])
    assert answer["count"] == 1
    assert answer["records"][0]["data"] == {"id_number": p["id_number"], "person_name": mask("name", p["person_name"]),
                                            "marital_status": "已婚", "deceased": "false"}
    # 民政局 registers a divorce; after the fusion the same query sees it.
    town.batch("mzj", [{**p, "marital_status": "离婚"}])
    fuse(actor=town.office, library=lib)
    answer = gs.query(lib.resource.code, keys=[p["id_number"]], items=["marital_status"])
    assert answer["records"][0]["data"] == {"marital_status": "离婚"}
    assert gs.verify(lib.resource.code, p["id_number"], {"person_name": p["person_name"]})["all_match"] is True
