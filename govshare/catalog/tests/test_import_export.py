"""Catalog import/export: the govshare workbook and CSV pair, real open-data catalogs, the CLI and the API.

No fixture files: workbooks and CSVs are built in memory. The two real catalogs are read from
``../shared/data/catalogs`` next to the repository (skipped when absent)."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import json
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog.choices import UpdateCycle
from govshare.catalog.exporter import export_catalog
from govshare.catalog.importer import ImportRejected, import_catalog, layout
from govshare.catalog.importer.departments import placeholder_uscc
from govshare.catalog.importer.mapping import map_open_type, normalise_formats, normalise_update_cycle
from govshare.catalog.models import DataItem, Resource
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, create_resource
from govshare.core.errors import PermissionDenied, ValidationFailed
from govshare.core.identifiers import is_valid_uscc
from govshare.organizations.models import Department

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "catalogs"  # ../shared from the repo

pytestmark = pytest.mark.django_db


# --- helpers ---

def _fold(text: object) -> str:
    """Independent re-implementation of the duplicate key: NFKC, no whitespace, case-folded."""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


def _row(**values: Any) -> dict[str, Any]:
    base = {"信息资源名称": "示例资源", "资源分类代码": "399001", "提供方": "市公安局", "共享类型": "有条件共享",
            "共享方式": "接口", "开放类型": "不予开放", "更新周期": "每月", "涉密属性": "非涉密"}
    return {**base, **values}


def _xlsx(resources: list[dict[str, Any]], items: list[dict[str, Any]] | None = None) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    sheets = [(layout.RESOURCE_SHEET, layout.RESOURCE_HEADERS, resources)]
    sheets += [(layout.ITEM_SHEET, layout.ITEM_HEADERS, items)] if items is not None else []
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title)
        ws.append(list(headers))
        for r in rows:
            ws.append([r.get(h, "") for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv(headers: list[str], rows: list[list[Any]], encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([headers, *rows])
    return buf.getvalue().encode(encoding)


def _sheet_rows(data: bytes, sheet: str) -> list[list[Any]]:
    wb = load_workbook(io.BytesIO(data))
    return [list(r) for r in wb[sheet].iter_rows(values_only=True)]


urlpatterns: list[Any] = []  # filled by ``api_urls`` when this module has to serve as the URLconf


@pytest.fixture
def api_urls(settings: Any) -> None:
    """Until ``api_io.router`` is mounted at /api/v1/catalog in ``govshare.api``, serve it from a test-only
    API with the same authentication and error envelope. Does nothing once the real mount exists."""
    from django.urls import Resolver404, path, resolve

    try:
        resolve("/api/v1/catalog/export.xlsx")
        return
    except Resolver404:
        pass
    if not urlpatterns:
        from ninja import NinjaAPI

        from govshare.catalog.api_io import router
        from govshare.core.api import SessionUserAuth, install_error_handlers

        api = NinjaAPI(auth=SessionUserAuth(), urls_namespace="catalog-io-test")
        install_error_handlers(api)
        api.add_router("/catalog", router)
        urlpatterns.append(path("api/v1/", api.urls))
    settings.ROOT_URLCONF = __name__


def _client(user: Any) -> Client:
    (c := Client()).force_login(user)
    return c


# --- the two real open-data catalogs ---

@pytest.mark.parametrize(("filename", "name_field", "provider_field"), [
    ("jiangsu_lianyungang.json", "信息资源名称", "信息资源提供方"), ("zhejiang_zhejiang.json", "标题", "数源单位")])
def test_shared_catalog_imports_with_exact_counts(seeded, city, filename, name_field, provider_field) -> None:
    path = SHARED / filename
    if not path.exists():
        pytest.skip(f"{path} absent")
    records = json.loads(path.read_text(encoding="utf-8"))
    keys = collections.Counter((_fold(r[name_field]), _fold(r[provider_field])) for r in records)
    duplicates = sum(n - 1 for n in keys.values())
    providers = {_fold(r[provider_field]) for r in records}
    kept = len(records) - duplicates
    summary = import_catalog(actor=None, node=city, path_or_stream=path, filename=filename,
                             create_departments=True)

    assert summary.committed and summary.format == "json" and summary.layout == "foreign"
    assert summary.rows_read == len(records)
    assert summary.duplicates_dropped == duplicates
    assert summary.rejected_rows == 0 and summary.rejected == []
    assert summary.imported == kept
    assert summary.already_present == 0
    assert len(summary.departments_created) == len(providers)
    assert all(d["placeholder_uscc"] is True and is_valid_uscc(d["uscc"]) for d in summary.departments_created)
    assert summary.mapped[name_field] == {"field": "name", "rows": kept}
    assert summary.mapped[provider_field] == {"field": "provider", "rows": kept}
    assert summary.defaulted["share_type"] == kept and summary.defaulted["classification_code"] == kept
    assert summary.defaulted["share_modes"] == kept
    assert any("草稿" in n for n in summary.notes) and any("占位" in n for n in summary.notes)
    assert "详情页网址" in summary.unmapped_fields
    qs = Resource.objects.filter(node=city)
    assert qs.count() == kept
    assert set(qs.values_list("status", flat=True)) == {"draft"}
    assert set(qs.values_list("classification_id", flat=True)) == {"399001"}
    assert not DataItem.objects.filter(resource__node=city).exists()
    assert AuditEvent.objects.filter(action="catalog.imported", target_id=city.code).count() == 1
    if filename.startswith("zhejiang"):
        never = sum(1 for r in records if str(r["更新周期"]).startswith("不更新"))
        assert summary.defaulted["update_cycle"] == never
        assert summary.mapped["更新周期"]["rows"] == kept
        cycles = collections.Counter(qs.values_list("update_cycle", flat=True))
        assert cycles["yearly"] == sum(1 for r in records if str(r["更新周期"]).startswith("每年"))
        formats = collections.Counter(tuple(f) for f in qs.values_list("formats", flat=True))
        for prefix, value in (("数据库", "database"), ("电子表格", "spreadsheet"), ("电子文件", "document")):
            assert formats[(value,)] == sum(1 for r in records if r["资源格式"].startswith(prefix))
    else:
        assert summary.defaulted["update_cycle"] == kept  # the file has no update cycle at all
        assert qs.filter(open_type="conditional").count() == sum(
            1 for r in records if r["是否向社会开放"] == "半开放")
        assert set(tuple(f) for f in qs.values_list("formats", flat=True)) == {("spreadsheet", "document")}


def test_second_import_of_same_catalog_adds_nothing(seeded, city) -> None:
    path = SHARED / "jiangsu_lianyungang.json"
    if not path.exists():
        pytest.skip(f"{path} absent")
    records = json.loads(path.read_text(encoding="utf-8"))[:60]
    data = json.dumps(records, ensure_ascii=False).encode()
    first = import_catalog(actor=None, node=city, path_or_stream=data, filename="a.json", create_departments=True)
    again = import_catalog(actor=None, node=city, path_or_stream=data, filename="a.json", create_departments=True)
    assert again.imported == 0 and again.already_present == first.imported
    assert again.departments_created == []
    assert Resource.objects.filter(node=city).count() == first.imported


# --- normalisers ---

CYCLES = {  # text → (cycle, defaulted)
    "不定期(更新说明:暂无新业务数据产生)": ("irregular", False), "不定期": ("irregular", False),
    "每天": ("daily", False), "每日": ("daily", False), "每天(更新说明:暂无新业务数据产生)": ("daily", False),
    "按月": ("monthly", False), "每月（更新说明：暂无）": ("monthly", False), "Monthly": ("monthly", False),
    "年度": ("yearly", False), "每年": ("yearly", False), "每年12月更新": ("yearly", False),
    "每半年": ("semiannual", False), "半年度": ("semiannual", False), "每季度": ("quarterly", False),
    "按季": ("quarterly", False), "每周": ("weekly", False), "weekly": ("weekly", False),
    "实时": ("realtime", False), "小时级": ("realtime", False), "ＤＡＩＬＹ": ("daily", False),
    "分钟级(更新说明:暂无新业务数据产生)": ("realtime", False), "暂无": ("irregular", True),
    "不更新(更新说明:暂无新业务数据产生)": ("irregular", True),
    "": ("irregular", True), "   ": ("irregular", True), "随缘": ("irregular", True),
}


@pytest.mark.parametrize(("text", "expected"), [*CYCLES.items(), (None, ("irregular", True))])
def test_update_cycle_normaliser(text, expected) -> None:
    assert normalise_update_cycle(text) == expected


@given(st.one_of(st.text(), st.none(), st.integers(), st.floats(allow_nan=True)))
@hsettings(max_examples=300, deadline=None)
def test_update_cycle_normaliser_is_total(value: Any) -> None:
    cycle, defaulted = normalise_update_cycle(value)
    assert cycle in UpdateCycle.values and isinstance(defaulted, bool)


@given(st.one_of(st.text(), st.lists(st.text(), max_size=5)))
@hsettings(max_examples=200, deadline=None)
def test_format_normaliser_is_total(value: Any) -> None:
    assert set(normalise_formats(value)) <= {"database", "spreadsheet", "document", "image", "stream", "api",
                                             "other"}


@pytest.mark.parametrize(("value", "expected"), [
    ("数据库-sqlServer", ["database"]), ("数据库-Dm", ["database"]), ("电子表格-xlsx", ["spreadsheet"]),
    ("xls,csv", ["spreadsheet"]), (["xml", "xls", "csv", "json"], ["spreadsheet", "document"]),
    ("电子文件-其他", ["document"]), ("图形图像-jpg", ["image"]), ("接口、电子表格", ["spreadsheet", "api"]),
    ("data.XLSX", ["spreadsheet"]), ("莫名其妙", ["other"]), ("", []),
])
def test_format_normaliser(value, expected) -> None:
    assert normalise_formats(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("完全开放", "unconditional"), ("无条件开放", "unconditional"), ("是", "unconditional"),
    ("有条件开放", "conditional"), ("依申请开放", "conditional"), ("半开放", "conditional"),
    ("不开放", "none"), ("否", "none"), ("不予开放", "none"),
])
def test_open_type_mapping(value, expected) -> None:
    assert map_open_type(value) == expected


# --- bad input: clear errors, nothing written ---

def test_gbk_csv_is_detected_and_refused(seeded, city) -> None:
    data = _csv(["信息资源名称", "提供方"], [["人口基本信息", "市公安局"], ["法人信息", "市市场监管局"]],
                encoding="gbk")
    with pytest.raises(ValidationFailed) as exc:
        import_catalog(actor=None, node=city, path_or_stream=data, filename="目录.csv", create_departments=True)
    assert exc.value.code == "bad_encoding"
    assert "GBK" in exc.value.message and "UTF-8" in exc.value.message
    assert exc.value.details["row"] == 1  # the header row already holds GBK bytes
    assert not Resource.objects.exists() and not Department.objects.filter(node=city).exists()
    assert AuditEvent.objects.filter(action="catalog.import_failed").count() == 1


def test_broken_json_names_line_and_column(seeded, city) -> None:
    data = b'[\n {"\xe6\xa0\x87\xe9\xa2\x98": "a", "x": 1},\n {"\xe6\xa0\x87\xe9\xa2\x98": "b",, }\n]'
    with pytest.raises(ValidationFailed) as exc:
        import_catalog(actor=None, node=city, path_or_stream=data, filename="x.json")
    assert exc.value.code == "bad_json" and exc.value.details["line"] == 3
    assert "第 3 行" in exc.value.message
    assert not Resource.objects.exists()


def test_missing_name_column_is_refused(seeded, city) -> None:
    data = _csv(["提供方", "摘要"], [["市公安局", "无名称"]])
    with pytest.raises(ValidationFailed) as exc:
        import_catalog(actor=None, node=city, path_or_stream=data, filename="x.csv", create_departments=True)
    assert exc.value.code == "missing_column" and exc.value.details["field"] == "信息资源名称"
    assert "提供方、摘要" in exc.value.message
    assert not Resource.objects.exists()


def test_unknown_department_rejected_without_create_flag(seeded, city) -> None:
    data = _csv(["标题", "数源单位"], [["道路信息", "市交通运输局"]])
    with pytest.raises(ImportRejected) as exc:
        import_catalog(actor=None, node=city, path_or_stream=data, filename="x.csv")
    problem = exc.value.summary.rejected[0]
    assert (problem.row, problem.field) == (2, "数源单位") and "--create-departments" in problem.reason


# --- the govshare workbook: all-or-nothing versus --partial ---

def _bad_workbook() -> bytes:
    resources = [
        _row(信息资源代码="A1", 信息资源名称="人口基本信息", 摘要="人口"),            # row 2: fine
        _row(信息资源代码="A2", 信息资源名称="错误分类", 资源分类代码="999999"),    # row 3: unknown class
        _row(信息资源代码="A3", 信息资源名称="错误共享类型", 共享类型="随便共享"),   # row 4: bad share type
        _row(信息资源代码="A4", 信息资源名称="不予共享无依据", 共享类型="不予共享"),  # row 5: no basis
        _row(信息资源代码="A5", 信息资源名称="法人基本信息", 提供方="市市场监管局"),  # row 6: fine
        _row(信息资源代码="A6", 信息资源名称="涉密资源", 涉密属性="涉密"),            # row 7: classified
    ]
    items = [
        {"信息资源代码": "A1", "序号": 1, "信息项名称": "公民身份号码", "数据元代码": "DE0001", "主键": "是"},
        {"信息资源代码": "A1", "序号": 2, "信息项名称": "姓名", "数据元代码": "DE0002", "必填": "是"},
        {"信息资源代码": "A5", "序号": 1, "信息项名称": "统一社会信用代码", "数据元代码": "DE0015"},
        {"信息资源代码": "A2", "序号": 1, "信息项名称": "姓名", "数据元代码": "DE0002"},  # of a rejected row
    ]
    return _xlsx(resources, items)


def test_workbook_with_bad_rows_writes_nothing_by_default(seeded, city) -> None:
    before = Department.objects.count()
    with pytest.raises(ImportRejected) as exc:
        import_catalog(actor=None, node=city, path_or_stream=_bad_workbook(), filename="目录.xlsx",
                       create_departments=True)
    s = exc.value.summary
    assert not s.committed and s.imported == 0 and s.rejected_rows == 4
    assert [(p.sheet, p.row, p.field) for p in s.rejected] == [
        ("信息资源", 3, "资源分类代码"), ("信息资源", 4, "共享类型"), ("信息资源", 5, "不予共享依据"),
        ("信息资源", 7, "涉密属性")]
    assert "999999" in s.rejected[0].reason and "随便共享" in s.rejected[1].reason
    assert exc.value.status == 422 and exc.value.details["errors"][0]["row"] == 3
    assert Resource.objects.count() == 0 and Department.objects.count() == before
    assert s.departments_created == []


def test_workbook_with_bad_rows_partial_imports_the_rest(seeded, city) -> None:
    s = import_catalog(actor=None, node=city, path_or_stream=_bad_workbook(), filename="目录.xlsx",
                       create_departments=True, partial=True)
    assert s.committed and s.layout == "govshare" and s.format == "xlsx"
    assert (s.rows_read, s.imported, s.rejected_rows, s.items_read, s.items_imported) == (6, 2, 4, 4, 3)
    assert [p.row for p in s.rejected] == [3, 4, 5, 7]
    people = Resource.objects.get(node=city, name="人口基本信息")
    assert [(i.name, i.element.code, i.is_key, i.required) for i in people.items.order_by("position")] == [
        ("公民身份号码", "DE0001", True, True), ("姓名", "DE0002", False, True)]
    assert people.sensitivity == 3 and people.update_cycle == "monthly" and people.status == "draft"
    assert people.code.startswith(city.code_prefix)
    assert Resource.objects.filter(node=city).count() == 2


def test_item_errors_name_the_item_row(seeded, city) -> None:
    resources = [_row(信息资源代码="B1", 信息资源名称="资源一"),
                 _row(信息资源代码="B2", 信息资源名称="资源二", 提供方="市新部门")]
    items = [
        {"信息资源代码": "B1", "序号": 1, "信息项名称": "姓名", "数据元代码": "DE9999"},
        {"信息资源代码": "B2", "序号": 1, "信息项名称": "银行卡号", "数据元代码": "DE0013", "敏感级别": "L2"},
        {"信息资源代码": "ZZ", "序号": 1, "信息项名称": "姓名", "数据元代码": "DE0002"},
    ]
    s = import_catalog(actor=None, node=city, path_or_stream=_xlsx(resources, items), filename="w.xlsx",
                       create_departments=True, partial=True)
    assert [(p.sheet, p.row, p.field) for p in s.rejected] == [
        ("信息项", 2, "数据元代码"),  # unknown element
        ("信息项", 4, "信息资源代码"),  # no such resource row
        ("信息项", 3, "敏感级别"),  # below the element's L4, found by the catalog services
    ]
    assert (s.rejected_rows, s.items_rejected, s.imported) == (2, 1, 0)
    # 市新部门 was created for 资源二, then rolled back with that row.
    assert s.departments_created == [] and not Department.objects.filter(name="市新部门").exists()
    assert not Resource.objects.exists()


def test_duplicates_in_workbook_are_dropped(seeded, city) -> None:
    rows = [_row(信息资源名称="道路 信息"), _row(信息资源名称="道路信息"), _row(信息资源名称="ＲＯＡＤ"),
            _row(信息资源名称="road")]
    s = import_catalog(actor=None, node=city, path_or_stream=_xlsx(rows), filename="d.xlsx",
                       create_departments=True)
    assert (s.imported, s.duplicates_dropped) == (2, 2)
    assert s.duplicates == [{"row": 3, "duplicate_of": 2}, {"row": 5, "duplicate_of": 4}]


def test_departments_are_matched_loosely(seeded, city) -> None:
    health = testing.department(city, name="市卫生健康委员会")
    police = testing.department(city, name="市公安局")
    rows = [_row(信息资源名称="a", 提供方="市卫生健康委"), _row(信息资源名称="b", 提供方=" 市公安 局 "),
            _row(信息资源名称="c", 提供方="市公安"), _row(信息资源名称="d", 提供方="市卫生健康委员会",
                                                      数源部门="市公安局")]
    s = import_catalog(actor=None, node=city, path_or_stream=_xlsx(rows), filename="m.xlsx")
    assert s.imported == 4 and s.departments_created == []
    assert set(Resource.objects.filter(node=city).values_list("name", "provider_id")) == {
        ("a", health.pk), ("b", police.pk), ("c", police.pk), ("d", health.pk)}
    assert Resource.objects.get(name="d").source_department_id == police.pk
    a = placeholder_uscc(city, "市交通运输局")
    assert is_valid_uscc(a) and a == placeholder_uscc(city, "市交通运输局") != placeholder_uscc(city, "市统计局")


def test_classification_option_and_csv_pair(seeded, city, tmp_path) -> None:
    main = tmp_path / "catalog.csv"
    main.write_bytes(_csv(["数据集名称", "数据提供方", "更新频率", "开放属性", "关键字", "描述"],
                          [["公交线路", "市交通运输局", "按月", "依申请开放", "公交;线路", "=cmd|' /C calc'!A0"]]))
    s = import_catalog(actor=None, node=city, path_or_stream=main, filename=main.name, create_departments=True,
                       classification_code="3 13 001")
    r = Resource.objects.get(node=city)
    assert (r.classification_id, r.update_cycle, r.open_type, r.tags) == (
        "313001", "monthly", "conditional", ["公交", "线路"])
    assert r.summary == "=cmd|' /C calc'!A0" and s.items_read == 0
    with pytest.raises(ValidationFailed):
        import_catalog(actor=None, node=city, path_or_stream=main, filename=main.name, classification_code="123")


# --- export, formula neutralisation, round trip ---

def _catalog(city, data_office) -> list[Resource]:
    police = testing.department(city, name="市公安局")
    market = testing.department(city, name="市市场监督管理局")
    people = create_resource(actor=None, provider=police, fields=ResourceFields(
        name="人口基本信息", classification_code="101001", summary="常住人口基本信息", formats=["database"],
        share_type="conditional", share_condition="用于政务服务", share_modes=["api", "table"],
        open_type="none", update_cycle="daily", tags=["人口", "户籍"]), items=[
        ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
        ItemSpec(name="姓名", element_code="DE0002", required=True),
        ItemSpec(name="手机号码", element_code="DE0008", sensitivity=4),
    ])
    people = apply_action(actor=None, resource=people, action="submit")
    people = apply_action(actor=data_office, resource=people, action="publish")
    firms = create_resource(actor=None, provider=market, fields=ResourceFields(
        name="=HYPERLINK(\"http://evil\")", classification_code="102001", summary="+cmd 法人", formats=[],
        share_type="none", no_share_basis="《某条例》第十条", share_modes=[], open_type="none",
        update_cycle="irregular", source_department=police, related_codes=[people.code]), items=[
        ItemSpec(name="统一社会信用代码", element_code="DE0015", is_key=True, length=18),
        ItemSpec(name="单位名称", element_code="DE0016", data_type="string"),
    ])
    return [people, firms]


FIELDS = ("name", "classification_id", "summary", "formats", "share_type", "share_condition", "share_modes",
          "no_share_basis", "open_type", "open_condition", "update_cycle", "secrecy", "tags", "sensitivity",
          "published_on")
ITEMS = ("position", "name", "column_name", "data_type", "length", "sensitivity", "required", "is_key")


def _items(r: Resource) -> list[tuple[Any, ...]]:
    return [(*(getattr(i, f) for f in ITEMS), i.element.code) for i in r.items.order_by("position")]


def test_export_neutralises_formula_cells(seeded, city, data_office) -> None:
    _catalog(city, data_office)
    data = export_catalog(user=data_office, fmt="xlsx")
    assert isinstance(data, bytes)
    rows = _sheet_rows(data, layout.RESOURCE_SHEET)
    assert tuple(rows[0]) == layout.RESOURCE_HEADERS
    names = {r[1] for r in rows[1:]}
    assert "'=HYPERLINK(\"http://evil\")" in names
    assert any(r[6] == "'+cmd 法人" for r in rows[1:])
    wb = load_workbook(io.BytesIO(data))
    assert all(c.data_type != "f" for row in wb[layout.RESOURCE_SHEET].iter_rows() for c in row)
    res_csv, items_csv = export_catalog(user=data_office, fmt="csv")
    assert res_csv.startswith(b"\xef\xbb\xbf") and items_csv.startswith(b"\xef\xbb\xbf")
    text = res_csv.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=" not in text and ",=" not in text
    header = next(csv.reader(io.StringIO(items_csv.decode("utf-8-sig"))))
    assert header == list(layout.ITEM_HEADERS)


def test_export_then_import_on_empty_node_reproduces_catalog(seeded, city, data_office) -> None:
    originals = _catalog(city, data_office)
    data = export_catalog(user=data_office, fmt="xlsx")
    other = testing.node(name="另一节点")
    s = import_catalog(actor=None, node=other, path_or_stream=data, filename="export.xlsx",
                       create_departments=True)
    assert (s.imported, s.items_imported, s.rejected_rows, s.layout) == (2, 5, 0, "govshare")
    for original in originals:
        original.refresh_from_db()
        copy = Resource.objects.get(node=other, name=original.name)
        assert {f: getattr(copy, f) for f in FIELDS} == {f: getattr(original, f) for f in FIELDS}
        assert copy.provider.name == original.provider.name and copy.provider.node == other
        assert _items(copy) == _items(original)
        assert copy.status == "draft" and copy.code.startswith(other.code_prefix)
    firms = Resource.objects.get(node=other, classification_id="102001")
    assert firms.source_department.name == "市公安局"
    assert firms.related_codes == [Resource.objects.get(node=other, name="人口基本信息").code]


def test_csv_zip_round_trip_through_api(seeded, city, data_office, api_urls) -> None:
    _catalog(city, data_office)
    c = _client(data_office)
    r = c.get("/api/v1/catalog/export.zip")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert "attachment" in r["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert len(names) == 2 and any(n.endswith("_items.csv") for n in names)
    other = testing.node(name="空节点")
    s = import_catalog(actor=None, node=other, path_or_stream=r.content, filename="export.zip",
                       create_departments=True)
    assert (s.format, s.imported, s.items_imported) == ("zip", 2, 5)
    x = c.get("/api/v1/catalog/export.xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert c.get("/api/v1/catalog/export.csv").content.startswith(b"\xef\xbb\xbf")


def test_consumer_export_holds_published_versions_only(seeded, city, data_office, consumer, api_urls) -> None:
    people, _ = _catalog(city, data_office)
    apply_action(actor=None, resource=people, action="revise")
    Resource.objects.filter(pk=people.pk).update(summary="未发布的修改")  # an unpublished edit
    rows = _sheet_rows(_client(consumer).get("/api/v1/catalog/export.xlsx").content, layout.RESOURCE_SHEET)
    assert [r[1] for r in rows[1:]] == ["人口基本信息"]
    assert rows[1][6] == "常住人口基本信息" and rows[1][19] == "已发布"
    own = _sheet_rows(_client(data_office).get("/api/v1/catalog/export.xlsx").content, layout.RESOURCE_SHEET)
    assert {r[6] for r in own[1:]} == {"未发布的修改", "'+cmd 法人"}


# --- API permissions and the CLI ---

def _upload(c: Client, data: bytes, name: str, query: str = "") -> Any:
    return c.post(f"/api/v1/catalog/import{query}", {"file": SimpleUploadedFile(name, data)})


def test_consumer_cannot_import(seeded, consumer, api_urls) -> None:
    r = _upload(_client(consumer), _xlsx([_row()]), "x.xlsx")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert not Resource.objects.exists()
    with pytest.raises(PermissionDenied):
        import_catalog(actor=consumer, node=consumer.node, path_or_stream=b"x", filename="x.csv")


def test_provider_imports_own_department_only(seeded, city, provider, api_urls) -> None:
    own = provider.department.name
    testing.department(city, name="市统计局")
    rows = [_row(信息资源名称="本部门资源", 提供方=own, 发布日期="2024-01-02"),
            _row(信息资源名称="他部门资源", 提供方="市统计局"),
            _row(信息资源名称="未填提供方", 提供方="")]
    r = _upload(_client(provider), _xlsx(rows), "p.xlsx", "?partial=true")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["imported"] == 2 and body["rejected_rows"] == 1 and body["defaulted"]["provider"] == 1
    assert body["rejected"][0]["row"] == 3 and body["rejected"][0]["field"] == "提供方"
    assert set(Resource.objects.values_list("provider_id", flat=True)) == {provider.department_id}
    created = Resource.objects.get(name="本部门资源")
    assert created.created_by_id == provider.pk and created.published_on == dt.date(2024, 1, 2)
    r = _upload(_client(provider), _xlsx(rows), "p.xlsx", "?create_departments=true")
    assert r.status_code == 403


def test_data_office_import_via_api(seeded, city, data_office, api_urls) -> None:
    data = _csv(["标题", "数源单位", "更新周期"], [["公交站点", "市交通运输局", "每天"], ["", "市交通运输局", ""]])
    c = _client(data_office)
    r = _upload(c, data, "t.csv", "?create_departments=true")
    assert r.status_code == 422 and r.json()["error"]["code"] == "import_rejected"
    assert r.json()["error"]["details"]["errors"][0] == {"sheet": "t.csv", "row": 3, "field": "标题",
                                                         "reason": "信息资源名称不能为空 (name required)"}
    assert not Resource.objects.exists()
    r = _upload(c, data, "t.csv", "?create_departments=true&partial=true")
    assert r.status_code == 200 and r.json()["imported"] == 1
    resource = Resource.objects.get()
    assert resource.created_by_id == data_office.pk and resource.update_cycle == "daily"
    assert AuditEvent.objects.filter(action="catalog.imported", actor_id=str(data_office.pk)).exists()


def test_cli_import_and_export_show_progress(seeded, city, tmp_path) -> None:
    src = tmp_path / "open.json"
    src.write_text(json.dumps([{"标题": f"数据集{i}", "数源单位": "市统计局", "更新周期": "每年"} for i in range(5)],
                              ensure_ascii=False), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("catalog", "import", str(src), "--node", city.code, "--create-departments",
                 stdout=out, stderr=err)
    assert "5/5 (100%)" in err.getvalue() and "导入 (imported): 5" in out.getvalue()
    assert Resource.objects.filter(node=city, update_cycle="yearly").count() == 5
    target = tmp_path / "out.csv"
    out, err = io.StringIO(), io.StringIO()
    call_command("catalog", "export", str(target), "--node", city.code, stdout=out, stderr=err)
    assert target.exists() and (tmp_path / "out_items.csv").exists() and "5/5" in err.getvalue()
    assert len(list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))) == 6
    call_command("catalog", "export", str(tmp_path / "out.xlsx"), stdout=io.StringIO(), stderr=io.StringIO())
    assert len(_sheet_rows((tmp_path / "out.xlsx").read_bytes(), layout.RESOURCE_SHEET)) == 6
    bad = tmp_path / "bad.json"
    bad.write_text("[{", encoding="utf-8")
    with pytest.raises(CommandError, match="JSON"):
        call_command("catalog", "import", str(bad), "--node", city.code, stdout=io.StringIO(),
                     stderr=io.StringIO())


def test_csv_pair_upload_through_api(seeded, city, data_office, api_urls) -> None:
    _catalog(city, data_office)
    resources_csv, items_csv = export_catalog(user=data_office, fmt="csv")
    other = testing.node(name="县级节点", level="county")
    office = testing.user(Role.DATA_OFFICE, at=other,
                          dept=testing.department(other, name="县数据局", is_data_office=True))

    def files() -> dict[str, Any]:
        return {"file": SimpleUploadedFile("目录.csv", resources_csv),
                "items_file": SimpleUploadedFile("目录_items.csv", items_csv)}

    r = _client(office).post("/api/v1/catalog/import?create_departments=true", files())
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["format"], body["layout"], body["imported"], body["items_imported"]) == ("csv", "govshare", 2, 5)
    assert {d["placeholder_uscc"] for d in body["departments_created"]} == {True}  # codes taken on 445100
    # The same upload on the exporting node finds everything already there.
    r = _client(data_office).post("/api/v1/catalog/import", files())
    assert r.status_code == 200 and r.json()["already_present"] == 2 and r.json()["imported"] == 0


def test_foreign_workbook_with_title_row(seeded, city) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["某市公共数据开放目录（2023年）"])
    ws.append(["序号", "资源名称", "提供单位", "更新频度", "开放类型", "资源格式", "资源摘要", "上传时间"])
    ws.append([1, "空气质量日报", "市生态环境局", "每天", "无条件开放", "xls,csv", "空气质量", dt.datetime(2023, 5, 1)])
    ws.append([2, "企业名录", "市市场监管局", "暂无", "否", "数据库-oracle", "", "2023年6月2日"])
    ws.append([3, "奇怪开放", "市市场监管局", "", "看情况", "", "", ""])
    out = io.BytesIO()
    wb.save(out)
    s = import_catalog(actor=None, node=city, path_or_stream=out.getvalue(), filename="open.xlsx",
                       create_departments=True, partial=True)
    assert (s.rows_read, s.imported, s.rejected_rows, s.layout) == (3, 2, 1, "foreign")
    assert (s.rejected[0].row, s.rejected[0].field) == (5, "开放类型") and "看情况" in s.rejected[0].reason
    assert s.unmapped_fields == ["序号"] and s.defaulted["update_cycle"] == 1
    air = Resource.objects.get(name="空气质量日报")
    assert (air.update_cycle, air.open_type, air.formats, air.published_on) == (
        "daily", "unconditional", ["spreadsheet"], dt.date(2023, 5, 1))
    firms = Resource.objects.get(name="企业名录")
    assert (firms.update_cycle, firms.open_type, firms.formats, firms.published_on) == (
        "irregular", "none", ["database"], dt.date(2023, 6, 2))
    assert [d["name"] for d in s.departments_created] == ["市生态环境局", "市市场监管局"]
