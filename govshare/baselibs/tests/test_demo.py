"""The demo helper: five libraries, each from three or more departments, with a sprinkling of discrepancies."""

from __future__ import annotations

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.baselibs.choices import DiscrepancyStatus, SourceRole
from govshare.baselibs.demo import build_demo_baselibs
from govshare.baselibs.models import BaseLibrary, Discrepancy, LibrarySource
from govshare.demo.companies import company_rows
from govshare.demo.people import people_rows

pytestmark = pytest.mark.django_db

DEPARTMENTS = {"gaj": "潮州市公安局", "mzj": "潮州市民政局", "rsj": "潮州市人力资源和社会保障局",
               "wjj": "潮州市卫生健康局", "scjg": "潮州市市场监督管理局", "swj": "国家税务总局潮州市税务局",
               "zrzyj": "潮州市自然资源局", "zjj": "潮州市住房和城乡建设局", "fgj": "潮州市发展和改革局"}


def test_build_demo_baselibs(seeded: None) -> None:
    city = testing.node("445100", name="潮州市", level="city")
    office_dept = testing.department(city, name="潮州市政务服务和数据管理局", is_data_office=True)
    office = testing.user(Role.DATA_OFFICE, at=city, dept=office_dept)
    departments = {slug: testing.department(city, name=name) for slug, name in DEPARTMENTS.items()}
    people, companies = list(people_rows(600)), list(company_rows(300))
    out = build_demo_baselibs(node=city, departments=departments, people=people, companies=companies,
                              actor="demo", data_office=office, houses=150, places=200)
    libs = out["libraries"]
    assert set(libs) == {"population", "legal_person", "housing", "social_credit", "geo_address"}
    assert libs["population"]["records"] == 600 and libs["legal_person"]["records"] == 300
    assert libs["housing"]["records"] == 150 and libs["geo_address"]["records"] == 200
    assert all(lib["rejected"] == 0 for lib in libs.values())
    for lib in BaseLibrary.objects.all():
        depts = set(LibrarySource.objects.filter(library=lib).values_list("dataset__resource__provider", flat=True))
        assert len(depts) >= 3, lib.code
        assert LibrarySource.objects.filter(library=lib, role=SourceRole.CROSS_CHECK).exists()
    # A realistic sprinkling: some discrepancies, far fewer than the records.
    population = BaseLibrary.objects.get(code="population")
    open_pop = Discrepancy.objects.filter(library=population, status=DiscrepancyStatus.OPEN).count()
    assert 0 < open_pop <= 0.06 * 600 * 3
    assert open_pop == libs["population"]["discrepancies"]
    assert sum(out["planted"].values()) > 0
    # The full-width digits of some 网签 addresses are not disagreements.
    housing = BaseLibrary.objects.get(code="housing")
    planted_area = out["planted"].get("housing.floor_area", 0)
    assert Discrepancy.objects.filter(library=housing, field="floor_area").count() == planted_area
    assert not Discrepancy.objects.filter(library=housing, field="property_location").exists()
