"""Portal pages of quality (数据质量) and disputes (疑义数据), through django.test.Client: the dispute journey
raise → accept → correct (the change reaches the dataset's change log), scope (404), errors beside the field,
countdown / overdue / escalation, scores and the failing-rows report with its CSV, rules, list query counts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.datasets.changes import live_records
from govshare.quality.models import Dispute, QualityRule
from govshare.quality.services.disputes import raise_dispute
from govshare.quality.services.runs import run_full
from govshare.quality.services.sweep import sweep_disputes
from govshare.quality.tests.conftest import World, rid

pytestmark = pytest.mark.django_db


def errors_of(html: str, field: str) -> str:
    found = re.search(rf'id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def raise_via_page(world: World, n: int = 1, column: str = "birth_date") -> Any:
    consumer = client_for(world.consumer)
    url = f"/quality/disputes/new/?grant={world.grant.pk}"
    return consumer.post(url, {"grant": str(world.grant.pk), "record_key": rid(n), "column": column,
                               "category": "wrong_value", "reason": "出生日期与户籍登记不符"})


def test_raise_accept_and_resolve_with_a_correction(world: World) -> None:
    consumer, provider = client_for(world.consumer), client_for(world.provider)
    # the consumer picks a grant, then the record and the item
    chooser = consumer.get("/quality/disputes/new/").content.decode()
    assert world.resource.name in chooser and f"?grant={world.grant.pk}" in chooser
    raised = raise_via_page(world)
    assert raised.status_code == 302
    d = Dispute.objects.get()
    assert (d.status, d.record_key, d.column_name) == ("submitted", rid(1), "birth_date")

    inbox = provider.get("/quality/disputes/").content.decode()  # the provider's default box: its inbox
    assert d.number in inbox and "剩 2 个工作日" in inbox
    detail = provider.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "受理" in detail and "不予受理" in detail and "更正数据" not in detail

    assert provider.post(f"/quality/disputes/{d.pk}/accept/", {"text": ""}).status_code == 302
    d.refresh_from_db()
    assert d.status == "accepted" and d.resolve_due_at is not None
    detail = provider.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "剩 10 个工作日" in detail and 'name="c_birth_date"' in detail and 'name="c_id_number"' not in detail

    # a correction that changes nothing is refused (use confirm), shown on the page, nothing written
    current = live_records(dataset=world.dataset, keys=[rid(1)])[rid(1)]
    same = {f"c_{k}": v or "" for k, v in current.items() if k != "id_number"}
    refused = provider.post(f"/quality/disputes/{d.pk}/correct/", {**same, "text": "核对"})
    assert refused.status_code == 200 and "核实无误" in refused.content.decode()
    d.refresh_from_db()
    assert d.status == "accepted"

    corrected = {**same, "c_birth_date": "1960-01-02", "text": "按户籍登记更正"}
    # the 身份证号 carries the birth date: a correction breaking cross-field rules is still the provider's call,
    # but the value itself must be valid
    assert provider.post(f"/quality/disputes/{d.pk}/correct/", corrected).status_code == 302
    d.refresh_from_db()
    assert d.status == "resolved_corrected" and d.correction_batch_id == f"dispute:{d.pk}"
    assert live_records(dataset=world.dataset, keys=[rid(1)])[rid(1)]["birth_date"] == "1960-01-02"

    # the change is in the dataset's change log (old and new values), and on the dispute page with its history
    log = provider.get(f"/api/v1/datasets/{world.dataset.pk}/changes", {"after": 0, "limit": 1000}).json()
    mine = [c for c in log["items"] if c["batch_id"] == d.correction_batch_id]
    assert len(mine) == 1 and mine[0]["key"] == rid(1)
    assert mine[0]["data"]["birth_date"] == "1960-01-02"
    assert mine[0]["old"]["birth_date"] == current["birth_date"]
    page = provider.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "已办结(已更正)" in page and "1960-01-02" in page and "按户籍登记更正" in page
    assert page.count("<tr><td>") >= 3  # raise, accept, correct in the history
    seen = consumer.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "已办结(已更正)" in seen and "1960-01-02" not in seen  # the consumer does not read the change log
    assert AuditEvent.objects.filter(action="quality.dispute_correct", target_id=str(d.pk)).exists()


def test_a_dispute_of_another_department_is_404(world: World) -> None:
    raise_via_page(world)
    d = Dispute.objects.get()
    city = world.dataset.node
    other_provider = testing.user(Role.PROVIDER, dept=testing.department(city, name="市民政局"))
    other_consumer = testing.user(Role.CONSUMER, dept=testing.department(city, name="市卫健局"))
    for user in (other_provider, other_consumer):
        c = client_for(user)
        assert c.get(f"/quality/disputes/{d.pk}/").status_code == 404
        assert c.post(f"/quality/disputes/{d.pk}/accept/", {"text": ""}).status_code == 404
        assert d.number not in c.get("/quality/disputes/?box=all").content.decode()
    # a consumer cannot accept its own dispute: the transition table offers it nothing of the provider's
    consumer = client_for(world.consumer)
    page = consumer.post(f"/quality/disputes/{d.pk}/accept/", {"text": ""}, follow=True)
    assert page.status_code == 200 and "无权执行此操作" in page.content.decode()
    d.refresh_from_db()
    assert d.status == "submitted"


def test_raising_errors_show_beside_the_field(world: World) -> None:
    missing = client_for(world.consumer).post(f"/quality/disputes/new/?grant={world.grant.pk}", {
        "grant": str(world.grant.pk), "record_key": "445102199901019999", "column": "", "category": "wrong_value",
        "reason": "查无此人"})
    assert missing.status_code == 200 and "记录不存在" in errors_of(missing.content.decode(), "record_key")
    # 现住址 is not in the grant: not even offered
    form = client_for(world.consumer).get(f"/quality/disputes/new/?grant={world.grant.pk}").content.decode()
    assert 'value="birth_date"' in form and 'value="current_address"' not in form
    assert not Dispute.objects.exists()
    # a grant of another department does not exist for this consumer
    stranger = testing.user(Role.CONSUMER, dept=testing.department(world.dataset.node, name="市民政局"))
    assert client_for(stranger).get(f"/quality/disputes/new/?grant={world.grant.pk}").status_code == 404


def test_overdue_highlighting_and_the_data_office_view_of_escalated_ones(world: World) -> None:
    d = raise_dispute(actor=world.consumer, dataset=world.dataset, record_key=rid(2), reason="性别有误")
    Dispute.objects.filter(pk=d.pk).update(accept_due_at=timezone.now() - dt.timedelta(hours=1))
    provider = client_for(world.provider).get("/quality/disputes/?overdue=1").content.decode()
    assert d.number in provider and "已超期" in provider and "overdue-row" in provider
    office = client_for(world.office)
    assert d.number not in office.get("/quality/disputes/?box=node&escalated=1").content.decode()
    assert sweep_disputes()["escalated"] == 1
    escalated = office.get("/quality/disputes/?box=node&escalated=1").content.decode()
    assert d.number in escalated and "已上报" in escalated
    detail = office.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "已超期上报数据主管部门" in detail and "超期上报数据主管部门" in detail  # the escalate step
    assert 'action="/quality/disputes/' not in detail  # the data office reads; it has no step to take here


def test_scores_issues_csv_and_rules(world: World) -> None:
    office, provider = client_for(world.office), client_for(world.provider)
    # a rule through the page: a bad regex is refused beside the params field
    bad = office.post("/quality/rules/", {"resource_id": str(world.resource.pk), "column": "person_name",
                                          "kind": "pattern", "params": '{"regex": "(a+)+"}'})
    assert bad.status_code == 200 and errors_of(bad.content.decode(), "params")
    assert not QualityRule.objects.exists()
    ok = office.post("/quality/rules/", {"resource_id": str(world.resource.pk), "column": "person_name",
                                         "kind": "length", "params": '{"min": 5}', "message": "姓名过短"})
    assert ok.status_code == 302
    rule = QualityRule.objects.get()
    assert run_full(dataset=world.dataset) is not None  # every 居民n is shorter than 5 characters

    scores = provider.get("/quality/").content.decode()
    assert world.resource.name in scores and "0%" in scores and world.provider_dept.name in scores
    ds = provider.get(f"/quality/datasets/{world.dataset.pk}/").content.decode()
    assert f"rule:{rule.pk}" in ds and "请求全量检查" in ds

    report = provider.get(f"/quality/datasets/{world.dataset.pk}/issues/").content.decode()
    assert rid(1) in report and "姓名过短" in report
    csv = provider.get(f"/quality/datasets/{world.dataset.pk}/issues/?format=csv")
    body = csv.content.decode("utf-8-sig")
    assert csv["Content-Type"].startswith("text/csv") and rid(1) in body and body.count("\n") == world.rows + 1
    assert AuditEvent.objects.filter(action="quality.issues_exported", target_id=str(world.dataset.pk)).exists()
    masked = office.get(f"/quality/datasets/{world.dataset.pk}/issues/?format=csv").content.decode("utf-8-sig")
    assert rid(1) not in masked and "姓名过短" in masked  # the data office sees masked keys
    assert client_for(world.consumer).get(f"/quality/datasets/{world.dataset.pk}/issues/").status_code == 403

    assert office.post(f"/quality/rules/{rule.pk}/toggle/").status_code == 302
    rule.refresh_from_db()
    assert rule.active is False
    assert client_for(world.consumer).get("/quality/rules/").status_code == 403


def test_list_queries_do_not_grow_with_disputes(world: World, django_assert_max_num_queries: Any) -> None:
    for n in range(1, 6):
        raise_dispute(actor=world.consumer, dataset=world.dataset, record_key=rid(n), reason=f"疑义{n}")
    office = client_for(world.office)
    office.get("/quality/disputes/")
    with django_assert_max_num_queries(14):
        page = office.get("/quality/disputes/?box=node")
    assert page.content.decode().count("/quality/disputes/") >= 5
    provider = client_for(world.provider)
    provider.get("/quality/")
    with django_assert_max_num_queries(10):
        provider.get("/quality/")


def test_reject_needs_a_reason_and_a_confirmation_can_be_reopened_once(world: World) -> None:
    provider, consumer = client_for(world.provider), client_for(world.consumer)
    first = raise_dispute(actor=world.consumer, dataset=world.dataset, record_key=rid(3), reason="姓名有误")
    empty = provider.post(f"/quality/disputes/{first.pk}/reject/", {"text": ""})
    assert empty.status_code == 200 and errors_of(empty.content.decode(), "text")
    first.refresh_from_db()
    assert first.status == "submitted"
    assert provider.post(f"/quality/disputes/{first.pk}/reject/", {"text": "非本部门数据"}).status_code == 302
    first.refresh_from_db()
    assert first.status == "rejected"

    d = raise_dispute(actor=world.consumer, dataset=world.dataset, record_key=rid(4), reason="出生日期有误")
    provider.post(f"/quality/disputes/{d.pk}/accept/", {"text": ""})
    provider.post(f"/quality/disputes/{d.pk}/confirm/", {"text": "经核实与户籍系统一致"})
    d.refresh_from_db()
    assert d.status == "resolved_confirmed"
    page = consumer.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "重新核查" in page and "经核实与户籍系统一致" in page
    assert consumer.post(f"/quality/disputes/{d.pk}/reopen/", {"text": "户口本显示不同"}).status_code == 302
    d.refresh_from_db()
    assert (d.status, d.reopen_count) == ("accepted", 1)
    provider.post(f"/quality/disputes/{d.pk}/confirm/", {"text": "再次核实无误"})
    again = consumer.get(f"/quality/disputes/{d.pk}/").content.decode()
    assert "对核实结果有异议" in again  # still offered by the table; the service enforces "once"
    refused = consumer.post(f"/quality/disputes/{d.pk}/reopen/", {"text": "仍不同意"}, follow=True)
    assert "已重新核查过一次" in refused.content.decode()
