"""Portal pages of the audit app through django.test.Client: the audit log (filters, paging, CSV/JSON export),
"who looked up this person" after a window clerk's 一号申请, the chain status with blocks and a verification
run — and 403 for every role but the audit administrator."""
# ruff: noqa: S608 - a test plays a database administrator with raw SQL on a fixed table name

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit import triggers
from govshare.audit.models import AuditEvent, NodeKey, VerificationRun
from govshare.audit.seal import seal_pending
from govshare.audit.services import audit_key_hmac, record_event
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.licences.tests.conftest import COMPANY, OTHER, PERSON, build_world

pytestmark = pytest.mark.django_db

PAGES = ("/audit/", "/audit/lookups/", "/audit/chain/")


def test_who_looked_up_this_person_finds_the_window_lookup(city: testing.Node, data_office: User, auditor: User,
                                                           django_assert_max_num_queries: Any) -> None:
    lw = build_world(city, data_office)
    lw.marry()
    clerk = client_for(lw.clerk)
    item = lw.item.code
    assert clerk.post("/licences/window/", {"case_number": "BJ-77", "item": item, "holder": PERSON}).status_code == 200
    clerk.post("/licences/window/", {"case_number": "BJ-78", "item": item, "holder": OTHER})

    c = client_for(auditor)
    page = c.get("/audit/lookups/")
    assert page.status_code == 200 and "<title>谁查询过此人" in page.content.decode()
    with django_assert_max_num_queries(14):  # fixed: no query per event found
        resp = c.post("/audit/lookups/", {"subject": PERSON.lower()})
    assert resp.status_code == 200
    html = resp.content.decode()
    result = html.split('id="result"')[1]
    assert "licences.holder_lookup" in result and "licences.materials_checked" in result
    assert lw.clerk.username in result and "BJ-77" in result and "BJ-78" not in result
    # the licence lookup, the materials check and the base-library facts read (window.facts, refused here: the
    # clerk's node has no base library) — all carry the person's key HMAC
    assert "window.facts" in result and "共 3 条记录" in result
    search = AuditEvent.objects.get(action="audit.lookups")
    assert search.data["key_hmacs"] == [audit_key_hmac(PERSON)] and search.data["found"] == 3
    assert search.target_type == "person" and PERSON not in json.dumps(search.data)
    # the search itself shows up in the next search for the same person
    again = c.post("/audit/lookups/", {"subject": PERSON}).content.decode().split('id="result"')[1]
    assert "共 4 条记录" in again and "audit.lookups" in again
    # a company is looked up by its 统一社会信用代码
    lw.register()
    clerk.post("/licences/window/", {"case_number": "BJ-CO", "item": item, "holder": COMPANY})
    company = c.post("/audit/lookups/", {"subject": COMPANY}).content.decode().split('id="result"')[1]
    assert "BJ-CO" in company and "BJ-77" not in company


def test_lookup_search_rejects_a_bad_checksum_beside_the_field(auditor: User) -> None:
    person = make_resident_id("445102", __import__("datetime").date(1990, 5, 17), 23)
    bad = person[:-1] + ("0" if person[-1] != "0" else "1")
    html = client_for(auditor).post("/audit/lookups/", {"subject": bad}).content.decode()
    assert 'id="id_subject_errors"' in html and "证件号码无效" in html and 'id="result"' not in html
    assert not AuditEvent.objects.filter(action="audit.lookups").exists()


@pytest.mark.parametrize("role", [Role.SYS_ADMIN, Role.SEC_ADMIN, Role.DATA_OFFICE, Role.DEPT_ADMIN, Role.PROVIDER,
                                  Role.CONSUMER, Role.WINDOW_CLERK])
def test_other_roles_get_403(city: testing.Node, role: str, make_events: Callable[..., Any]) -> None:
    make_events(2)
    user = testing.user(role, at=city) if role in (Role.SYS_ADMIN, Role.SEC_ADMIN, Role.DATA_OFFICE) else \
        testing.user(role, dept=testing.department(city))
    c = client_for(user)
    for path in PAGES:
        resp = c.get(path)
        assert resp.status_code == 403 and "无权访问" in resp.content.decode()
        assert c.get(path + "?format=csv").status_code == 403
        assert c.post(path, {"subject": PERSON}).status_code == 403
    assert not VerificationRun.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="audit.").exists()
    nav = c.get("/licences/verify/").content.decode()
    assert 'href="/audit/' not in nav


