from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.conftest import client_for
from govshare.datasets import services
from govshare.datasets.models import Dataset, DatasetRecord
from govshare.datasets.tests.conftest import bad_checksum, csv_bytes, people_items, person, rid

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_catalog(city: testing.Node, provider_dept: testing.Department, data_office: User) -> dict[str, object]:
    """公安局: 3 listed resources, 2 with data, 1 mounted but empty, 1 draft; 民政局 (named like a
    formula): 1 listed, nothing mounted."""
    listed = [testing.resource(provider_dept, name=f"公安资源{i}", publish_by=data_office, items=people_items())
              for i in range(3)]
    testing.resource(provider_dept, name="公安草稿")
    for r in listed[:2]:
        ds = services.mount_resource(actor=None, resource=r)
        services.load_rows(actor=None, dataset=ds, rows=[{"id_number": rid(1), "person_name": "甲"}])
    services.mount_resource(actor=None, resource=listed[2])
    other = testing.department(city, name="=HYPERLINK(\"http://x\")民政局")
    testing.resource(other, name="民政资源", publish_by=data_office, items=people_items())
    return {"other": other}


def test_mounted_ratio_per_department(city_catalog: dict[str, object], data_office: User,
                                      provider: User) -> None:
    body = client_for(data_office).get("/api/v1/datasets/mounted-ratio").json()
    by_name = {r["department_name"]: r for r in body["items"]}
    assert by_name["市公安局"]["listed"] == 3 and by_name["市公安局"]["mounted"] == 2
    assert by_name["市公安局"]["mounted_ratio"] == 66.7
    other = by_name['=HYPERLINK("http://x")民政局']
    assert (other["listed"], other["mounted"], other["mounted_ratio"]) == (1, 0, 0.0)
    assert body["total"]["listed"] == 4 and body["total"]["mounted"] == 2 and body["total"]["mounted_ratio"] == 50.0
    # A provider sees its own department only.
    own = client_for(provider).get("/api/v1/datasets/mounted-ratio").json()
    assert [r["department_name"] for r in own["items"]] == ["市公安局"]


def test_mounted_ratio_csv_neutralises_formulas(city_catalog: dict[str, object], data_office: User) -> None:
    r = client_for(data_office).get("/api/v1/datasets/mounted-ratio", {"format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["部门", "统一社会信用代码", "已发布资源数", "已挂接资源数", "挂接率(%)"]
    names = [row[0] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://x\")民政局" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    assert rows[-1][0] == "合计" and rows[-1][2:] == ["4", "2", "50.0"]
    bad = client_for(data_office).get("/api/v1/datasets/mounted-ratio", {"format": "xml"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "format"


def test_load_rows_shares_validation_and_staging(dataset: Dataset) -> None:
    up = services.load_rows(actor=None, dataset=dataset, rows=[
        {"id_number": rid(1), "person_name": "甲", "出生日期": "19900101"},
        {"id_number": bad_checksum(rid(2)), "person_name": "乙"},
    ])
    assert up.status == "rejected" and up.problems[0]["row"] == 2 and up.problems[0]["field"] == "id_number"
    assert not DatasetRecord.objects.filter(dataset=dataset).exists()
    up = services.load_rows(actor=None, dataset=dataset, rows=({"id_number": rid(i), "person_name": f"人{i}"}
                                                               for i in range(12000)))
    dataset.refresh_from_db()
    assert up.status == "applied" and dataset.row_count == 12000 and dataset.generation == up.generation
    assert DatasetRecord.objects.filter(dataset=dataset, generation=dataset.generation).count() == 12000


def test_services_refuse_the_wrong_actor(dataset: Dataset, consumer: User) -> None:
    from govshare.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.load_rows(actor=consumer, dataset=dataset, rows=[])


# ---------------------------------------------------------------------------------------------
# govshare dataset load
# ---------------------------------------------------------------------------------------------


def test_command_mounts_and_loads(people: Resource, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "人口.csv"
    path.write_bytes(csv_bytes([person(i) for i in range(3)], encoding="gbk"))
    call_command("dataset", "load", people.code, str(path))
    out = capsys.readouterr().out
    assert "已挂接" in out and "gb18030" in out and "已生效" in out
    ds = Dataset.objects.get(resource=people)
    assert ds.row_count == 3 and ds.generation == 1
    ev = AuditEvent.objects.get(action="dataset.upload_applied")
    assert ev.actor_type == "system" and ev.actor_label == "cli:dataset"


def test_command_rejection_exits_1(dataset: Dataset, people: Resource, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([person(1), person(2, birth_date="1990-13-01")]))
    with pytest.raises(CommandError) as exc:
        call_command("dataset", "load", people.code, str(path))
    assert exc.value.returncode == 1
    err = capsys.readouterr().err
    assert "第 3 行" in err and "出生日期" in err
    assert not DatasetRecord.objects.filter(dataset=dataset).exists()


def test_command_acts_as_a_user(dataset: Dataset, people: Resource, tmp_path: Path, provider: User,
                                consumer: User) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([person(1)]))
    with pytest.raises(CommandError) as exc:
        call_command("dataset", "load", people.code, str(path), "--as", consumer.username)
    assert exc.value.returncode == 1 and "提供部门" in str(exc.value)
    call_command("dataset", "load", people.code, str(path), "--as", provider.username)
    assert AuditEvent.objects.get(action="dataset.upload_applied").actor_id == str(provider.pk)
    with pytest.raises(CommandError, match="资源代码不存在"):
        call_command("dataset", "load", "NO-SUCH-CODE", str(path))
    with pytest.raises(CommandError, match="文件不存在"):
        call_command("dataset", "load", people.code, str(tmp_path / "missing.csv"))


def test_window_clerk_and_anonymous_cannot_reach_uploads(dataset: Dataset, city: testing.Node) -> None:
    clerk = testing.user(Role.WINDOW_CLERK, at=city)
    r = client_for(clerk).post(f"/api/v1/datasets/{dataset.pk}/uploads", {"file": io.BytesIO(b"x")})
    assert r.status_code == 403
    assert Client().get(f"/api/v1/datasets/{dataset.pk}").status_code == 401
