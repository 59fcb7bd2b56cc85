"""Portal pages of the licences app through django.test.Client: the window clerk's 一号申请 page (lookup →
licences → materials 免提交, 用证记录, quota, identifier errors beside the field), licence verification, and
the 用证记录 list with its export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.audit.services import audit_key_hmac
from govshare.conftest import client_for
from govshare.licences.models import Licence, LicenceUse
from govshare.licences.services.issue import revoke_licence
from govshare.licences.tests.conftest import COMPANY, PERSON, LicenceWorld

pytestmark = pytest.mark.django_db

ITEM = "11445100MB2C0871XK44405210001"


def serve(client: Client, holder: str, *, case_number: str = "BJ2026-000123", item: str = ITEM) -> Any:
    return client.post("/licences/window/", {"case_number": case_number, "item": item, "holder": holder})


def test_clerk_serves_one_case_and_a_licence_use_is_recorded(lw: LicenceWorld) -> None:
    marriage = lw.marry()
    c = client_for(lw.clerk)
    page = c.get("/licences/window/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<title>窗口受理" in html and "公租房申请" in html and 'name="csrfmiddlewaretoken"' in html
    assert "今日已查询 0 次，每日限额 200 次" in html

    resp = serve(c, PERSON.lower())  # the lower-case check character x is accepted
    assert resp.status_code == 200
    html = resp.content.decode()
    # verified facts, the licence with its status, and the materials: only 结婚证 need not be brought
    assert "陈晓明" in html and "1990-05-17" in html and marriage.number in html
    assert "有效（签名验证通过）" in html
    assert html.count("免提交（已调用电子证照）") == 1 and html.count("<td>需提交</td>") == 2
    assert "其中 1 项材料已有电子证照" in html
    assert "今日已查询 1 次" in html

    use = LicenceUse.objects.get()
    assert (use.channel, use.user_id, use.case_number, use.item_code) == ("window", lw.clerk.pk, "BJ2026-000123",
                                                                          ITEM)
    assert list(use.licences.values_list("number", flat=True)) == [marriage.number]
    lookup_event = AuditEvent.objects.get(action="licences.holder_lookup")
    assert lookup_event.data["case_number"] == "BJ2026-000123" and PERSON not in str(lookup_event.data)
    assert AuditKeyRef.objects.filter(key_hmac=audit_key_hmac(PERSON), seq=lookup_event.seq).exists()
    assert AuditEvent.objects.filter(action="licences.materials_checked", actor_id=str(lw.clerk.pk)).count() == 1


def test_company_lookup_lists_the_business_licence(lw: LicenceWorld) -> None:
    business = lw.register()
    html = serve(client_for(lw.clerk), COMPANY).content.decode()
    assert business.number in html and "统一社会信用代码（校验通过）" in html
    assert "潮州市韩瓷陶瓷有限公司" in html and html.count("免提交（已调用电子证照）") == 1


def test_revoked_and_tampered_licences_are_not_offered(lw: LicenceWorld) -> None:
    revoked = lw.marry(number="J-OLD")
    revoke_licence(actor=lw.civil_staff, licence=revoked, reason="注销")
    tampered = lw.marry(number="J-EDITED")
    Licence.objects.filter(pk=tampered.pk).update(holder_name="别人")
    html = serve(client_for(lw.clerk), PERSON).content.decode()
    assert "J-OLD" not in html and "J-EDITED" not in html
    assert "电子证照库中没有该申请人的有效证照" in html and "免提交（已调用电子证照）" not in html
    assert LicenceUse.objects.count() == 1


def test_daily_quota_exceeded_shows_a_clear_message(lw: LicenceWorld, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "LICENCE_CLERK_DAILY_QUOTA": 2}
    lw.marry()
    c = client_for(lw.clerk)
    assert serve(c, PERSON).status_code == 200
    assert serve(c, PERSON, case_number="BJ2").status_code == 200
    resp = serve(c, PERSON, case_number="BJ3")
    assert resp.status_code == 429
    html = resp.content.decode()
    assert "今日查询次数已达上限（2 次），本次未查询" in html and "今日已查询 2 次，每日限额 2 次" in html
    assert 'id="licences"' not in html
    assert LicenceUse.objects.count() == 2
    denied = AuditEvent.objects.get(action="licences.holder_lookup", result="denied")
    assert denied.data["reason"] == "quota"


def test_invalid_identifier_checksum_is_shown_beside_the_field(lw: LicenceWorld) -> None:
    bad = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    resp = serve(client_for(lw.clerk), bad)
    assert resp.status_code == 200
    html = resp.content.decode()
    start = html.index('id="id_holder"')
    errors = html.index('id="id_holder_errors"')
    assert start < errors < html.index("</div>", start)  # in the holder field's own block
    assert "证件号码无效" in html
    assert LicenceUse.objects.count() == 0 and not AuditEvent.objects.filter(action="licences.holder_lookup")


def test_missing_fields_and_unknown_item_are_errors_beside_their_fields(lw: LicenceWorld) -> None:
    html = serve(client_for(lw.clerk), PERSON, case_number="", item="NO-SUCH-ITEM").content.decode()
    assert 'id="id_case_number_errors"' in html and 'id="id_item_errors"' in html
    assert LicenceUse.objects.count() == 0


def test_items_of_another_node_are_not_offered(lw: LicenceWorld) -> None:
    county = testing.node("445102", name="湘桥区", level="county", parent=lw.city)
    clerk = testing.user(Role.WINDOW_CLERK, dept=testing.department(county))
    html = client_for(clerk).get("/licences/window/").content.decode()
    assert "公租房申请" not in html
    resp = serve(client_for(clerk), PERSON)
    assert 'id="id_item_errors"' in resp.content.decode() and LicenceUse.objects.count() == 0


def test_window_page_is_for_window_clerks_only(lw: LicenceWorld, consumer: Any) -> None:
    auditor = testing.user(Role.AUDIT_ADMIN, at=lw.city)
    for user in (lw.office, lw.civil_staff, consumer, auditor):
        c = client_for(user)
        assert c.get("/licences/window/").status_code == 403
        assert serve(c, PERSON).status_code == 403
    assert LicenceUse.objects.count() == 0
    anonymous = Client().get("/licences/window/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    nav = client_for(lw.clerk).get("/licences/verify/").content.decode()
    assert 'href="/licences/window/"' in nav
    assert 'href="/licences/window/"' not in client_for(consumer).get("/licences/verify/").content.decode()


def test_verify_page_answers_each_status(lw: LicenceWorld, consumer: Any) -> None:
    good = lw.marry()
    revoked = lw.marry(number="J-REV")
    revoke_licence(actor=lw.civil_staff, licence=revoked, reason="注销")
    edited = lw.marry(number="J-EDIT")
    Licence.objects.filter(pk=edited.pk).update(fields={"登记日期": "2021-01-01", "配偶姓名": "林婉清"})
    c = client_for(consumer)
    assert c.get("/licences/verify/").status_code == 200

    def status_of(**data: str) -> str:
        html = c.post("/licences/verify/", data).content.decode()
        return html.split("验证结果</h2>")[0] if "验证结果</h2>" in html else html.split('id="result"')[1][:400]

    assert "有效" in status_of(number=good.number)
    html = c.post("/licences/verify/", {"number": good.number}).content.decode()
    assert "verify-valid" in html and "结婚证" in html and PERSON not in html
    assert "verify-revoked" in c.post("/licences/verify/", {"number": "J-REV"}).content.decode()
    tampered = c.post("/licences/verify/", {"number": "J-EDIT"}).content.decode()
    assert "verify-tampered" in tampered and "证照内容与签名不符" in tampered
    # a presented payload that differs from the signed one is tampered; the number may come from the payload
    presented = json.dumps({"number": good.number, "holder_name": "冒名"}, ensure_ascii=False)
    html = c.post("/licences/verify/", {"payload": presented}).content.decode()
    assert "verify-tampered" in html and "所出示的证照数据与签名内容不一致" in html
    assert AuditEvent.objects.filter(action="licences.verified").count() == 5
    missing = c.post("/licences/verify/", {"number": "NO-SUCH"}).content.decode()
    assert "证照不存在" in missing and 'id="result"' not in missing
    bad_json = c.post("/licences/verify/", {"payload": "{oops"}).content.decode()
    assert 'id="id_payload_errors"' in bad_json
    assert 'id="id_number_errors"' in c.post("/licences/verify/", {}).content.decode()
    assert Client().get("/licences/verify/").status_code == 302


def test_uses_list_export_and_scope(lw: LicenceWorld, django_assert_max_num_queries: Any) -> None:
    lw.marry()
    c = client_for(lw.clerk)
    for n in range(3):
        serve(c, PERSON, case_number=f"BJ-{n}")
    other = testing.user(Role.WINDOW_CLERK, dept=lw.clerk.department)
    serve(client_for(other), PERSON, case_number="BJ-OTHER")

    with django_assert_max_num_queries(8):
        html = c.get("/licences/uses/").content.decode()
    assert all(f"BJ-{n}" in html for n in range(3)) and "BJ-OTHER" not in html  # a clerk sees their own
    office_html = client_for(lw.office).get("/licences/uses/").content.decode()
    assert "BJ-OTHER" in office_html and "BJ-0" in office_html
    assert "BJ-1" not in client_for(lw.office).get("/licences/uses/?case_number=BJ-0").content.decode()

    resp = client_for(lw.office).get("/licences/uses/?format=csv")
    assert resp["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["时间", "办件编号", "事项编码"] and len(rows) == 5
    assert {r[1] for r in rows[1:]} == {"BJ-0", "BJ-1", "BJ-2", "BJ-OTHER"} and all(r[-1] == "1" for r in rows[1:])
    assert client_for(lw.civil_staff).get("/licences/uses/").status_code == 403


def test_uses_list_pages_newest_first(lw: LicenceWorld, settings: Any) -> None:
    from govshare.portal import pages

    lw.marry()
    c = client_for(lw.clerk)
    total = pages.PAGE_SIZE + 2
    settings.GOVSHARE = {**settings.GOVSHARE, "LICENCE_CLERK_DAILY_QUOTA": total}
    for n in range(total):
        serve(c, PERSON, case_number=f"P-{n:03d}")
    first = c.get("/licences/uses/").content.decode()
    assert f"P-{total - 1:03d}" in first and "P-000" not in first
    href = first.split('class="pager"><a href="')[1].split('"')[0].replace("&amp;", "&")
    second = c.get("/licences/uses/" + href).content.decode()
    assert "P-000" in second and "P-001" in second and f"P-{total - 1:03d}" not in second


def test_window_page_without_a_base_library_still_serves_the_licences(lw: LicenceWorld) -> None:
    marriage = lw.marry()
    html = serve(client_for(lw.clerk), PERSON).content.decode()
    start = html.index('id="base-facts"')
    facts = html[start:html.index("</div>", start)]
    assert "人口基础库信息" in facts and "本节点尚未建立该基础库，仅显示证照信息" in facts
    assert marriage.number in html and LicenceUse.objects.count() == 1
    event = AuditEvent.objects.get(action="window.facts")
    assert (event.result, event.data["result"], event.data["case_number"]) == ("denied", "no_library", "BJ2026-000123")
    assert AuditKeyRef.objects.filter(key_hmac=audit_key_hmac(PERSON), seq=event.seq).exists()
