"""A small city with four population sources (公安 户籍, 民政 婚姻, 人社 社保, 卫健 出生死亡) and helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.baselibs.models import BaseLibrary
from govshare.baselibs.services import install_library
from govshare.catalog.services import ItemSpec
from govshare.core.identifiers import make_resident_id
from govshare.datasets.changes import apply_batch
from govshare.datasets.models import Dataset
from govshare.datasets.services import load_rows, mount_resource
from govshare.organizations.models import Department, Node


def it(name: str, code: str, column: str | None = None, key: bool = False) -> ItemSpec:
    return ItemSpec(name=name, element_code=code, column_name=column, is_key=key)


ID = it("公民身份号码", "DE0001", key=True)
SOURCES: dict[str, tuple[str, str, list[ItemSpec]]] = {
    # slot: (department, resource name, items)
    "gaj": ("市公安局", "户籍人口信息", [
        ID, it("姓名", "DE0002"), it("性别", "DE0003"), it("出生日期", "DE0004"), it("民族", "DE0005"),
        it("户籍地址", "DE0006"), it("现住址", "DE0007"), it("死亡标识", "DE0012"), it("联系电话", "DE0043")]),
    "mzj": ("市民政局", "婚姻登记信息", [ID, it("姓名", "DE0002"), it("婚姻状况", "DE0009"), it("现住址", "DE0007")]),
    "rsj": ("市人力资源和社会保障局", "社会保险参保信息", [
        ID, it("姓名", "DE0002"), it("性别", "DE0003"), it("出生日期", "DE0004"), it("联系电话", "DE0043"),
        it("参保状态", "DE0010")]),
    "wjw": ("市卫生健康委员会", "出生和死亡医学证明信息", [
        ID, it("姓名", "DE0002"), it("出生日期", "DE0004"), it("死亡标识", "DE0012")]),
}


def person(n: int) -> dict[str, str]:
    birth = dt.date(1970 + n % 30, 1 + n % 12, 1 + n % 28)
    return {"id_number": make_resident_id("445102", birth, 2 * n + 1), "person_name": f"陈{n}号",
            "gender": "男", "birth_date": birth.isoformat(), "ethnicity": "汉族",
            "household_address": f"广东省潮州市湘桥区西马路{n}号", "current_address": f"广东省潮州市湘桥区西马路{n}号",
            "deceased": "false", "phone": f"1380013{n:04d}", "marital_status": "已婚", "insurance_status": "参保"}


def rows_for(slot: str, people: Iterable[dict[str, str]]) -> list[dict[str, Any]]:
    cols = [i.column_name or testing.element(i.element_code).column_name for i in SOURCES[slot][2]]
    return [{c: p.get(c) for c in cols} for p in people]


@dataclass
class City:
    node: Node
    office: User
    office_dept: Department
    depts: dict[str, Department] = field(default_factory=dict)
    staff: dict[str, User] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    people: list[dict[str, str]] = field(default_factory=list)
    batches: int = 0

    def load(self, slot: str, people: Iterable[dict[str, str]]) -> None:
        up = load_rows(actor=self.staff[slot], dataset=self.datasets[slot], rows=rows_for(slot, people))
        assert up.status == "applied", up.problems

    def batch(self, slot: str, upserts: Iterable[dict[str, str]] = (), deletes: Iterable[str] = ()) -> Any:
        self.batches += 1
        ds = self.datasets[slot]
        return apply_batch(actor=self.staff[slot], dataset=ds, batch_id=f"t{self.batches}",
                           upserts=rows_for(slot, upserts), deletes=list(deletes))

    def population_sources(self) -> dict[str, Any]:
        d = self.datasets

        def src(field: str, auth: str, *cross: str, column: str | None = None) -> dict[str, Any]:
            col = column or field
            return {"authoritative": (d[auth], col), "cross_checks": [(d[c], col) for c in cross]}

        return {
            "id_number": src("id_number", "gaj"),
            "person_name": src("person_name", "gaj", "rsj", "mzj"),
            "gender": src("gender", "gaj", "rsj"),
            "birth_date": src("birth_date", "gaj", "rsj", "wjw"),
            "ethnicity": src("ethnicity", "gaj"),
            "household_address": src("household_address", "gaj"),
            "current_address": src("current_address", "gaj", "mzj"),
            "phone": src("phone", "rsj", "gaj"),
            "marital_status": src("marital_status", "mzj"),
            "insurance_status": src("insurance_status", "rsj"),
            "deceased": src("deceased", "gaj", "wjw"),
        }

    def install(self, **kw: Any) -> BaseLibrary:
        return install_library(actor=kw.pop("actor", self.office), node=self.node, code=kw.pop("code", "population"),
                               sources=kw.pop("sources", None) or self.population_sources(),
                               provider_department=kw.pop("provider_department", self.office_dept))


def build_city(people: int = 8) -> City:
    testing.seed()
    node = testing.node("445100", name="潮州市", level="city")
    office_dept = testing.department(node, name="市政务服务数据管理局", is_data_office=True)
    office = testing.user(Role.DATA_OFFICE, at=node, dept=office_dept)
    city = City(node=node, office=office, office_dept=office_dept)
    city.people = [person(n) for n in range(1, people + 1)]
    for slot, (dept_name, res_name, items) in SOURCES.items():
        dept = testing.department(node, name=dept_name)
        city.depts[slot] = dept
        city.staff[slot] = testing.user(Role.PROVIDER, dept=dept)
        r = testing.resource(dept, name=res_name, items=items, publish_by=office)
        city.datasets[slot] = mount_resource(actor=city.staff[slot], resource=r)
    city.load("gaj", city.people)
    city.load("mzj", city.people)
    city.load("rsj", city.people)
    city.load("wjw", city.people[:2])  # the health commission only knows a few of them
    return city


@pytest.fixture
def town(db: None) -> City:
    return build_city()
