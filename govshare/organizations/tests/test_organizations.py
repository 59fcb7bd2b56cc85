from __future__ import annotations

import pytest

from govshare import testing
from govshare.conftest import client_for
from govshare.core.errors import ValidationFailed
from govshare.organizations.models import Department, Region
from govshare.organizations.services import REGIONS_FILE, create_department, create_node, load_regions

pytestmark = pytest.mark.django_db


def test_region_table_loads_with_source_and_retired_codes() -> None:
    import json

    doc = json.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    assert any("国家统计局" in s for s in doc["source"])
    added = load_regions(actor=None)
    assert added == len(doc["regions"]) > 3000
    assert Region.objects.get(code="445100").name == "潮州市"
    assert Region.objects.get(code="445103").current is True
    assert Region.objects.get(code="130521").current is False  # 邢台县, retired in 2020 (2019 list only)
    assert load_regions(actor=None) == 0  # idempotent


def test_node_region_is_optional_and_checked() -> None:
    load_regions(actor=None)
    city = create_node(actor=None, code="445100", name="潮州市", level="city", region_code="445100")
    zone = create_node(actor=None, code="445100-FX", name="枫溪区", level="county", parent=city)
    assert zone.region is None and zone.parent == city
    with pytest.raises(ValidationFailed) as exc:
        create_node(actor=None, code="X1", name="x", level="county", region_code="999999")
    assert exc.value.field == "region_code"


def test_department_uscc_is_validated(city) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create_department(actor=None, node=city, name="坏局", uscc="91445100MA4UQ9XX1X")
    assert exc.value.field == "uscc"
    assert not Department.objects.filter(name="坏局").exists()


def test_department_list_api(consumer, city) -> None:
    testing.department(city, name="市民政局")
    resp = client_for(consumer).get("/api/v1/org/departments?limit=1")
    body = resp.json()
    assert resp.status_code == 200 and len(body["items"]) == 1 and body["next_cursor"]
    page2 = client_for(consumer).get(f"/api/v1/org/departments?limit=50&cursor={body['next_cursor']}").json()
    names = {d["name"] for d in body["items"]} | {d["name"] for d in page2["items"]}
    assert {"市民政局", "市人社局"} <= names
    # A tampered cursor is refused, naming the field.
    bad = client_for(consumer).get(f"/api/v1/org/departments?cursor={body['next_cursor'][:-2]}xx")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "cursor"
