"""Verified facts at the service window (窗口受理): a window clerk reads the node's 人口基础库 through the grant of
the clerk's department's window system, with the grant's masks, without its verify_only items, audited with the
key's HMAC like a data-plane query and counted against the clerk's daily quota (one unit per 办件 look-up)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.audit.services import audit_key_hmac
from govshare.baselibs.models import BaseLibrary
from govshare.baselibs.services import fuse
from govshare.baselibs.tests.conftest import City, build_city
from govshare.conftest import client_for
from govshare.core.errors import NotFound
from govshare.core.identifiers import make_resident_id, make_uscc
from govshare.core.masking import mask
from govshare.exchange.choices import ApplicationStatus
from govshare.exchange.dataplane import limits
from govshare.exchange.models import Grant, UsageCounter
from govshare.exchange.services.applications import act, submit_application
from govshare.exchange.services.grants import Decision, revoke_grant
from govshare.exchange.services.window import window_facts
from govshare.licences.models import LicenceUse
from govshare.licences.services import items as service_items
from govshare.organizations.models import Department
from govshare.registry.models import InformationSystem
from govshare.registry.services import create_system

pytestmark = pytest.mark.django_db

ITEM = "11445100MB2C0871XK44405210001"
NO_GRANT = "本窗口系统未获授权查询基础库，仅显示证照信息"
ITEMS = {"id_number": "plain", "person_name": "plain", "gender": "plain", "birth_date": "plain",
         "household_address": "masked", "current_address": "masked", "phone": "verify_only"}


@dataclass
class Window:
    town: City
    library: BaseLibrary
    hall: Department  # 政务服务中心
    clerk: User
    system: InformationSystem


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    limits.reset_purge_clock()


def grant_window(w: Window, items: dict[str, str], **decision: Any) -> Grant:
    """The window system applies for the library (query) and the reviewers approve it, through the services."""
    consumer = testing.user(Role.CONSUMER, dept=w.hall)
    app = submit_application(actor=consumer, resource=w.library.resource, system=w.system, items=list(items),
                             modes=["query"], purpose="窗口受理核验申请人身份信息",
                             legal_basis="《广东省政务数据资源共享管理办法》",
                             valid_to=timezone.localdate() + dt.timedelta(days=90))
    if app.status == ApplicationStatus.COMPLIANCE_REVIEW:
        app = act(actor=w.town.office, application=app, action="pass_compliance")
    assert app.status == ApplicationStatus.PROVIDER_REVIEW, app.status
    provider = testing.user(Role.PROVIDER, dept=w.town.office_dept)
    app = act(actor=provider, application=app, action="approve", decision=Decision(items=items, **decision))
    return Grant.objects.get(application_id=app.pk)


@pytest.fixture
def win(db: None) -> Window:
    town = build_city(people=4)
    library = town.install()
    fuse(actor=town.office, library=library)
    library.refresh_from_db()
    hall = testing.department(town.node, name="潮州市政务服务中心")
    admin = testing.user(Role.DEPT_ADMIN, dept=hall)
    system = create_system(actor=admin, department=hall, name="政务服务大厅综合窗口系统")
    service_items.create_item(actor=town.office, node=town.node, code=ITEM, name="公租房申请", department=hall,
                              materials=[service_items.MaterialSpec("申请表")])
    return Window(town=town, library=library, hall=hall, clerk=testing.user(Role.WINDOW_CLERK, dept=hall),
                  system=system)


def serve(user: User, holder: str, *, case_number: str = "BJ2026-000123") -> Any:
    return client_for(user).post("/licences/window/", {"case_number": case_number, "item": ITEM, "holder": holder})


def section(html: str) -> str:
    start = html.index('id="base-facts"')
    return html[start:html.index("</div>", start)]


def test_clerk_sees_facts_masked_and_plain_per_grant_without_verify_only_items(win: Window) -> None:
    grant_window(win, ITEMS)
    p = win.town.people[1]
    resp = serve(win.clerk, p["id_number"])
    assert resp.status_code == 200
    facts = section(resp.content.decode())
    assert "人口基础库信息" in facts and "政务服务大厅综合窗口系统" in facts
    assert p["person_name"] in facts and p["birth_date"] in facts and "男" in facts
    # masked by the data element's mask, never in clear
    assert mask("address", p["household_address"]) in facts and p["household_address"] not in facts
    assert "现住址" in facts and "已脱敏" in facts
    # verify_only and ungranted items are absent, label and value alike
    assert "联系电话" not in facts and p["phone"] not in facts and mask("mobile", p["phone"]) not in facts
    assert "婚姻状况" not in facts and "已婚" not in facts and "参保状态" not in facts
    assert NO_GRANT not in facts


def test_window_facts_event_is_found_by_the_key_hmac_and_counts_once_against_the_quota(win: Window) -> None:
    grant = grant_window(win, ITEMS)
    p = win.town.people[0]
    serve(win.clerk, p["id_number"].lower())  # the x check character in lower case is the same key
    event = AuditEvent.objects.get(action="window.facts")
    assert event.result == "ok" and event.actor_id == str(win.clerk.pk) and event.actor_role == Role.WINDOW_CLERK
    assert event.data["case_number"] == "BJ2026-000123" and event.data["item_code"] == ITEM
    assert event.data["operator"] == win.clerk.username and event.data["grant"] == str(grant.pk)
    assert event.data["system"] == str(win.system.pk) and event.data["count"] == 1
    assert "phone" not in event.data["items"] and "household_address" in event.data["items"]
    assert p["id_number"] not in str(event.data) and p["person_name"] not in str(event.data)
    refs = set(AuditKeyRef.objects.filter(key_hmac=audit_key_hmac(p["id_number"])).values_list("seq", flat=True))
    lookup_event = AuditEvent.objects.get(action="licences.holder_lookup")
    assert {event.seq, lookup_event.seq} <= refs  # "who looked up this person" finds both
    # one 办件 look-up = one unit of the clerk's quota (the 用证记录), and one call on the grant's counters
    assert LicenceUse.objects.filter(user=win.clerk, channel="window").count() == 1
    assert "今日已查询 1 次" in client_for(win.clerk).get("/licences/window/").content.decode()
    today = timezone.localdate()
    assert UsageCounter.objects.get(grant=grant, bucket=f"d:{today:%Y%m%d}").count == 1


def test_quota_reached_reads_nothing(win: Window, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "LICENCE_CLERK_DAILY_QUOTA": 1}
    grant_window(win, ITEMS)
    p = win.town.people[0]
    assert serve(win.clerk, p["id_number"]).status_code == 200
    resp = serve(win.clerk, p["id_number"], case_number="BJ2")
    assert resp.status_code == 429 and 'id="base-facts"' not in resp.content.decode()
    assert AuditEvent.objects.filter(action="window.facts").count() == 1
    assert LicenceUse.objects.count() == 1


def test_without_a_grant_the_page_says_so_and_shows_the_licences(win: Window) -> None:
    p = win.town.people[0]
    html = serve(win.clerk, p["id_number"]).content.decode()
    facts = section(html)
    assert NO_GRANT in facts and p["person_name"] not in facts
    assert 'id="licences"' in html and 'id="materials"' in html
    denied = AuditEvent.objects.get(action="window.facts")
    assert denied.result == "denied" and denied.data["result"] == "no_grant"
    assert LicenceUse.objects.count() == 1
    # another department's grant on the library is not the window's
    other = testing.department(win.town.node, name="市教育局")
    other_system = create_system(actor=testing.user(Role.DEPT_ADMIN, dept=other), department=other, name="入学系统")
    grant_window(Window(town=win.town, library=win.library, hall=other, clerk=win.clerk, system=other_system),
                 ITEMS)
    assert NO_GRANT in section(serve(win.clerk, p["id_number"], case_number="BJ2").content.decode())


def test_a_revoked_grant_is_no_grant(win: Window) -> None:
    grant = grant_window(win, ITEMS)
    revoke_grant(actor=win.town.office, grant=grant, reason="测试撤销")
    result = window_facts(actor=win.clerk, case_number="BJ1", item_code=ITEM, holder_kind="person",
                          holder_key=win.town.people[0]["id_number"])
    assert (result.status, result.reason, result.facts) == ("no_grant", "grant_revoked", ())


def test_not_found_and_row_filter_answer_alike(win: Window) -> None:
    grant_window(win, ITEMS, row_filter={"field": "birth_date", "op": "gte", "value": "1973-01-01"})
    stranger = make_resident_id("445102", dt.date(1990, 5, 17), 23)
    html = serve(win.clerk, stranger).content.decode()
    assert "基础库中没有该主体的记录" in section(html)
    people = win.town.people  # born 1971, 1972, 1973, 1974
    outside = window_facts(actor=win.clerk, case_number="BJ2", item_code=ITEM, holder_kind="person",
                           holder_key=people[0]["id_number"])
    inside = window_facts(actor=win.clerk, case_number="BJ3", item_code=ITEM, holder_kind="person",
                          holder_key=people[3]["id_number"])
    assert (outside.status, outside.facts) == ("not_found", ())
    assert inside.status == "found"
    assert {f.column: f.value for f in inside.facts}["person_name"] == people[3]["person_name"]
    assert [f.column for f in inside.facts if f.masked] == ["household_address", "current_address"]


def test_another_nodes_library_is_not_found_and_not_used(win: Window) -> None:
    grant_window(win, ITEMS)
    county = testing.node("445102", name="湘桥区", level="county", parent=win.town.node)
    county_clerk = testing.user(Role.WINDOW_CLERK, dept=testing.department(county, name="湘桥区政务服务中心"))
    with pytest.raises(NotFound):
        window_facts(actor=county_clerk, case_number="BJ1", item_code=ITEM, holder_kind="person",
                     holder_key=win.town.people[0]["id_number"], library_id=win.library.pk)
    with pytest.raises(NotFound):  # the right node, the wrong kind of library
        window_facts(actor=win.clerk, case_number="BJ1", item_code=ITEM, holder_kind="company",
                     holder_key=make_uscc("9", "1", "445102", "MA4W3K2J"), library_id=win.library.pk)
    assert LicenceUse.objects.count() == 0  # refused before anything was looked up or counted
    result = window_facts(actor=county_clerk, case_number="BJ2", item_code=ITEM, holder_kind="person",
                          holder_key=win.town.people[0]["id_number"])
    assert result.status == "no_library" and result.facts == ()


def test_the_grants_daily_quota_applies_to_the_window_too(win: Window) -> None:
    grant_window(win, ITEMS, daily_quota=1)
    p = win.town.people[0]
    assert p["person_name"] in section(serve(win.clerk, p["id_number"]).content.decode())
    facts = section(serve(win.clerk, p["id_number"], case_number="BJ2").content.decode())
    assert "本次基础库查询未执行，仅显示证照信息" in facts and p["person_name"] not in facts
    refused = AuditEvent.objects.get(action="window.facts", result="denied")
    assert refused.data["result"] == "over_daily_quota" and refused.data["case_number"] == "BJ2"
