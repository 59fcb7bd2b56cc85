"""The change log: full replaces produce the difference, incremental batches are idempotent by id, every change
gets a sequence number, readers see committed changes only, and freshness follows the 更新周期."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.conftest import client_for
from govshare.datasets import changes, services
from govshare.datasets.models import ChangeBatch, Dataset, DatasetChange, DatasetRecord, DatasetUpload
from govshare.datasets.tests.conftest import HEADER_EN, csv_bytes, person, post_file, rid

pytestmark = pytest.mark.django_db


def row(n: int, **over: Any) -> dict[str, Any]:
    return dict(zip(HEADER_EN, person(n, **over), strict=True))


def live(dataset: Dataset) -> dict[str, dict[str, Any]]:
    dataset.refresh_from_db()
    return dict(DatasetRecord.objects.filter(dataset=dataset, generation=dataset.generation)
                .values_list("key", "data"))


def log(dataset: Dataset) -> list[tuple[int, str, str]]:
    return [(c.seq, c.op, c.key) for c in changes.changes_since(dataset=dataset, after=0, limit=10_000)]


def test_first_load_numbers_every_row_as_an_insert(dataset: Dataset, pc: Client) -> None:
    r = post_file(pc, dataset, "p.csv", csv_bytes([person(n) for n in range(5)]))
    assert r.status_code == 201, r.content
    entries = log(dataset)
    assert [seq for seq, _, _ in entries] == [1, 2, 3, 4, 5]
    assert {op for _, op, _ in entries} == {"upsert"}
    first = changes.changes_since(dataset=dataset, after=0, limit=1)[0]
    assert first.old is None and first.data is not None and first.batch_id.startswith("upload:")
    dataset.refresh_from_db()
    assert dataset.last_seq == 5 and dataset.last_received_at is not None


def test_full_replace_writes_only_the_difference(dataset: Dataset, provider: User) -> None:
    changes.replace_rows(actor=provider, dataset=dataset, rows=[row(n) for n in range(6)], batch_id="day-1")
    result = changes.replace_rows(
        actor=provider, dataset=dataset, batch_id="day-2",
        rows=[row(0), row(1, person_name="改名"), row(2), row(3), row(7)])  # 4, 5 gone; 7 new; 1 changed
    assert (result.inserted, result.updated, result.deleted, result.unchanged) == (1, 1, 2, 3)
    assert (result.first_seq, result.last_seq) == (7, 10)
    tail = changes.changes_since(dataset=dataset, after=6, limit=100)
    by_key = {c.key: c for c in tail}
    assert by_key[rid(1)].op == "upsert" and by_key[rid(1)].old["person_name"] == "测试1"
    assert by_key[rid(1)].data["person_name"] == "改名"
    assert by_key[rid(7)].old is None
    assert by_key[rid(4)].op == "delete" and by_key[rid(4)].data is None and by_key[rid(4)].old is not None
    assert set(live(dataset)) == {rid(n) for n in (0, 1, 2, 3, 7)}


def test_replayed_replace_changes_nothing(dataset: Dataset, provider: User) -> None:
    first = changes.replace_rows(actor=provider, dataset=dataset, rows=[row(1), row(2)], batch_id="r-1")
    again = changes.replace_rows(actor=provider, dataset=dataset, rows=[row(3)], batch_id="r-1")
    assert again.replayed and again.last_seq == first.last_seq
    assert set(live(dataset)) == {rid(1), rid(2)}
    assert DatasetUpload.objects.filter(dataset=dataset).count() == 1


def test_incremental_batch_through_the_api(dataset: Dataset, pc: Client, provider: User) -> None:
    changes.replace_rows(actor=provider, dataset=dataset, rows=[row(1), row(2)])
    body = {"batch_id": "b-1", "upserts": [row(2, mobile="13900000000"), row(3), row(1)], "deletes": []}
    r = pc.post(f"/api/v1/datasets/{dataset.pk}/batches", body, content_type="application/json")
    assert r.status_code == 201, r.content
    out = r.json()
    assert (out["inserted"], out["updated"], out["unchanged"], out["replayed"]) == (1, 1, 1, False)
    assert (out["first_seq"], out["last_seq"]) == (3, 4)
    # The same batch again (a retry after a timeout): nothing changes, the first answer comes back.
    again = pc.post(f"/api/v1/datasets/{dataset.pk}/batches", body, content_type="application/json")
    assert again.status_code == 200 and again.json()["replayed"] and again.json()["last_seq"] == 4
    r = pc.post(f"/api/v1/datasets/{dataset.pk}/batches",
                {"batch_id": "b-2", "deletes": [rid(1), rid(99)]}, content_type="application/json")
    assert r.status_code == 201 and (r.json()["deleted"], r.json()["unchanged"]) == (1, 1)
    assert set(live(dataset)) == {rid(2), rid(3)}
    dataset.refresh_from_db()
    assert dataset.row_count == 2 and dataset.last_seq == 5
    listed = pc.get(f"/api/v1/datasets/{dataset.pk}/changes?after=2&limit=2").json()
    assert [c["seq"] for c in listed["items"]] == [3, 4] and listed["next_after"] == 4
    assert listed["latest_seq"] == 5
    assert {c["batch_id"] for c in listed["items"]} == {"b-1"}
    assert AuditEvent.objects.filter(action="dataset.batch_applied", target_id=str(dataset.pk)).count() == 2
    batches = pc.get(f"/api/v1/datasets/{dataset.pk}/batches").json()["items"]
    assert [b["batch_id"] for b in batches][:2] == ["b-2", "b-1"]


def test_bad_batch_names_the_row_and_writes_nothing(dataset: Dataset, pc: Client, provider: User) -> None:
    changes.replace_rows(actor=provider, dataset=dataset, rows=[row(1)])
    bad = row(2)
    bad["id_number"] = bad["id_number"][:-1] + ("0" if bad["id_number"][-1] != "0" else "1")
    r = pc.post(f"/api/v1/datasets/{dataset.pk}/batches",
                {"batch_id": "bad", "upserts": [row(3), bad]}, content_type="application/json")
    assert r.status_code == 422, r.content
    err = r.json()["error"]
    assert err["details"]["field"] == "upserts"
    assert err["details"]["problems"][0]["row"] == 2 and err["details"]["problems"][0]["field"] == "id_number"
    assert set(live(dataset)) == {rid(1)}
    assert not ChangeBatch.objects.filter(dataset=dataset, batch_id="bad").exists()
    dup = pc.post(f"/api/v1/datasets/{dataset.pk}/batches",
                  {"batch_id": "dup", "upserts": [row(3), row(3)]}, content_type="application/json")
    assert dup.status_code == 422 and "duplicate" in dup.json()["error"]["details"]["problems"][0]["reason"]
    both = pc.post(f"/api/v1/datasets/{dataset.pk}/batches",
                   {"batch_id": "both", "upserts": [row(3)], "deletes": [rid(3)]}, content_type="application/json")
    assert both.status_code == 422 and both.json()["error"]["details"]["field"] == "deletes"


def test_batch_is_refused_while_a_full_load_stages(dataset: Dataset, provider: User) -> None:
    DatasetUpload.objects.create(node_id=dataset.node_id, dataset=dataset, generation=5, status="staging")
    from govshare.core.errors import Conflict

    with pytest.raises(Conflict):
        changes.apply_batch(actor=provider, dataset=dataset, batch_id="x", upserts=[row(1)])
    assert not DatasetChange.objects.filter(dataset=dataset).exists()


def test_uncommitted_changes_of_a_dead_load_are_invisible_and_cleared(dataset: Dataset, provider: User) -> None:
    changes.replace_rows(actor=provider, dataset=dataset, rows=[row(1)])
    # A replace that died after writing its difference but before switching (kill -9).
    DatasetChange.objects.create(dataset=dataset, seq=2, key=rid(9), op="upsert", data=row(9), old=None)
    assert [seq for seq, _, _ in log(dataset)] == [1]
    result = changes.apply_batch(actor=provider, dataset=dataset, batch_id="next", upserts=[row(2)])
    assert (result.first_seq, result.last_seq) == (2, 2)
    assert [(seq, key) for seq, _, key in log(dataset)] == [(1, rid(1)), (2, rid(2))]


def test_other_departments_cannot_write_or_read_the_log(dataset: Dataset, consumer: User, provider: User) -> None:
    changes.replace_rows(actor=provider, dataset=dataset, rows=[row(1)])
    c = client_for(consumer)
    r = c.post(f"/api/v1/datasets/{dataset.pk}/batches", {"batch_id": "x", "upserts": [row(2)]},
               content_type="application/json")
    assert r.status_code == 403
    assert c.get(f"/api/v1/datasets/{dataset.pk}/changes").status_code == 403
    assert set(live(dataset)) == {rid(1)}


def test_freshness_marks_late_resources_per_department(dataset: Dataset, people: Resource, provider: User,
                                                       data_office: User) -> None:
    Resource.objects.filter(pk=people.pk).update(update_cycle="daily")
    changes.replace_rows(actor=provider, dataset=dataset, rows=[row(1)])
    fresh = client_for(data_office).get("/api/v1/datasets/freshness").json()
    assert fresh["items"][0]["late"] is False and fresh["departments"][0]["late"] == 0
    Dataset.objects.filter(pk=dataset.pk).update(last_received_at=timezone.now() - dt.timedelta(days=2))
    late = client_for(data_office).get("/api/v1/datasets/freshness").json()
    assert late["items"][0]["late"] is True and late["items"][0]["late_by_seconds"] >= 86400
    assert late["departments"][0] == {"department_id": str(people.provider_id),
                                      "department_name": people.provider.name, "scheduled": 1, "late": 1}
    csv_text = client_for(provider).get("/api/v1/datasets/freshness?format=csv").content.decode("utf-8-sig")
    assert "是否逾期" in csv_text and "是" in csv_text.splitlines()[1]


def test_services_upload_keeps_the_generation_swap(dataset: Dataset, provider: User) -> None:
    up = services.load_rows(actor=provider, dataset=dataset, rows=[row(1), row(2)])
    assert up.status == "applied"
    up2 = services.load_rows(actor=provider, dataset=dataset, rows=[row(2)])
    assert up2.generation == up.generation + 1
    assert [op for _, op, _ in log(dataset)] == ["upsert", "upsert", "delete"]
    assert not DatasetRecord.objects.filter(dataset=dataset, generation=up.generation).exists()
