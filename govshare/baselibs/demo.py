"""The demo city's base libraries: source resources of a dozen departments, loaded from the demo people and
companies with a sprinkling of disagreements (:mod:`.demo_data`), and the 人口, 法人, 房屋, 社会信用 and
自然资源和空间地理 libraries installed on them and fused.

``build_demo_baselibs`` is called by the demo builder. ``departments`` maps the demo's department slugs
(``gaj`` 公安局, ``mzj`` 民政局, ``rsj`` 人社局, ``wjj`` 卫健局, ``scjg`` 市场监管局, ``swj`` 税务局, ``zrzyj``
自然资源局, ``zjj`` 住建局, ``fgj`` 发改局) to departments; a slug that is missing is looked up by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govshare.accounts.models import User
from govshare.baselibs.demo_data import Row, build_sources
from govshare.baselibs.models import BaseLibrary
from govshare.baselibs.services import fuse, install_library
from govshare.catalog.choices import ResourceFormat, ShareMode, ShareType, UpdateCycle
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, create_resource
from govshare.core.errors import ValidationFailed
from govshare.datasets.models import Dataset
from govshare.datasets.services import load_rows, mount_resource
from govshare.organizations.models import Department, Node

DEMO_ACTOR = "demo:baselibs"


def _it(name: str, code: str, column: str | None = None, *, key: bool = False) -> ItemSpec:
    return ItemSpec(name=name, element_code=code, column_name=column, is_key=key)


ID = _it("公民身份号码", "DE0001", key=True)
USCC = _it("统一社会信用代码", "DE0015", key=True)
UNIT = _it("不动产单元号", "DE0026", key=True)
ADDRESS = _it("地址编码", "DE0057", key=True)


@dataclass(frozen=True)
class SourceSpec:
    slot: str  # the rows' key in demo_data.Sources
    dept: str  # department slug
    fragment: str  # name fragment to find the department when the slug is not given
    name: str
    classification: str
    items: tuple[ItemSpec, ...]
    update_cycle: str = UpdateCycle.DAILY


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("gaj_people", "gaj", "公安", "户籍人口信息", "101002", (
        ID, _it("姓名", "DE0002"), _it("性别", "DE0003"), _it("出生日期", "DE0004"), _it("民族", "DE0005"),
        _it("户籍地址", "DE0006"), _it("现住址", "DE0007"), _it("死亡标识", "DE0012"), _it("联系电话", "DE0043"))),
    SourceSpec("mzj_marriage", "mzj", "民政", "婚姻登记信息", "101003", (
        ID, _it("姓名", "DE0002"), _it("婚姻状况", "DE0009"), _it("现住址", "DE0007"))),
    SourceSpec("rsj_insurance", "rsj", "人力资源", "社会保险参保人员信息", "101004", (
        ID, _it("姓名", "DE0002"), _it("性别", "DE0003"), _it("出生日期", "DE0004"), _it("联系电话", "DE0043"),
        _it("参保状态", "DE0010"))),
    SourceSpec("wjw_births_deaths", "wjj", "卫生健康", "出生医学证明和死亡医学证明信息", "101005", (
        ID, _it("姓名", "DE0002"), _it("出生日期", "DE0004"), _it("死亡标识", "DE0012"))),
    SourceSpec("scjg_companies", "scjg", "市场监督", "企业登记信息", "102002", (
        USCC, _it("企业名称", "DE0016"), _it("法定代表人", "DE0017"), _it("注册资本", "DE0018"),
        _it("成立日期", "DE0019"), _it("登记状态", "DE0020"), _it("住所", "DE0021"), _it("经营范围", "DE0022"))),
    SourceSpec("swj_taxpayers", "swj", "税务", "纳税人登记和纳税信用信息", "102005", (
        USCC, _it("纳税人名称", "DE0016"), _it("法定代表人", "DE0017"), _it("成立日期", "DE0019"),
        _it("登记状态", "DE0020"), _it("生产经营地址", "DE0021"), _it("纳税信用等级", "DE0023"))),
    SourceSpec("rsj_employers", "rsj", "人力资源", "社会保险参保单位信息", "102001", (
        USCC, _it("单位名称", "DE0016"))),
    SourceSpec("zrzy_properties", "zrzyj", "自然资源", "不动产登记信息（房屋）", "103003", (
        UNIT, _it("坐落", "DE0027"), _it("建筑面积", "DE0028"), _it("房屋用途", "DE0029"), _it("权利人", "DE0030"),
        _it("权利人证件号码", "DE0001", "holder_id_number"))),
    SourceSpec("zjj_contracts", "zjj", "住房和城乡建设", "商品房网签备案信息", "103003", (
        UNIT, _it("房屋坐落", "DE0027"), _it("建筑面积", "DE0028"), _it("房屋用途", "DE0029"),
        _it("买受人", "DE0030"))),
    SourceSpec("swj_deed_tax", "swj", "税务", "存量房交易计税信息", "103003", (
        UNIT, _it("计税面积", "DE0028"), _it("纳税人", "DE0030"), _it("纳税人证件号码", "DE0001", "holder_id_number"))),
    SourceSpec("scjg_penalties", "scjg", "市场监督", "行政处罚决定信息", "104002", (
        _it("行政处罚决定书文号", "DE0036", key=True), _it("当事人统一社会信用代码", "DE0015"),
        _it("处罚事由", "DE0037"), _it("处罚日期", "DE0038"))),
    SourceSpec("fgj_penalties", "fgj", "发展和改革", "双公示行政处罚信息归集", "104002", (
        _it("行政处罚决定书文号", "DE0036", key=True), _it("当事人统一社会信用代码", "DE0015"))),
    SourceSpec("scjg_permits", "scjg", "市场监督", "行政许可决定信息", "104001", (
        _it("行政许可决定书文号", "DE0056", key=True), _it("被许可人统一社会信用代码", "DE0015"),
        _it("许可证名称", "DE0032"))),
    SourceSpec("fgj_permits", "fgj", "发展和改革", "双公示行政许可信息归集", "104001", (
        _it("行政许可决定书文号", "DE0056", key=True), _it("被许可人统一社会信用代码", "DE0015"))),
    SourceSpec("fgj_lists", "fgj", "发展和改革", "守信激励和失信惩戒名单", "104003", (
        USCC, _it("名单类型", "DE0055"))),
    SourceSpec("zrzy_addresses", "zrzyj", "自然资源", "标准地址信息", "103001", (
        ADDRESS, _it("标准地址", "DE0049"), _it("行政区划代码", "DE0024"), _it("经度", "DE0058"),
        _it("纬度", "DE0059")), UpdateCycle.WEEKLY),
    SourceSpec("gaj_doorplates", "gaj", "公安", "门楼牌地址信息", "103001", (
        ADDRESS, _it("门楼牌地址", "DE0049"), _it("行政区划代码", "DE0024")), UpdateCycle.WEEKLY),
    SourceSpec("zjj_buildings", "zjj", "住房和城乡建设", "楼盘表地址信息", "103001", (
        ADDRESS, _it("楼栋地址", "DE0049"), _it("经度", "DE0058"), _it("纬度", "DE0059")), UpdateCycle.WEEKLY),
)


def _department(departments: Mapping[str, Department], slug: str, fragment: str) -> Department:
    if slug in departments:
        return departments[slug]
    for d in departments.values():
        if fragment in d.name:
            return d
    raise ValidationFailed(f"演示城市没有{fragment}部门 (no {slug} department in the demo city)", field="departments")


def _mount(spec: SourceSpec, dept: Department, office: User, rows: list[Row]) -> Dataset:
    fields = ResourceFields(name=spec.name, classification_code=spec.classification,
                            summary=f"{dept.name}的{spec.name}，是基础库的数据来源之一。",
                            share_type=ShareType.CONDITIONAL, share_modes=[ShareMode.API, ShareMode.TABLE],
                            formats=[ResourceFormat.DATABASE], update_cycle=spec.update_cycle, tags=["基础库来源"])
    r = create_resource(actor=None, provider=dept, fields=fields, items=list(spec.items))
    r = apply_action(actor=None, resource=r, action="submit")
    r = apply_action(actor=office, resource=r, action="publish")
    dataset = mount_resource(actor=DEMO_ACTOR, resource=r)
    up = load_rows(actor=DEMO_ACTOR, dataset=dataset, rows=rows, label=f"demo:{spec.slot}")
    if up.status != "applied":
        raise ValidationFailed(f"演示数据集“{spec.name}”载入失败 (demo source rejected): {up.problems[:3]}",
                               field=spec.slot)
    return dataset


def _src(ds: Mapping[str, Dataset], slot: str, column: str, match: str | None = None) -> tuple[Any, ...]:
    return (ds[slot], column, match) if match else (ds[slot], column)


def _field(ds: Mapping[str, Dataset], auth: tuple[Any, ...], *cross: tuple[Any, ...]) -> dict[str, Any]:
    return {"authoritative": _src(ds, *auth), "cross_checks": [_src(ds, *c) for c in cross]}


def library_sources(ds: Mapping[str, Dataset]) -> dict[str, dict[str, Any]]:
    """The bindings of every demo library: {library code: sources}."""
    f = _field
    return {
        "population": {
            "id_number": f(ds, ("gaj_people", "id_number")),
            "person_name": f(ds, ("gaj_people", "person_name"), ("rsj_insurance", "person_name"),
                             ("mzj_marriage", "person_name")),
            "gender": f(ds, ("gaj_people", "gender"), ("rsj_insurance", "gender")),
            "birth_date": f(ds, ("gaj_people", "birth_date"), ("rsj_insurance", "birth_date"),
                            ("wjw_births_deaths", "birth_date")),
            "ethnicity": f(ds, ("gaj_people", "ethnicity")),
            "household_address": f(ds, ("gaj_people", "household_address")),
            "current_address": f(ds, ("gaj_people", "current_address"), ("mzj_marriage", "current_address")),
            "phone": f(ds, ("rsj_insurance", "phone"), ("gaj_people", "phone")),
            "marital_status": f(ds, ("mzj_marriage", "marital_status")),
            "insurance_status": f(ds, ("rsj_insurance", "insurance_status")),
            "deceased": f(ds, ("gaj_people", "deceased"), ("wjw_births_deaths", "deceased")),
        },
        "legal_person": {
            "uscc": f(ds, ("scjg_companies", "uscc")),
            "org_name": f(ds, ("scjg_companies", "org_name"), ("swj_taxpayers", "org_name"),
                          ("rsj_employers", "org_name")),
            "legal_representative": f(ds, ("scjg_companies", "legal_representative"),
                                      ("swj_taxpayers", "legal_representative")),
            "registered_capital": f(ds, ("scjg_companies", "registered_capital")),
            "established_on": f(ds, ("scjg_companies", "established_on"), ("swj_taxpayers", "established_on")),
            "registration_status": f(ds, ("scjg_companies", "registration_status"),
                                     ("swj_taxpayers", "registration_status")),
            "org_address": f(ds, ("scjg_companies", "org_address"), ("swj_taxpayers", "org_address")),
            "business_scope": f(ds, ("scjg_companies", "business_scope")),
            "tax_credit_grade": f(ds, ("swj_taxpayers", "tax_credit_grade")),
        },
        "housing": {
            "property_unit": f(ds, ("zrzy_properties", "property_unit")),
            "property_location": f(ds, ("zrzy_properties", "property_location"),
                                   ("zjj_contracts", "property_location")),
            "floor_area": f(ds, ("zrzy_properties", "floor_area"), ("zjj_contracts", "floor_area"),
                            ("swj_deed_tax", "floor_area")),
            "property_use": f(ds, ("zrzy_properties", "property_use"), ("zjj_contracts", "property_use")),
            "right_holder": f(ds, ("zrzy_properties", "right_holder"), ("zjj_contracts", "right_holder"),
                              ("swj_deed_tax", "right_holder")),
            "holder_id_number": f(ds, ("zrzy_properties", "holder_id_number"), ("swj_deed_tax", "holder_id_number")),
        },
        "social_credit": {
            "uscc": f(ds, ("scjg_companies", "uscc")),
            "org_name": f(ds, ("scjg_companies", "org_name"), ("swj_taxpayers", "org_name")),
            "credit_list_type": f(ds, ("fgj_lists", "credit_list_type")),
            "permit_doc_no": f(ds, ("scjg_permits", "permit_doc_no", "uscc"), ("fgj_permits", "permit_doc_no", "uscc")),
            "penalty_doc_no": f(ds, ("scjg_penalties", "penalty_doc_no", "uscc"),
                                ("fgj_penalties", "penalty_doc_no", "uscc")),
            "tax_credit_grade": f(ds, ("swj_taxpayers", "tax_credit_grade")),
        },
        "geo_address": {
            "address_code": f(ds, ("zrzy_addresses", "address_code")),
            "address_name": f(ds, ("zrzy_addresses", "address_name"), ("gaj_doorplates", "address_name"),
                              ("zjj_buildings", "address_name")),
            "region_code": f(ds, ("zrzy_addresses", "region_code"), ("gaj_doorplates", "region_code")),
            "longitude": f(ds, ("zrzy_addresses", "longitude"), ("zjj_buildings", "longitude")),
            "latitude": f(ds, ("zrzy_addresses", "latitude"), ("zjj_buildings", "latitude")),
        },
    }


def build_demo_baselibs(*, node: Node, departments: Mapping[str, Department], people: Sequence[Row],
                        companies: Sequence[Row], actor: Any, data_office: User, houses: int = 3000,
                        places: int = 5000) -> dict[str, Any]:
    """Create, load and fuse the demo's base libraries; returns counts per library and source.

    ``people`` and ``companies`` are the demo rows (``Person.row()`` / ``Company.row()`` shapes); ``actor`` runs
    the fusion (the platform label of the demo builder, or None); ``data_office`` publishes and installs."""
    rows = build_sources(people, companies, houses=houses, places=places)
    datasets: dict[str, Dataset] = {}
    for spec in SOURCES:
        dept = _department(departments, spec.dept, spec.fragment)
        datasets[spec.slot] = _mount(spec, dept, data_office, rows.rows.get(spec.slot, []))
    office_dept = data_office.department
    if office_dept is None:
        raise ValidationFailed("数据主管部门账号须属于一个部门 (the data office user needs a department)",
                               field="data_office")
    result: dict[str, Any] = {"sources": {s: len(r) for s, r in rows.rows.items()}, "planted": rows.planted,
                              "libraries": {}}
    for code, sources in library_sources(datasets).items():
        library: BaseLibrary = install_library(actor=data_office, node=node, code=code, sources=sources,
                                               provider_department=office_dept)
        run = fuse(actor=actor if actor is None or isinstance(actor, str) else data_office, library=library)
        result["libraries"][code] = {"resource": library.resource.code, "records": run.upserts,
                                     "discrepancies": run.discrepancies_new, "disputes": run.disputes_raised,
                                     "rejected": run.rejected}
    return result
