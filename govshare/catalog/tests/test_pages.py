"""The catalog portal pages (目录系统), through django.test.Client."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.catalog.services import apply_action
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id

pytestmark = pytest.mark.django_db


def _text(r: Any) -> str:
    return r.content.decode()


@pytest.fixture
def catalog(seeded: None, provider_dept: testing.Department, consumer_dept: testing.Department,
            data_office: User) -> dict[str, Resource]:
    return {
        "people": testing.resource(provider_dept, name="人口基本信息", publish_by=data_office,
                                   share_type="unconditional", update_cycle="daily"),
        "marriage": testing.resource(provider_dept, name="婚姻登记信息", publish_by=data_office,
                                     share_type="conditional", update_cycle="monthly"),
        "insurance": testing.resource(consumer_dept, name="社会保险参保信息", publish_by=data_office,
                                      classification_code="101001", share_type="conditional",
                                      update_cycle="monthly", tags=["社保"]),
        "draft": testing.resource(provider_dept, name="户籍迁移草稿"),
    }


# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------


def test_search_lists_published_and_facets_narrow(catalog: dict[str, Resource], consumer: User) -> None:
    c = client_for(consumer)
    page = _text(c.get("/catalog/"))
    assert "人口基本信息" in page and "婚姻登记信息" in page and "社会保险参保信息" in page
    assert "户籍迁移草稿" not in page  # a draft of another department never shows
    assert "共享类型" in page and "更新周期" in page and "提供部门" in page

    narrowed = _text(c.get("/catalog/", {"share_type": "unconditional"}))
    assert "人口基本信息" in narrowed and "婚姻登记信息" not in narrowed and "社会保险参保信息" not in narrowed

    by_provider = _text(c.get("/catalog/", {"provider": str(catalog["insurance"].provider_id)}))
    assert "社会保险参保信息" in by_provider and "人口基本信息" not in by_provider

    both = _text(c.get("/catalog/", {"update_cycle": "monthly", "provider": str(catalog["people"].provider_id)}))
    assert "婚姻登记信息" in both and "人口基本信息" not in both and "社会保险参保信息" not in both

    text = _text(c.get("/catalog/", {"q": "社保"}))  # abbreviation and tag through the search engine
    assert "社会保险参保信息" in text and "婚姻登记信息" not in text


def test_search_bad_filter_is_shown_not_a_crash(catalog: dict[str, Resource], consumer: User) -> None:
    r = client_for(consumer).get("/catalog/", {"share_type": "nonsense"})
    assert r.status_code == 200 and "共享类型取值无效" in _text(r)


def test_search_requires_sign_in(catalog: dict[str, Resource]) -> None:
    r = client_for(None).get("/catalog/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_search_exports_csv_and_json_neutralising_formulas(seeded: None, provider_dept: testing.Department,
                                                           data_office: User, consumer: User) -> None:
    testing.resource(provider_dept, name="=HYPERLINK(\"http://x\")", publish_by=data_office,
                     summary="+cmd|' /C calc'!A0")
    testing.resource(provider_dept, name="法人基本信息", publish_by=data_office)
    c = client_for(consumer)
    r = c.get("/catalog/", {"format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["信息资源代码", "信息资源名称"]
    names = [row[1] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://x\")" in names and "法人基本信息" in names
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)

    data = json.loads(c.get("/catalog/", {"format": "json", "q": "法人"}).content)
    assert [d["name"] for d in data] == ["法人基本信息"]


def test_search_query_count_is_bounded(seeded: None, provider_dept: testing.Department, data_office: User,
                                       consumer: User, django_assert_max_num_queries: Any) -> None:
    for n in range(25):
        testing.resource(provider_dept, name=f"测试资源{n}", publish_by=data_office)
    c = client_for(consumer)
    c.get("/catalog/")  # warm caches (classification tree, session)
    with django_assert_max_num_queries(12):
        r = c.get("/catalog/", {"share_type": "conditional"})
    assert r.status_code == 200 and "下一页" in _text(r)


# ---------------------------------------------------------------------------------------------
# The resource page
# ---------------------------------------------------------------------------------------------


def test_resource_page_shows_metadata_items_elements_and_call_examples(
        catalog: dict[str, Resource], consumer: User) -> None:
    r = catalog["people"]
    page = _text(client_for(consumer).get(f"/catalog/resources/{r.pk}/"))
    assert r.code in page and "人口基本信息的摘要" in page and "无条件共享" in page and "每日" in page
    assert "公民身份号码" in page and "DE0001" in page and "L3 较敏感" in page  # item, element, level
    assert "/dp/v1/query" in page and "/dp/v1/verify" in page and "id_number" in page
    assert "X-GS-Purpose" in page  # an L3 resource needs the business headers
    assert "/api/v1/docs" in page
    assert "提交审核" not in page and "审核通过并发布" not in page  # a consumer has no lifecycle buttons


def test_draft_of_another_department_answers_404(catalog: dict[str, Resource], consumer: User,
                                                 city: testing.Node) -> None:
    draft = catalog["draft"]
    other_provider = testing.user(Role.PROVIDER, dept=testing.department(city, name="市民政局"))
    for user in (consumer, other_provider):
        c = client_for(user)
        assert c.get(f"/catalog/resources/{draft.pk}/").status_code == 404
        assert c.post(f"/catalog/resources/{draft.pk}/actions/submit/").status_code == 404
    assert client_for(other_provider).get(f"/catalog/resources/{draft.pk}/edit/").status_code == 404
    # a published resource of another department is visible but not editable
    assert client_for(other_provider).get(f"/catalog/resources/{catalog['people'].pk}/edit/").status_code == 404


def test_version_diff_on_the_page(catalog: dict[str, Resource], provider: User, data_office: User,
                                  consumer: User) -> None:
    r = catalog["people"]
    pc, oc = client_for(provider), client_for(data_office)
    assert pc.post(f"/catalog/resources/{r.pk}/actions/revise/").status_code == 302
    edit = pc.get(f"/catalog/resources/{r.pk}/edit/")
    assert edit.status_code == 200 and "公民身份号码" in _text(edit)
    form = _editor_post(name="人口基本信息", summary="新的摘要", share_type="conditional",
                        items=[("公民身份号码", "DE0001", True), ("姓名", "DE0002", False)])
    assert pc.post(f"/catalog/resources/{r.pk}/edit/", form).status_code == 302
    # while the revision is drafted, outsiders keep the published version
    assert "人口基本信息的摘要" in _text(client_for(consumer).get(f"/catalog/resources/{r.pk}/"))
    assert pc.post(f"/catalog/resources/{r.pk}/actions/submit/").status_code == 302
    assert oc.post(f"/catalog/resources/{r.pk}/actions/publish/").status_code == 302
    page = _text(client_for(consumer).get(f"/catalog/resources/{r.pk}/", {"from": 1, "to": 2}))
    assert "v1 → v2" in page and "新的摘要" in page and "删除信息项" in page
    assert "<td>共享类型</td><td>无条件共享</td><td>有条件共享</td>" in page
    assert "gender" in page  # the removed item's column
    assert "是（既有授权须复核）" in page  # 无条件 → 有条件 and an item removed: tightened


# ---------------------------------------------------------------------------------------------
# Editor and review
# ---------------------------------------------------------------------------------------------


def _editor_post(*, name: str, summary: str = "", share_type: str = "conditional", classification: str = "101001",
                 items: list[tuple[str, str, bool]], extra_blank: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name, "classification_code": classification, "summary": summary, "share_type": share_type,
        "share_modes": ["api"], "open_type": "none", "update_cycle": "monthly", "secrecy": "non_secret",
        "tags": "人口、户籍", "related_codes": "",
        "items-TOTAL_FORMS": str(len(items) + extra_blank), "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000",
    }
    for n, (item_name, code, key) in enumerate(items):
        data[f"items-{n}-name"] = item_name
        data[f"items-{n}-element_code"] = code
        if key:
            data[f"items-{n}-is_key"] = "on"
    return data


def test_provider_creates_submits_and_data_office_publishes(seeded: None, provider: User, data_office: User,
                                                           consumer: User) -> None:
    pc, oc = client_for(provider), client_for(data_office)
    assert pc.get("/catalog/resources/new/").status_code == 200
    r = pc.post("/catalog/resources/new/", _editor_post(
        name="居住证信息", summary="居住证办理信息",
        items=[("公民身份号码", "DE0001", True), ("姓名", "DE0002", False)]))
    assert r.status_code == 302
    resource = Resource.objects.get(name="居住证信息")
    assert resource.status == "draft" and resource.items.count() == 2 and resource.tags == ["人口", "户籍"]
    assert r["Location"] == f"/catalog/resources/{resource.pk}/"

    page = _text(pc.get(r["Location"]))
    assert "提交审核" in page and "审核通过并发布" not in page and "编辑草稿" in page
    assert "居住证信息" in _text(pc.get("/catalog/mine/"))

    assert pc.post(f"/catalog/resources/{resource.pk}/actions/submit/").status_code == 302
    resource.refresh_from_db()
    assert resource.status == "pending"

    queue = _text(oc.get("/catalog/review/"))
    assert "居住证信息" in queue and "审核通过并发布" in queue and "退回" in queue
    # reject needs a reason: shown beside the field, nothing changes
    bad = oc.post(f"/catalog/resources/{resource.pk}/actions/reject/", {"reason": ""})
    assert bad.status_code == 422 and "理由" in _text(bad)
    resource.refresh_from_db()
    assert resource.status == "pending"
    # the provider cannot publish its own resource
    assert pc.post(f"/catalog/resources/{resource.pk}/actions/publish/").status_code == 422
    done = oc.post(f"/catalog/resources/{resource.pk}/actions/publish/", {"next": "/catalog/review/"})
    assert done.status_code == 302 and done["Location"] == "/catalog/review/"
    resource.refresh_from_db()
    assert resource.status == "published" and resource.is_listed and resource.published_version is not None
    assert "居住证信息" not in _text(oc.get("/catalog/review/"))
    assert "居住证信息" in _text(client_for(consumer).get("/catalog/"))


def test_withdrawal_request_and_approval(catalog: dict[str, Resource], provider: User, data_office: User) -> None:
    r = catalog["marriage"]
    pc, oc = client_for(provider), client_for(data_office)
    assert "申请撤销" in _text(pc.get(f"/catalog/resources/{r.pk}/"))
    assert pc.post(f"/catalog/resources/{r.pk}/actions/request_withdrawal/", {"reason": "业务停办"}).status_code == 302
    queue = _text(oc.get("/catalog/review/"))
    assert "婚姻登记信息" in queue and "同意撤销" in queue and "驳回撤销" in queue
    assert oc.post(f"/catalog/resources/{r.pk}/actions/approve_withdrawal/").status_code == 302
    r.refresh_from_db()
    assert r.status == "withdrawn" and not r.is_listed


def test_editor_shows_service_errors_beside_the_item(seeded: None, provider: User) -> None:
    pc = client_for(provider)
    # 身份证号 (L3 element) cannot be lowered to L1 on an item
    data = _editor_post(name="错误资源", items=[("公民身份号码", "DE0001", True)])
    data["items-0-sensitivity"] = "1"
    r = pc.post("/catalog/resources/new/", data)
    assert r.status_code == 422 and "不能低于其数据元" in _text(r)
    assert not Resource.objects.filter(name="错误资源").exists()
    # only drafts are editable: a published resource redirects with a message
    assert client_for(provider).get("/catalog/resources/new/").status_code == 200


def test_role_gates(catalog: dict[str, Resource], consumer: User, provider: User) -> None:
    assert client_for(consumer).get("/catalog/resources/new/").status_code == 403
    assert client_for(consumer).get("/catalog/review/").status_code == 403
    assert client_for(provider).get("/catalog/review/").status_code == 403
    assert client_for(consumer).get("/catalog/import/").status_code == 403


def test_list_pages_query_counts_bounded(seeded: None, provider_dept: testing.Department, provider: User,
                                         data_office: User, django_assert_max_num_queries: Any) -> None:
    for n in range(30):
        r = testing.resource(provider_dept, name=f"待审资源{n}")
        apply_action(actor=None, resource=r, action="submit")
    pc, oc = client_for(provider), client_for(data_office)
    pc.get("/catalog/mine/")
    oc.get("/catalog/review/")
    with django_assert_max_num_queries(8):
        assert "待审资源29" in _text(pc.get("/catalog/mine/"))
    with django_assert_max_num_queries(8):
        assert "待审资源29" in _text(oc.get("/catalog/review/"))
    with django_assert_max_num_queries(8):
        assert "DE0001" in _text(pc.get("/catalog/elements/"))


# ---------------------------------------------------------------------------------------------
# Data elements, import and export
# ---------------------------------------------------------------------------------------------


def test_data_element_browser_searches(seeded: None, consumer: User) -> None:
    c = client_for(consumer)
    page = _text(c.get("/catalog/elements/", {"q": "身份"}))
    assert "公民身份号码" in page and "手机号码" not in page
    level = _text(c.get("/catalog/elements/", {"sensitivity": "4"}))
    assert "<td>L4 敏感</td>" in level and "<td>L1 不敏感</td>" not in level
    rows = list(csv.reader(io.StringIO(c.get("/catalog/elements/", {"format": "csv"}).content.decode("utf-8-sig"))))
    assert rows[0][0] == "数据元编码" and len(rows) > 20


def _upload(content: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(content)
    f.name = name
    return f


def test_import_with_bad_rows_shows_and_downloads_the_report(seeded: None, provider_dept: testing.Department,
                                                             data_office: User) -> None:
    oc = client_for(data_office)
    body = "\ufeff信息资源名称,提供方\n人口信息,市公安局\n道路信息,市交通运输局\n".encode()
    r = oc.post("/catalog/import/", {"file": _upload(body, "目录.csv")})
    page = _text(r)
    assert r.status_code == 422 and "未写入任何数据" in page and "错误报告" in page
    assert "<td>3</td>" in page and "市交通运输局" in page  # row number and the offending value
    assert not Resource.objects.filter(name="人口信息").exists()

    rows = list(csv.reader(io.StringIO(oc.get("/catalog/import/report/", {"format": "csv"})
                                       .content.decode("utf-8-sig"))))
    assert rows[0] == ["工作表", "行号", "字段", "问题", "原值"] and rows[1][1] == "3"
    assert len(rows) == 2

    partial = oc.post("/catalog/import/", {"file": _upload(body, "目录.csv"), "partial": "on"})
    assert partial.status_code == 200 and "已导入" in _text(partial)
    assert Resource.objects.get(name="人口信息").status == "draft"


def test_catalog_export_downloads(catalog: dict[str, Resource], consumer: User) -> None:
    c = client_for(consumer)
    assert "XLSX" in _text(c.get("/catalog/export/"))
    x = c.get("/catalog/export/", {"fmt": "xlsx"})
    assert x.status_code == 200 and x.content[:2] == b"PK"
    text = c.get("/catalog/export/", {"fmt": "csv"}).content.decode("utf-8-sig")
    assert "人口基本信息" in text and "户籍迁移草稿" not in text


def test_sample_rows_mask_l3_items(catalog: dict[str, Resource], provider: User, consumer: User) -> None:
    from govshare.datasets import services as dataset_services

    people = catalog["people"]
    dataset = dataset_services.mount_resource(actor=provider, resource=people)
    rid = make_resident_id("445102", dt.date(1990, 1, 1), 1)
    dataset_services.load_rows(actor=provider, dataset=dataset,
                               rows=[{"id_number": rid, "person_name": "张三丰", "gender": "男"}])
    page = _text(client_for(provider).get(f"/catalog/resources/{people.pk}/", {"sample": "1"}))
    assert "脱敏样例" in page and rid not in page  # the L3 key is masked by its element
    assert rid[0] + "*" * 16 + rid[-1] in page and "张三丰" in page  # L2 stays in clear for its provider
    consumer_page = _text(client_for(consumer).get(f"/catalog/resources/{people.pk}/", {"sample": "1"}))
    assert "脱敏样例" not in consumer_page and rid not in consumer_page


def test_apply_button_links_to_exchange_when_available(catalog: dict[str, Resource], consumer: User) -> None:
    from django.urls import NoReverseMatch, reverse

    page = _text(client_for(consumer).get(f"/catalog/resources/{catalog['people'].pk}/"))
    try:
        url = reverse("exchange:apply")
    except NoReverseMatch:
        assert "申请共享" not in page
    else:
        assert f"{url}?resource={catalog['people'].code.replace('/', '%2F')}" in page



def test_facet_links_toggle_without_javascript(catalog: dict[str, Resource], consumer: User) -> None:
    c = client_for(consumer)
    page = _text(c.get("/catalog/", {"q": "信息"}))
    assert "?q=%E4%BF%A1%E6%81%AF&amp;share_type=unconditional" in page  # a plain link adds the value
    selected = _text(c.get("/catalog/", {"share_type": "unconditional"}))
    assert 'aria-current="true"' in selected and 'href="?"' in selected  # the same link removes it again
    # the 格式 facet travels as ``formats`` (``format`` is the export switch)
    r = c.get("/catalog/", {"formats": "api"})
    assert r.status_code == 200 and "没有符合条件的信息资源" in _text(r)


def test_sample_view_is_audited(catalog: dict[str, Resource], provider: User) -> None:
    from govshare.audit.models import AuditEvent
    from govshare.datasets import services as dataset_services

    people = catalog["people"]
    dataset = dataset_services.mount_resource(actor=provider, resource=people)
    dataset_services.load_rows(actor=provider, dataset=dataset,
                               rows=[{"id_number": make_resident_id("445102", dt.date(1990, 1, 1), 2),
                                      "person_name": "李四", "gender": "女"}])
    pc = client_for(provider)
    pc.get(f"/catalog/resources/{people.pk}/")
    assert not AuditEvent.objects.filter(action="dataset.previewed").exists()  # only on request
    pc.get(f"/catalog/resources/{people.pk}/", {"sample": "1"})
    assert AuditEvent.objects.filter(action="dataset.previewed", target_id=str(dataset.pk)).count() == 1