def test_anonymous_is_sent_to_sign_in() -> None:
    for path in PAGES:
        resp = Client().get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_events_filters_and_paging(auditor: User, make_events: Callable[..., Any],
                                   django_assert_max_num_queries: Any) -> None:
    make_events(55, action="exchange.grant.created")
    record_event(actor="worker", action="catalog.resource.publish", target_type="resource", target_id="R-1",
                 result="denied")
    c = client_for(auditor)
    with django_assert_max_num_queries(8):
        resp = c.get("/audit/")
    html = resp.content.decode()
    assert resp.status_code == 200 and "<title>审计日志" in html and "catalog.resource.publish" in html
    assert 'href="/audit/"' in html and 'href="/audit/lookups/"' in html  # the auditor's menu

    only = c.get("/audit/?action=catalog.").content.decode()
    assert "catalog.resource.publish" in only and "exchange.grant.created" not in only
    assert "resource:R-1" in c.get("/audit/?target_id=R-1&result=denied").content.decode()
    assert "resource:R-1" not in c.get("/audit/?target_id=R-1&result=ok").content.decode()
    assert "tester-3" in c.get("/audit/?actor=tester-3").content.decode()
    assert "暂无数据" in c.get("/audit/?occurred_from=2099-01-01T00:00").content.decode()
    assert "catalog.resource.publish" in c.get("/audit/?occurred_from=2020-01-01T00:00").content.decode()
    bad = c.get("/audit/?occurred_from=yesterday").content.decode()
    assert 'id="id_occurred_from_errors"' in bad and "暂无数据" in bad
    reversed_range = c.get("/audit/?occurred_from=2026-02-01T00:00&occurred_to=2026-01-01T00:00").content.decode()
    assert 'id="id_occurred_to_errors"' in reversed_range

    # newest first; the next page keeps the filter
    first = c.get("/audit/?action=exchange.*").content.decode()
    href = first.split('class="pager"><a href="')[1].split('"')[0].replace("&amp;", "&")
    assert "action=exchange." in href
    second = c.get("/audit/" + href).content.decode()
    seqs = sorted(e.seq for e in AuditEvent.objects.filter(action="exchange.grant.created"))
    assert f"<td>{seqs[-1]}</td>" in first and f"<td>{seqs[0]}</td>" not in first
    assert f"<td>{seqs[0]}</td>" in second and "catalog.resource.publish" not in second


def test_csv_and_json_export(auditor: User, make_events: Callable[..., Any]) -> None:
    make_events(3, action="exchange.grant.created")
    record_event(actor="=cmd|' /C calc'!A0", action="exchange.grant.revoked", target_type="grant", target_id="G-9",
                 data={"reason": "=HYPERLINK(\"http://x\")"})
    record_event(actor="worker", action="catalog.resource.publish")
    c = client_for(auditor)
    resp = c.get("/audit/?action=exchange.&format=csv")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert 'filename="audit-events.csv"' in resp["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "时间", "主体"] and len(rows) == 5
    assert [r[5] for r in rows[1:]] == ["exchange.grant.revoked"] + ["exchange.grant.created"] * 3  # newest first
    assert rows[1][2].startswith("'=") and "G-9" in rows[1][6]
    exported = AuditEvent.objects.get(action="audit.events.export")
    assert exported.data["format"] == "csv" and exported.data["filters"] == {"action": "exchange."}

    data = json.loads(c.get("/audit/?format=json&result=ok").content)
    actions = [row["action"] for row in data]
    assert "catalog.resource.publish" in actions and "audit.events.export" in actions
    assert data[0]["seq"] > data[-1]["seq"] and all(row["sealed"] == "否" for row in data)


def test_chain_status_blocks_and_verification(auditor: User, make_events: Callable[..., Any],
                                              django_assert_max_num_queries: Any) -> None:
    make_events(7)
    c = client_for(auditor)
    html = c.get("/audit/chain/").content.decode()
    assert "尚无已封存区块" in html and "尚未校验过" in html
    seal_pending(block_events=3)
    make_events(2, action="after.seal")
    with django_assert_max_num_queries(14):
        html = c.get("/audit/chain/").content.decode()
    assert "<title>审计链状态" in html and NodeKey.objects.get(active=True).key_id in html
    blocks = html.split('id="blocks"')[1]
    assert blocks.count("<tr>") == 4  # header + 3 blocks

    resp = c.post("/audit/chain/", {"pinned_key": NodeKey.objects.get(active=True).public_key})
    assert resp.status_code == 302 and resp["Location"] == "/audit/chain/"
    run = VerificationRun.objects.get()
    assert run.ok and run.key_source == "pinned" and run.run_by == auditor.username
    after = c.get("/audit/chain/").content.decode()
    assert "审计链校验通过" in after and "verify-ok" in after and "使用固定公钥" in after
    assert AuditEvent.objects.filter(action="audit.verify", actor_id=str(auditor.pk)).count() == 1
    # unsealed events are marked as such in the log
    assert "<td>否</td>" in c.get("/audit/?action=after.seal").content.decode()

    csv_rows = list(csv.reader(io.StringIO(c.get("/audit/chain/?format=csv").content.decode("utf-8-sig"))))
    assert csv_rows[0][0] == "区块" and [r[0] for r in csv_rows[1:]] == ["1", "2", "3"]

    bad_key = c.post("/audit/chain/", {"pinned_key": "04zz"}).content.decode()
    assert 'id="id_pinned_key_errors"' in bad_key and VerificationRun.objects.count() == 1


def test_verification_shows_a_tampered_event(auditor: User, make_events: Callable[..., Any]) -> None:
    events = make_events(6)
    seal_pending()
    triggers.uninstall(connection)  # a database administrator drops the triggers and edits a sealed row
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{AuditEvent._meta.db_table}" SET "target_id" = %s WHERE "seq" = %s',
                       ["forged", events[3].seq])
    c = client_for(auditor)
    c.post("/audit/chain/", {})
    run = VerificationRun.objects.get()
    assert not run.ok and run.first_bad_seq == events[3].seq
    html = c.get("/audit/chain/").content.decode()
    assert "verify-failed" in html and f"seq {events[3].seq}" in html and "事件内容被修改" in html
    assert "使用数据库中的公钥" in html
