"""Journeys through the demo city in a real browser, as the people who do them would click them.

Each journey is one test: the pytest workers serve separate copies of the demo, so a journey's steps must run
on one worker."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from govshare.client import GovshareClient
from govshare.portal.tests.browser import harness
from govshare.portal.tests.browser.conftest import Sessions

PROPERTY = "不动产登记信息"  # 市自然资源局, 有条件共享, mounted with 500 rows
CONSUMER = "zsj_consumer"  # 市政数局 业务员: its 一网通办受理平台 has a printed credential
CONSUMER_ADMIN = "zsj_admin"  # 部门内部审核 (the demo turns it on for the city)
PROVIDER = "zrzyj_provider"
SYSTEM = "一网通办受理平台"
ITEMS = ("property_unit", "property_location", "right_holder")  # 不动产单元号 (key), 坐落, 权利人 (L3)


def _submit(page: Any, button_text: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button_text, exact=True).click()


def _messages(page: Any) -> str:
    box = page.query_selector("ul.messages")
    return box.inner_text() if box else ""


def _shoot(page: Any, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _act(page: Any, label: str, reason: str = "") -> None:
    """Submit the review action form whose legend is ``label`` on an application page."""
    form = page.locator("form.action-form", has=page.locator("legend", has_text=re.compile(f"^{label}$")))
    if reason:
        form.locator("textarea").fill(reason)
    with page.expect_navigation():
        form.get_by_role("button", name=label, exact=True).click()


def test_apply_review_approve_call_audit_and_dispute(sessions: Sessions, site: harness.Site,
                                                     screenshots: Path) -> None:
    shots = screenshots / "journey-exchange"

    # 使用方: search the catalog, open the resource, apply.
    page = sessions.page(CONSUMER)
    page.goto(site.url + "/catalog/")
    page.fill("input[name=q]", PROPERTY)
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    with page.expect_navigation():
        page.locator("main").get_by_role("link", name=PROPERTY, exact=True).first.click()
    assert PROPERTY in page.title()
    with page.expect_navigation():
        page.locator("main").get_by_role("link", name="申请共享").click()
    assert "/exchange/apply/" in page.url, page.url
    for column in ITEMS:
        page.check(f"input[name=items][value={column}]")
    for box in page.query_selector_all("input[name=modes]"):
        if box.get_attribute("value") in ("query", "verify"):
            box.check()
    page.fill("textarea[name=purpose]", "不动产登记“一窗受理”时查询并核验房屋坐落")
    page.select_option("select[name=system_id]", label=SYSTEM)
    if not page.input_value("input[name=valid_to]"):  # a date input shows nothing for a non-ISO initial value
        page.fill("input[name=valid_to]", (dt.date.today() + dt.timedelta(days=180)).isoformat())
    _shoot(page, shots, "01-apply")
    _submit(page, "提交申请")
    assert "/exchange/applications/" in page.url, page.locator("main").inner_text()
    number = re.search(r"SQ\w+", page.title())
    assert number, page.title()
    app_url = page.url
    stage = page.locator("main table").first.inner_text()

    # 部门管理员: internal review, from the inbox (the demo city turns 部门内部审核 on).
    if "部门内部审核" in stage:
        page = sessions.page(CONSUMER_ADMIN)
        page.goto(site.url + "/exchange/review/internal/")
        with page.expect_navigation():
            page.get_by_role("link", name=number.group(0)).click()
        _act(page, "部门内部审核通过", "本部门业务需要")
        assert "符合性审查" in _messages(page), _messages(page)
    else:
        assert "符合性审查" in stage, stage

    # 数据主管部门: compliance review.
    page = sessions.page("shujuju")
    page.goto(site.url + "/exchange/review/compliance/")
    with page.expect_navigation():
        page.get_by_role("link", name=number.group(0)).click()
    _act(page, "符合性审查通过", "事由与事项对应，信息项最小必要")
    assert "提供方审核" in _messages(page), _messages(page)

    # 提供方: approve with a mode per item (坐落 plain, 权利人 verify only), after the inference check.
    page = sessions.page(PROVIDER)
    page.goto(site.url + "/exchange/review/provider/")
    with page.expect_navigation():
        page.get_by_role("link", name=number.group(0)).click()
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("同意授权")).click()
    selects = sorted(s.get_attribute("name") for s in page.query_selector_all("select[name^=mode_]"))
    assert selects == sorted(f"mode_{c}" for c in ITEMS), selects
    for column in ITEMS:
        page.select_option(f"select[name=mode_{column}]", "verify_only" if column == "right_holder" else "plain")
    _submit(page, "检查推断风险")
    assert page.query_selector(".guard-ok") is not None, page.locator("main").inner_text()
    _shoot(page, shots, "02-decide")
    _submit(page, "确认同意")
    assert page.url.rstrip("/") == app_url.rstrip("/") or "/exchange/grants/" in page.url, page.url
    assert "已授权" in page.locator("main").inner_text()

    # 使用方: sees the grant, then its system calls the data plane with the demo credential.
    page = sessions.page(CONSUMER)
    page.goto(app_url)
    with page.expect_navigation():
        page.get_by_role("link", name="查看授权").click()
    grant_url = page.url
    grant_id = grant_url.rstrip("/").rsplit("/", 1)[-1]
    grant_text = page.locator("main").inner_text()
    assert PROPERTY in grant_text and "仅核验" in grant_text, grant_text
    _shoot(page, shots, "03-grant")
    page.goto(site.url + "/exchange/grants/")
    assert PROPERTY in page.locator("main").inner_text()

    cred = site.credential(SYSTEM)
    code = re.search(r"\d{6}/\d{6}/\d{6}", grant_text)
    assert code, grant_text
    gs = GovshareClient(site.url, cred["app_key"], cred["app_secret"], operator="综合窗口01",
                        case_number=f"BJ-{number.group(0)}", item_code="11445100MB2C0871XY",
                        purpose="不动产登记受理核验")
    found = gs.query(code.group(0), filter='property_location prefix "潮州市"', limit=1)
    record = found["records"][0]
    unit, location = record["key"], record["data"]["property_location"]
    assert unit and location and "right_holder" not in record["data"]  # verify_only never comes out
    assert gs.verify(code.group(0), unit, {"property_location": location})["all_match"] is True
    assert gs.verify(code.group(0), unit, {"property_location": location + "甲"})["all_match"] is False

    # 审计管理员: the grant and the verify calls are in the audit log.
    page = sessions.page("auditadmin")
    page.goto(site.url + f"/audit/?action=grant.created&target_id={grant_id}")
    assert grant_id in page.locator("main").inner_text()
    page.goto(site.url + f"/audit/?action=dataplane.verify&actor={cred['app_key']}")
    rows = page.locator("main table tbody tr").filter(has_text=f"BJ-{number.group(0)}")
    assert rows.count() >= 2, page.locator("main").inner_text()
    _shoot(page, shots, "04-audit")

    # 使用方 raises a dispute on the record; 提供方 accepts and confirms it (resolved).
    page = sessions.page(CONSUMER)
    page.goto(site.url + "/quality/disputes/new/")
    row = page.locator("tr", has_text=PROPERTY)
    with page.expect_navigation():
        row.get_by_role("link").first.click()
    page.fill("input[name=record_key]", unit)
    page.select_option("select[name=column]", "property_location")
    page.fill("textarea[name=reason]", "坐落与现场核查不一致，请核实")
    category = page.query_selector("select[name=category]")
    if category is not None:
        page.select_option("select[name=category]", index=1)
    _submit(page, "提交")
    assert "/quality/disputes/" in page.url and "new" not in page.url, page.locator("main").inner_text()
    dispute_url = page.url
    page = sessions.page(PROVIDER)
    page.goto(dispute_url)
    _act_dispute(page, "受理")
    _act_dispute(page, "核实无误", "经核查登记簿，坐落无误")
    assert "已办结" in page.locator("main table").first.inner_text()
    _shoot(page, shots, "05-dispute")


def _act_dispute(page: Any, label: str, text: str = "") -> None:
    card = page.locator("div.card", has=page.get_by_role("heading", name=label, exact=True))
    if text:
        card.locator("textarea").fill(text)
    with page.expect_navigation():
        card.get_by_role("button", name=label, exact=True).click()
    assert "已办理" in _messages(page), page.locator("main").inner_text()


def test_catalog_import_with_bad_rows_names_them(sessions: Sessions, site: harness.Site,
                                                 screenshots: Path) -> None:
    # 数据主管部门 uploads an external open-data catalog (CSV) with two bad rows: nothing is written, and the
    # error report names the rows and the columns, on the page and on the report page.
    rows = ["标题,数源单位,更新周期", "公交站点信息,潮州市交通运输局,每天", ",潮州市交通运输局,每月",
            "道路养护信息,潮州市不存在的局,每年"]
    page = sessions.page("shujuju")
    page.goto(site.url + "/catalog/import/")
    page.set_input_files("input[name=file]", files=[
        {"name": "开放目录.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode("utf-8")}])
    _submit(page, "导入")
    text = page.locator("main").inner_text()
    assert "未写入任何数据" in text, text
    report = [[td.inner_text().strip() for td in tr.query_selector_all("td")]
              for tr in page.query_selector_all("main table:last-of-type tbody tr")]
    problems = {(r[1], r[2]) for r in report if len(r) >= 3}
    assert problems == {("3", "标题"), ("4", "数源单位")}, report
    _shoot(page, screenshots / "journey-import", "01-import-errors")
    page.goto(site.url + "/catalog/import/report/")
    assert "数源单位" in page.locator("main").inner_text() and "开放目录.csv" in page.locator("main").inner_text()
    response = page.goto(site.url + "/catalog/?include_drafts=1&q=公交站点")
    assert response is not None and response.status == 200
    assert "公交站点信息" not in page.locator("main").inner_text()  # all or nothing: the good row is not in

    # 部分导入: the good row goes in as a draft, the bad ones are reported again.
    page.goto(site.url + "/catalog/import/")
    page.set_input_files("input[name=file]", files=[
        {"name": "开放目录.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode("utf-8")}])
    page.check("input[name=partial]")
    _submit(page, "导入")
    assert "已导入" in page.locator("main").inner_text(), page.locator("main").inner_text()
    page.goto(site.url + "/catalog/?include_drafts=1&q=公交站点")
    assert "公交站点信息" in page.locator("main").inner_text()


def test_administrator_signs_in_with_a_one_time_code(sessions: Sessions, site: harness.Site) -> None:
    # A 安全管理员: the password alone is not enough, a wrong code is refused beside the field, the right one
    # signs in (a fresh browser context: no session from the other tests).
    context = sessions._new_context()
    page = context.new_page()
    right = site.totp("secadmin")
    wrong = right[:-1] + str((int(right[-1]) + 1) % 10)
    harness.sign_in(page, site, "secadmin", otp=wrong)
    assert page.query_selector("input[name=password], input[name=code]") is not None, page.url
    assert "动态口令" in page.locator(".errorlist").first.inner_text(), page.locator("main").inner_text()
    harness.sign_in(page, site, "secadmin", otp=right)
    assert page.query_selector("input[name=password], input[name=code]") is None, page.locator("main").inner_text()
    assert "安全管理员" in page.locator("header").inner_text()
    context.close()


def test_window_clerk_serves_one_case(sessions: Sessions, site: harness.Site, screenshots: Path) -> None:
    # 窗口人员: one 办件 — the applicant's 身份证号, the 事项, and the licences and materials come back; the use is
    # recorded under the case number.
    assert site.verify is not None
    case = "BJ2026-WIN-0001"
    page = sessions.page("chuangkou01")
    page.goto(site.url + "/licences/window/")
    page.fill("input[name=case_number]", case)
    page.select_option("select[name=item]", index=1)
    page.fill("input[name=holder]", site.verify["key"])
    _submit(page, "查询")
    text = page.locator("main").inner_text()
    assert page.query_selector("#result") is not None and case in text, text
    assert page.query_selector("#materials") is not None, text
    _shoot(page, screenshots / "journey-window", "01-case")
    page.goto(site.url + "/licences/uses/")
    assert case in page.locator("main").inner_text()
