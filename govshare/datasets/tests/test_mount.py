from __future__ import annotations

import uuid

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.catalog.services import ItemSpec, apply_action
from govshare.conftest import client_for
from govshare.datasets.models import Dataset
from govshare.datasets.tests.conftest import csv_bytes, person, post_file

pytestmark = pytest.mark.django_db


def _mount(c: Client, resource: Resource):  # type: ignore[no-untyped-def]
    return c.post(f"/api/v1/datasets/mount/{resource.pk}")


def test_provider_mounts_a_published_resource(pc: Client, people: Resource, provider: User) -> None:
    r = _mount(pc, people)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["resource_code"] == people.code and body["key_column"] == "id_number"
    assert body["mounted"] is False and body["generation"] == 0 and body["row_count"] == 0
    assert [c["column_name"] for c in body["columns"]] == [
        "id_number", "person_name", "birth_date", "mobile", "marital_status"]
    assert body["columns"][0]["is_key"] and body["columns"][1]["required"] and body["columns"][1]["length"] == 10
    ev = AuditEvent.objects.get(action="dataset.mounted")
    assert ev.actor_id == str(provider.pk) and ev.data["code"] == people.code
    # Mounting twice is a conflict that names the existing dataset.
    again = _mount(pc, people)
    assert again.status_code == 409 and again.json()["error"]["details"]["dataset_id"] == body["id"]


def test_dept_admin_of_the_provider_may_mount(people: Resource, provider_dept: testing.Department) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    assert _mount(client_for(admin), people).status_code == 201


def test_only_the_provider_side_may_mount(people: Resource, consumer: User, city: testing.Node,
                                          data_office: User) -> None:
    # The resource is listed, so everyone signed in sees it: not allowed is 403, not 404.
    assert _mount(client_for(consumer), people).status_code == 403
    other_provider = testing.user(Role.PROVIDER, dept=testing.department(city))
    assert _mount(client_for(other_provider), people).status_code == 403
    assert _mount(client_for(data_office), people).status_code == 403
    assert not Dataset.objects.exists()
    assert _mount(Client(), people).status_code == 401


def test_drafts_cannot_be_mounted_and_are_invisible_to_others(pc: Client, provider_dept: testing.Department,
                                                              city: testing.Node) -> None:
    draft = testing.resource(provider_dept, name="草稿资源")
    r = _mount(pc, draft)
    assert r.status_code == 409 and "已发布" in r.json()["error"]["message"]
    other_provider = testing.user(Role.PROVIDER, dept=testing.department(city))
    assert _mount(client_for(other_provider), draft).status_code == 404
    assert pc.post(f"/api/v1/datasets/mount/{uuid.uuid4()}").status_code == 404


def test_mounting_needs_a_key_item(pc: Client, provider_dept: testing.Department, data_office: User) -> None:
    keyless = testing.resource(provider_dept, name="无主键资源", publish_by=data_office, items=[
        ItemSpec(name="姓名", element_code="DE0002", required=True),
        ItemSpec(name="出生日期", element_code="DE0004"),
    ])
    r = _mount(pc, keyless)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "items" and "主键" in r.json()["error"]["message"]


def test_dataset_detail_and_list_follow_resource_visibility(pc: Client, dataset: Dataset, consumer: User,
                                                            city: testing.Node, data_office: User,
                                                            provider: User) -> None:
    assert post_file(pc, dataset, "p.csv", csv_bytes([person(1)])).status_code == 201
    cc = client_for(consumer)
    r = cc.get(f"/api/v1/datasets/{dataset.pk}")
    assert r.status_code == 200 and r.json()["mounted"] is True and r.json()["row_count"] == 1
    listed = cc.get("/api/v1/datasets", {"resource_id": str(dataset.resource_id)}).json()
    assert [d["id"] for d in listed["items"]] == [str(dataset.pk)]
    assert cc.get(f"/api/v1/datasets/{uuid.uuid4()}").status_code == 404
    # Withdrawn: no longer listed, so outside the scope of other departments (404, like a missing one).
    resource = dataset.resource
    apply_action(actor=provider, resource=resource, action="request_withdrawal", reason="数据源停用")
    apply_action(actor=data_office, resource=resource, action="approve_withdrawal")
    assert cc.get(f"/api/v1/datasets/{dataset.pk}").status_code == 404
    other_provider = testing.user(Role.PROVIDER, dept=testing.department(city))
    r = post_file(client_for(other_provider), dataset, "p.csv", csv_bytes([person(2)]))
    assert r.status_code == 404
    assert pc.get(f"/api/v1/datasets/{dataset.pk}").status_code == 200  # the provider still sees its own
