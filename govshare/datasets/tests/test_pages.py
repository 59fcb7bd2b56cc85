"""The dataset portal pages (挂接与上传), through django.test.Client."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.conftest import client_for
from govshare.datasets.models import Dataset, DatasetRecord, DatasetUpload
from govshare.datasets.tests.conftest import bad_checksum, csv_bytes, person, rid

pytestmark = pytest.mark.django_db


def _file(content: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(content)
    f.name = name
    return f


def test_provider_mounts_from_the_list(people: Resource, pc: Client) -> None:
    page = pc.get("/datasets/").content.decode()
    assert "人口基本信息" in page and "未挂接" in page
    r = pc.post(f"/datasets/mount/{people.pk}/")
    dataset = Dataset.objects.get(resource=people)
    assert r.status_code == 302 and r["Location"] == f"/datasets/{dataset.pk}/upload/"
    assert "已挂接" in pc.get("/datasets/").content.decode()
    again = pc.post(f"/datasets/mount/{people.pk}/", follow=True)
    assert "已挂接" in again.content.decode() and Dataset.objects.filter(resource=people).count() == 1


def test_good_upload_shows_accepted_rows(dataset: Dataset, pc: Client) -> None:
    r = pc.post(f"/datasets/{dataset.pk}/upload/",
                {"file": _file(csv_bytes([person(1), person(2), person(3)]), "人口.csv")})
    up = DatasetUpload.objects.get(dataset=dataset)
    assert r.status_code == 302 and r["Location"] == f"/datasets/{dataset.pk}/uploads/{up.pk}/"
    page = pc.get(r["Location"]).content.decode()
    assert "已生效" in page and "<b>3</b>" in page and "全部通过校验" in page
    assert DatasetRecord.objects.filter(dataset=dataset).count() == 3


def test_bad_upload_shows_the_report_and_writes_nothing(dataset: Dataset, pc: Client) -> None:
    rows = [person(1), person(2, id_number=bad_checksum(rid(2))), person(3, birth_date="1990-02-30"), person(4)]
    r = pc.post(f"/datasets/{dataset.pk}/upload/", {"file": _file(csv_bytes(rows), "人口.csv")}, follow=True)
    page = r.content.decode()
    assert "校验未通过" in page and "未写入任何数据" in page
    assert "校验位" in page  # the problem's reason
    assert "<b>4</b>" in page and "<b>2</b>" in page  # 4 rows read, 2 accepted / 2 rejected
    assert bad_checksum(rid(2)) not in page  # the report never repeats the offending values
    assert DatasetRecord.objects.filter(dataset=dataset).count() == 0
    up = DatasetUpload.objects.get(dataset=dataset)
    report = pc.get(f"/datasets/{dataset.pk}/uploads/{up.pk}/", {"format": "csv"})
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[0] == ["行号", "列", "字段", "问题"] and {line[0] for line in lines[1:]} == {"3", "4"}
    # the upload page lists the history
    assert "人口.csv" in pc.get(f"/datasets/{dataset.pk}/upload/").content.decode()


def test_upload_of_unreadable_file_is_shown_beside_the_field(dataset: Dataset, pc: Client) -> None:
    r = pc.post(f"/datasets/{dataset.pk}/upload/", {"file": _file(b"MZ garbage", "x.exe")})
    if r.status_code == 302:  # refused as a rejected upload: the report names the problem
        page = pc.get(r["Location"]).content.decode()
        assert "校验未通过" in page
    else:
        assert r.status_code == 422 and 'class="errorlist"' in r.content.decode()
    assert DatasetRecord.objects.filter(dataset=dataset).count() == 0


def test_other_departments_get_404(dataset: Dataset, people: Resource, city: testing.Node,
                                   consumer: User) -> None:
    other = testing.user(Role.PROVIDER, dept=testing.department(city, name="市民政局"))
    oc = client_for(other)
    assert oc.get(f"/datasets/{dataset.pk}/upload/").status_code == 404
    assert oc.post(f"/datasets/{dataset.pk}/upload/", {"file": _file(b"a", "a.csv")}).status_code == 404
    assert oc.post(f"/datasets/mount/{people.pk}/", follow=True).status_code == 200
    assert client_for(consumer).get(f"/datasets/{dataset.pk}/upload/").status_code == 403
    assert "人口基本信息" not in oc.get("/datasets/").content.decode()


def test_list_query_count_bounded(provider_dept: testing.Department, provider: User, data_office: User,
                                  django_assert_max_num_queries: Any) -> None:
    from govshare.datasets import services

    for n in range(12):
        r = testing.resource(provider_dept, name=f"资源{n}", publish_by=data_office)
        if n % 2:
            services.mount_resource(actor=provider, resource=r)
    c = client_for(provider)
    c.get("/datasets/")
    with django_assert_max_num_queries(6):
        page = c.get("/datasets/").content.decode()
    assert page.count("已挂接") >= 6 and "资源11" in page
