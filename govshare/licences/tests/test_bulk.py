"""Bulk issue from a mounted source dataset: live rows only, idempotent re-runs, reported problems."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govshare import testing
from govshare.audit.models import AuditEvent
from govshare.catalog.services import ItemSpec
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.licences.choices import VerifyStatus
from govshare.licences.models import Licence
from govshare.licences.services.verify import check, stored_holder_id, with_relations
from govshare.licences.tests.conftest import LicenceWorld

pytestmark = pytest.mark.django_db

MARRIAGE_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="登记日期", element_code="DE0033", column_name="registered_on"),
    ItemSpec(name="配偶姓名", element_code="DE0002", column_name="spouse_name"),
    ItemSpec(name="证照编号", element_code="DE0031"),
]


def row(n: int, *, spouse: str | None = None) -> dict[str, Any]:
    return {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 3), "person_name": f"陈{n}号",
            "registered_on": f"2010-06-{n:02d}", "spouse_name": f"林{n}号" if spouse is None else spouse,
            "license_number": f"J445100-2010-{n:06d}"}


BODY = {"holder_id_column": "id_number", "holder_name_column": "person_name", "number_column": "license_number",
        "fields": {"登记日期": "registered_on", "配偶姓名": "spouse_name"}}


def test_bulk_issue_is_idempotent(lw: LicenceWorld) -> None:
    resource = testing.resource(lw.civil, name="婚姻登记信息", classification_code="101003", items=MARRIAGE_ITEMS,
                                publish_by=lw.office)
    dataset = mount_resource(actor=lw.civil_staff, resource=resource)
    rows = [row(n) for n in range(1, 8)] + [row(8, spouse="")]  # row 8 lacks a required field
    assert load_rows(actor=lw.civil_staff, dataset=dataset, rows=rows).status == "applied"
    c = client_for(lw.civil_staff)
    url = f"/api/v1/licences/types/{lw.marriage.pk}/issue-from-dataset"
    first = c.post(url, {**BODY, "dataset_id": str(dataset.pk)}, content_type="application/json")
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["rows"], body["issued"], body["skipped"], body["failed"]) == (8, 7, 0, 1)
    assert body["problems"][0]["field"] == "fields.配偶姓名" and body["problems"][0]["key"] == rows[7]["id_number"]
    again = c.post(url, {**BODY, "dataset_id": str(dataset.pk)}, content_type="application/json").json()
    assert (again["issued"], again["skipped"], again["failed"]) == (0, 7, 1)
    assert Licence.objects.count() == 7
    lic = with_relations().get(number="J445100-2010-000003")
    assert stored_holder_id(lic) == rows[2]["id_number"] and lic.fields == {"登记日期": "2010-06-03",
                                                                            "配偶姓名": "林3号"}
    assert lic.source_dataset_id == dataset.pk and check(lic).status == VerifyStatus.VALID
    # A new generation: only the live rows count; the fixed row and a new one are issued, nothing twice.
    rows[7] = row(8)
    assert load_rows(actor=lw.civil_staff, dataset=dataset, rows=[*rows, row(9)]).status == "applied"
    third = c.post(url, {**BODY, "dataset_id": str(dataset.pk)}, content_type="application/json").json()
    assert (third["rows"], third["issued"], third["skipped"], third["failed"]) == (9, 2, 7, 0)
    assert Licence.objects.count() == 9 and Licence.objects.values("number").distinct().count() == 9
    # Without a number column, a re-run is still idempotent by source row.
    generated = {**BODY, "dataset_id": str(dataset.pk)}
    del generated["number_column"]
    assert c.post(url, generated, content_type="application/json").json()["issued"] == 0
    events = AuditEvent.objects.filter(action="licences.bulk_issued").order_by("seq")
    assert [e.data["issued"] for e in events] == [7, 0, 2, 0]


def test_bulk_issue_checks_mapping_and_ownership(lw: LicenceWorld) -> None:
    resource = testing.resource(lw.civil, name="婚姻登记信息", classification_code="101003", items=MARRIAGE_ITEMS,
                                publish_by=lw.office)
    dataset = mount_resource(actor=lw.civil_staff, resource=resource)
    load_rows(actor=lw.civil_staff, dataset=dataset, rows=[row(1)])
    c = client_for(lw.civil_staff)
    url = f"/api/v1/licences/types/{lw.marriage.pk}/issue-from-dataset"
    cases = [
        ({"holder_name_column": "nope"}, "mapping.holder_name"),
        ({"fields": {"登记日期": "registered_on"}}, "mapping.fields.配偶姓名"),
        ({"fields": {"登记日期": "registered_on", "配偶姓名": "spouse_name", "血型": "person_name"}},
         "mapping.fields.血型"),
    ]
    for change, field in cases:
        resp = c.post(url, {**BODY, "dataset_id": str(dataset.pk), **change}, content_type="application/json")
        assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == field, resp.content
    # 市场监管局 may not issue 结婚证, nor use 民政局's dataset for its own type.
    other = client_for(lw.market_staff)
    assert other.post(url, {**BODY, "dataset_id": str(dataset.pk)},
                      content_type="application/json").status_code == 403
    url_biz = f"/api/v1/licences/types/{lw.business.pk}/issue-from-dataset"
    resp = other.post(url_biz, {**BODY, "fields": {}, "dataset_id": str(dataset.pk)}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "dataset_id"
    assert Licence.objects.count() == 0
