"""Fixtures for dataset tests: a published 人口 resource with typed items, and file builders."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

import openpyxl
import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.catalog.services import ItemSpec
from govshare.core.identifiers import make_resident_id
from govshare.datasets import services
from govshare.datasets.models import Dataset

HEADER_ZH = ["公民身份号码", "姓名", "出生日期", "手机号码", "婚姻状况"]
HEADER_EN = ["id_number", "person_name", "birth_date", "mobile", "marital_status"]


def rid(n: int) -> str:
    """The n-th checksum-valid 身份证号 (潮州 445102; a new birth date every 1000)."""
    return make_resident_id("445102", dt.date(1990, 1, 1) + dt.timedelta(days=n // 1000), n % 1000)


def bad_checksum(value: str) -> str:
    last = "0" if value[-1] != "0" else "1"
    return value[:-1] + last


def person(n: int, **over: Any) -> list[Any]:
    row: list[Any] = [rid(n), f"测试{n}", "19900101", f"138{n:08d}", "已婚"]
    for k, v in over.items():
        row[HEADER_EN.index(k)] = v
    return row


def csv_bytes(rows: Sequence[Sequence[Any]], *, header: Sequence[str] = HEADER_ZH,
              encoding: str = "utf-8") -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[Any]], *, header: Sequence[str] = HEADER_ZH,
               merge: str | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    if merge:
        ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def json_bytes(objs: Any) -> bytes:
    return json.dumps(objs, ensure_ascii=False).encode()


def post_file(c: Client, dataset: Dataset, name: str, content: bytes) -> Any:
    f = io.BytesIO(content)
    f.name = name
    return c.post(f"/api/v1/datasets/{dataset.pk}/uploads", {"file": f})


def people_items() -> list[ItemSpec]:
    # Elements of the shipped dictionary: DE0001 公民身份号码 (resident_id, 18), DE0002 姓名 (50),
    # DE0004 出生日期 (date), DE0008 手机号码 (mobile), DE0009 婚姻状况 (enum 未婚/已婚/离婚/丧偶).
    return [
        ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
        ItemSpec(name="姓名", element_code="DE0002", required=True, length=10),
        ItemSpec(name="出生日期", element_code="DE0004"),
        ItemSpec(name="手机号码", element_code="DE0008"),
        ItemSpec(name="婚姻状况", element_code="DE0009"),
    ]


@pytest.fixture
def people(provider_dept: testing.Department, data_office: User) -> Resource:
    return testing.resource(provider_dept, name="人口基本信息", publish_by=data_office, items=people_items())


@pytest.fixture
def dataset(people: Resource, provider: User) -> Dataset:
    return services.mount_resource(actor=provider, resource=people)


@pytest.fixture
def pc(provider: User) -> Client:
    c = Client()
    c.force_login(provider)
    return c
