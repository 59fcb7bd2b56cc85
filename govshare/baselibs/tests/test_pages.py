"""Portal pages of the base libraries through django.test.Client: the list, one library (fields with their
authoritative and cross-check sources, last run), fusion runs and masked discrepancies with their exports,
scoped exactly like the API."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.baselibs.models import BaseLibrary
from govshare.baselibs.services import fuse
from govshare.baselibs.tests.conftest import City
from govshare.conftest import client_for
from govshare.core.masking import mask

pytestmark = pytest.mark.django_db


@pytest.fixture
def fused(town: City) -> tuple[City, BaseLibrary]:
    ppl = town.people
    town.batch("rsj", [{**ppl[2], "person_name": "陈三"}, {**ppl[1], "phone": "13900000000"}])
    lib = town.install()
    fuse(actor=town.office, library=lib)
    return town, lib


def test_list_and_detail(fused: tuple[City, BaseLibrary], django_assert_max_num_queries: Any) -> None:
    town, lib = fused
    consumer = testing.user(Role.CONSUMER, dept=testing.department(town.node))
    c = client_for(consumer)
    with django_assert_max_num_queries(8):
        html = c.get("/baselibs/").content.decode()
    assert "<title>基础库" in html and "人口基础库" in html and f'href="/baselibs/{lib.pk}/"' in html
    assert "已完成" in html and 'href="/baselibs/"' in html  # last run, and the menu entry

    with django_assert_max_num_queries(12):
        detail = c.get(f"/baselibs/{lib.pk}/").content.decode()
    fields = detail.split('id="fields"')[1]
    assert "公民身份号码（主键）" in fields and "市公安局 · 户籍人口信息.person_name" in fields
    assert "市人力资源和社会保障局 · 社会保险参保信息.person_name" in fields
    assert "新增差异 2" in detail
    # a consumer may neither see the runs nor the discrepancies
    assert f"/baselibs/{lib.pk}/runs/" not in detail and f"/baselibs/{lib.pk}/discrepancies/" not in detail
    assert c.get(f"/baselibs/{lib.pk}/runs/").status_code == 403
    assert c.get(f"/baselibs/{lib.pk}/discrepancies/").status_code == 403

    rows = list(csv.reader(io.StringIO(c.get("/baselibs/?format=csv").content.decode("utf-8-sig"))))
    assert rows[0][0] == "基础库" and rows[1][1] == "population"
    assert Client().get("/baselibs/").status_code == 302


def test_an_unknown_library_is_404(fused: tuple[City, BaseLibrary]) -> None:
    town, _lib = fused
    c = client_for(town.office)
    missing = uuid.uuid4()
    for path in (f"/baselibs/{missing}/", f"/baselibs/{missing}/runs/", f"/baselibs/{missing}/discrepancies/"):
        assert c.get(path).status_code == 404


def test_runs_and_discrepancies_for_the_data_office(fused: tuple[City, BaseLibrary],
                                                    django_assert_max_num_queries: Any) -> None:
    town, lib = fused
    c = client_for(town.office)
    detail = c.get(f"/baselibs/{lib.pk}/").content.decode()
    assert f"/baselibs/{lib.pk}/runs/" in detail and f"/baselibs/{lib.pk}/discrepancies/" in detail
    runs = c.get(f"/baselibs/{lib.pk}/runs/").content.decode()
    assert "已完成" in runs and "<td>手动</td>" in runs

    with django_assert_max_num_queries(12):
        html = c.get(f"/baselibs/{lib.pk}/discrepancies/").content.decode()
    person = town.people[2]
    assert mask("name", person["person_name"]) in html and "陈*" in html
    assert person["person_name"] not in html and person["id_number"] not in html
    assert mask("id_number", person["id_number"]) in html and "139****0000" in html
    only_phone = c.get(f"/baselibs/{lib.pk}/discrepancies/?field=phone").content.decode()
    assert "139****0000" in only_phone and "陈*" not in only_phone
    bad = c.get(f"/baselibs/{lib.pk}/discrepancies/?status=nope").content.decode()
    assert "状态无效" in bad and "暂无数据" in bad

    rows = list(csv.reader(io.StringIO(c.get(f"/baselibs/{lib.pk}/discrepancies/?format=csv")
                                       .content.decode("utf-8-sig"))))
    assert rows[0][0] == "记录主键（脱敏）" and len(rows) == 3
    assert all(person["id_number"] not in ",".join(r) for r in rows)


def test_an_authoritative_department_sees_the_discrepancies_against_its_data(fused: tuple[City, BaseLibrary]) -> None:
    town, lib = fused
    police = client_for(town.staff["gaj"]).get(f"/baselibs/{lib.pk}/discrepancies/").content.decode()
    assert "陈*" in police and "139****0000" not in police
    assert client_for(town.staff["wjw"]).get(f"/baselibs/{lib.pk}/discrepancies/").status_code == 403
