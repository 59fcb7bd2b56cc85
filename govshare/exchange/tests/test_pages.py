"""The exchange's portal pages (共享交换) through django.test.Client: apply → 符合性审查 → provider approval with a
mode per item → the consumer sees the grant; inference-guard warnings before confirming; refusal needs a
reason; scoping (404); emergency suspension; overdue highlighting; query counts of the inbox lists."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog.services import ItemSpec
from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.models import Application, ApplicationStep, Grant, Suspension
from govshare.exchange.services.applications import act, submit_application
from govshare.exchange.services.grants import Decision
from govshare.registry.services import create_system

pytestmark = pytest.mark.django_db

PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
]


class World:
    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any) -> None:
        self.city, self.provider, self.consumer, self.office = city, provider, consumer, office
        self.consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
        self.sec_admin = testing.user(Role.SEC_ADMIN, at=city)
        self.system = create_system(actor=self.consumer_admin, department=consumer.department, name="社保经办系统")
        self.resource = testing.resource(provider.department, name="人口基本信息", items=PERSON_ITEMS,
                                         share_type="conditional", share_modes=["api", "file"],
                                         publish_by=office)
        ds = mount_resource(actor=provider, resource=self.resource)
        load_rows(actor=provider, dataset=ds, rows=[
            {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 1), "person_name": f"张{n}",
             "gender": "男", "birth_date": f"1980-01-{n:02d}"} for n in range(1, 4)])
        self.resource.refresh_from_db()

    def submit(self, items: list[str] | None = None) -> Application:
        return submit_application(actor=self.consumer, resource=self.resource, system=self.system,
                                  items=items or ["id_number", "person_name", "gender"], modes=["query"],
                                  purpose="办理社会保险参保登记核验身份", legal_basis="《社会保险法》",
                                  valid_to=timezone.localdate() + dt.timedelta(days=365))

    def at_provider(self, items: list[str] | None = None) -> Application:
        app = self.submit(items)
        return act(actor=self.office, application=app, action="pass_compliance")


@pytest.fixture
def w(city, provider, consumer, data_office) -> World:  # type: ignore[no-untyped-def]
    return World(city, provider, consumer, data_office)


def _apply_body(w: World, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": w.resource.code, "items": ["id_number", "person_name", "birth_date"], "modes": ["query"],
        "purpose": "办理社会保险参保登记核验身份", "legal_basis": "《社会保险法》第五十八条",
        "system_id": str(w.system.pk), "valid_from": "",
        "valid_to": (timezone.localdate() + dt.timedelta(days=200)).isoformat()}
    body.update(over)
    return body


def _field_errors(html: str, field: str) -> str:
    m = re.search(rf'id="id_{field}_errors"[^>]*>(.*?)</ul>', html, re.S)
    return m.group(1) if m else ""


def test_apply_then_compliance_then_provider_approval_then_the_consumer_sees_the_grant(w: World) -> None:
    consumer = client_for(w.consumer)
    page = consumer.get(f"/exchange/apply/?resource={w.resource.code}")
    assert page.status_code == 200
    html = page.content.decode()
    # Items come as checkboxes with their sensitivity level; only the offered modes are shown.
    assert 'type="checkbox" name="items" value="id_number"' in html and "L3 较敏感" in html
    assert 'value="file"' in html and 'value="subscription"' not in html
    assert "社保经办系统" in html
    resp = consumer.post("/exchange/apply/", _apply_body(w))
    app = Application.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/exchange/applications/{app.pk}/"
    assert app.status == "compliance_review" and app.items == ["id_number", "person_name", "birth_date"]
    listed = consumer.get("/exchange/applications/").content.decode()
    assert app.number in listed and "剩余 2 个工作日" in listed

    office = client_for(w.office)
    assert app.number in office.get("/exchange/review/compliance/").content.decode()
    resp = office.post(f"/exchange/applications/{app.pk}/actions/pass_compliance/", {"pass_compliance-reason": ""})
    assert resp.status_code == 302
    app.refresh_from_db()
    assert app.status == "provider_review"

    provider = client_for(w.provider)
    inbox = provider.get("/exchange/review/provider/").content.decode()
    assert app.number in inbox and "剩余 10 个工作日" in inbox
    decide = f"/exchange/applications/{app.pk}/approve/"
    form = provider.get(decide).content.decode()
    assert 'name="mode_id_number"' in form and "确认同意" not in form  # confirm only after the check
    body = {"mode_id_number": "plain", "mode_person_name": "plain", "mode_birth_date": "", "modes": ["query"],
            "rate_limit_per_minute": "60", "daily_quota": "500", "verify_quota_per_key": "5"}
    checked = provider.post(decide, {**body, "step": "check"})
    assert checked.status_code == 200 and "推断防护检查通过" in checked.content.decode()
    assert "确认同意" in checked.content.decode() and not Grant.objects.exists()
    resp = provider.post(decide, {**body, "step": "confirm"})
    assert resp.status_code == 302
    app.refresh_from_db()
    assert app.status == "approved"
    grant = Grant.objects.get()
    assert {i.column_name: i.mode for i in grant.items.all()} == {"id_number": "plain", "person_name": "plain"}
    assert grant.daily_quota == 500

    mine = consumer.get("/exchange/grants/?side=consumer").content.decode()
    assert "人口基本信息" not in client_for(testing.user(Role.CONSUMER, at=w.city)).get(
        "/exchange/grants/").content.decode()
    assert "人口基本信息" in mine and "id_number:明文" in mine
    detail = consumer.get(f"/exchange/grants/{grant.pk}/").content.decode()
    assert "person_name" in detail and "有效" in detail and "撤销授权" not in detail
    history = consumer.get(f"/exchange/applications/{app.pk}/").content.decode()
    assert all(label in history for label in ("提交申请", "符合性审查通过", "提供方同意"))
    exported = consumer.get("/exchange/grants/?side=consumer&format=csv")
    assert exported["Content-Type"].startswith("text/csv") and "人口基本信息" in exported.content.decode()


def test_inference_guard_warnings_are_shown_before_confirming(w: World) -> None:
    app = w.at_provider(["id_number", "person_name", "birth_date"])
    provider = client_for(w.provider)
    decide = f"/exchange/applications/{app.pk}/approve/"
    leaky = {"mode_id_number": "masked", "mode_person_name": "plain", "mode_birth_date": "plain",
             "modes": ["query"], "rate_limit_per_minute": "600", "daily_quota": "10000",
             "verify_quota_per_key": "5"}
    checked = provider.post(decide, {**leaky, "step": "check"})
    html = checked.content.decode()
    assert checked.status_code == 200
    assert "推断防护警告" in html and "可推算出受保护的" in html and "请本节点安全管理员审批" in html
    assert not Grant.objects.exists()
    # Confirming anyway is refused by the service, with the same warnings; nothing is written.
    refused = provider.post(decide, {**leaky, "step": "confirm"})
    assert refused.status_code == 422 and "推断防护警告" in refused.content.decode()
    assert not Grant.objects.exists() and Application.objects.get().status == "provider_review"
    # The security administrator accepts the risk of exactly these modes; then the provider may confirm.
    sec = client_for(w.sec_admin)
    assert app.number in sec.get("/exchange/review/security/").content.decode()
    resp = sec.post(f"/exchange/applications/{app.pk}/guard-override/",
                    {"mode_id_number": "masked", "mode_person_name": "plain", "mode_birth_date": "plain",
                     "reason": "出生日期为业务必需，已评估"})
    assert resp.status_code == 302
    again = provider.post(decide, {**leaky, "step": "check"}).content.decode()
    assert "安全管理员已批准" in again
    assert provider.post(decide, {**leaky, "step": "confirm"}).status_code == 302
    assert Grant.objects.get().guard_override_reason == "出生日期为业务必需，已评估"


def test_refusal_needs_a_reason_beside_the_field_and_writes_nothing(w: World) -> None:
    app = w.at_provider()
    provider = client_for(w.provider)
    steps, events = ApplicationStep.objects.count(), AuditEvent.objects.count()
    resp = provider.post(f"/exchange/applications/{app.pk}/refuse/", {"refusal_reason": "", "reason": ""})
    assert resp.status_code == 422
    html = resp.content.decode()
    assert _field_errors(html, "refusal_reason") and _field_errors(html, "reason")
    assert ApplicationStep.objects.count() == steps and AuditEvent.objects.count() == events
    assert Application.objects.get().status == "provider_review"
    resp = provider.post(f"/exchange/applications/{app.pk}/refuse/",
                         {"refusal_reason": "purpose_mismatch", "reason": "出生日期超出社保登记所需"})
    assert resp.status_code == 302
    app.refresh_from_db()
    assert app.status == "refused" and app.refusal_reason == "purpose_mismatch"
    # The consumer objects (a reason is required by the workflow: shown beside the field), then coordination.
    consumer = client_for(w.consumer)
    page = consumer.get(f"/exchange/applications/{app.pk}/").content.decode()
    assert "使用方提出异议" in page and "撤回申请" in page
    resp = consumer.post(f"/exchange/applications/{app.pk}/actions/object/", {"object-reason": ""})
    assert resp.status_code == 422 and _field_errors(resp.content.decode(), "object-reason")
    assert Application.objects.get().status == "refused"
    consumer.post(f"/exchange/applications/{app.pk}/actions/object/", {"object-reason": "系法定职责所需"})
    assert Application.objects.get().status == "coordination"
    assert app.number in client_for(w.office).get("/exchange/review/coordination/").content.decode()


def test_applications_of_another_department_answer_404(w: World) -> None:
    app = w.submit()
    stranger = testing.user(Role.CONSUMER, at=w.city)
    other = client_for(stranger)
    assert other.get(f"/exchange/applications/{app.pk}/").status_code == 404
    assert other.post(f"/exchange/applications/{app.pk}/actions/withdraw/", {}).status_code == 404
    assert app.number not in other.get("/exchange/applications/").content.decode()
    # The provider does not see it before 符合性审查 either, and cannot open its decision page.
    provider = client_for(w.provider)
    assert provider.get(f"/exchange/applications/{app.pk}/").status_code == 404
    assert provider.get(f"/exchange/applications/{app.pk}/approve/").status_code == 404
    assert provider.get(f"/exchange/applications/{Application().pk}/").status_code == 404
    # Roles without the page get the 403 page; anonymous users are sent to sign in.
    assert client_for(w.consumer).get("/exchange/review/compliance/").status_code == 403
    assert client_for(None).get("/exchange/applications/").status_code == 302
    # The consumer withdraws; the action disappears afterwards.
    consumer = client_for(w.consumer)
    assert consumer.post(f"/exchange/applications/{app.pk}/actions/withdraw/", {"withdraw-reason": ""}
                         ).status_code == 302
    assert Application.objects.get().status == "withdrawn"
    assert "撤回申请</button>" not in consumer.get(f"/exchange/applications/{app.pk}/").content.decode()


def test_apply_form_errors_stand_beside_their_fields(w: World) -> None:
    consumer = client_for(w.consumer)
    resp = consumer.post("/exchange/apply/", _apply_body(w, items=[]))
    assert resp.status_code == 422 and _field_errors(resp.content.decode(), "items")
    # A service error (validity in the past) lands beside valid_to.
    resp = consumer.post("/exchange/apply/", _apply_body(w, valid_to="2000-01-01"))
    assert "有效期" in _field_errors(resp.content.decode(), "valid_to")
    # A mode the resource does not offer is not even a choice.
    resp = consumer.post("/exchange/apply/", _apply_body(w, modes=["subscription"]))
    assert _field_errors(resp.content.decode(), "modes")
    assert not Application.objects.exists()
    assert consumer.get("/exchange/apply/?resource=NOPE").status_code == 404
    assert "信息资源代码" in consumer.get("/exchange/apply/").content.decode()


def test_sec_admin_suspends_a_grant_a_system_and_a_department(w: World) -> None:
    app = w.at_provider()
    act(actor=w.provider, application=app, action="approve",
        decision=Decision(items={"id_number": "plain", "person_name": "plain"}))
    grant = Grant.objects.get()
    sec = client_for(w.sec_admin)
    # Consumers and providers cannot suspend.
    assert client_for(w.provider).post(f"/exchange/grants/{grant.pk}/suspend/", {}).status_code == 403
    page = sec.get(f"/exchange/grants/{grant.pk}/").content.decode()
    assert "立即停用" in page
    resp = sec.post(f"/exchange/grants/{grant.pk}/suspend/", {"grant-scope": "grant",
                                                              "grant-target_id": str(grant.pk),
                                                              "grant-reason": ""})
    assert resp.status_code == 422 and _field_errors(resp.content.decode(), "grant-reason")
    resp = sec.post(f"/exchange/grants/{grant.pk}/suspend/", {"grant-scope": "grant",
                                                              "grant-target_id": str(grant.pk),
                                                              "grant-reason": "疑似数据泄露"})
    assert resp.status_code == 302
    grant.refresh_from_db()
    assert grant.status == "suspended"
    listing = sec.get("/exchange/suspensions/").content.decode()
    assert "疑似数据泄露" in listing and "人口基本信息 → 社保经办系统" in listing
    resp = sec.post("/exchange/suspensions/new/", {"system-scope": "system", "system-target_id": str(w.system.pk),
                                                   "system-reason": "系统被入侵"})
    assert resp.status_code == 302
    resp = sec.post("/exchange/suspensions/new/", {"department-scope": "department",
                                                   "department-target_id": str(w.consumer.department_id),
                                                   "department-reason": "部门整改"})
    assert resp.status_code == 302
    assert set(Suspension.objects.filter(active=True).values_list("scope", flat=True)) == {
        "grant", "system", "department"}
    s = Suspension.objects.get(scope="grant")
    assert sec.post(f"/exchange/suspensions/{s.pk}/lift/", {}).status_code == 302
    grant.refresh_from_db()
    assert grant.status == "active"
    assert client_for(w.consumer).get("/exchange/suspensions/").status_code == 403
    # The provider revokes with a reason.
    provider = client_for(w.provider)
    assert provider.post(f"/exchange/grants/{grant.pk}/revoke/", {"revoke-reason": "业务终止"}).status_code == 302
    grant.refresh_from_db()
    assert grant.status == "revoked"


def test_overdue_stages_are_highlighted(w: World) -> None:
    late = w.submit()
    fresh = w.submit()
    # Simulate elapsed time: the first application's stage ended three days ago.
    Application.objects.filter(pk=late.pk).update(stage_due_at=timezone.now() - dt.timedelta(days=3))
    html = client_for(w.office).get("/exchange/review/compliance/").content.decode()
    rows = re.findall(r"<tr( class=\"overdue\")?>\s*<td><a href=\"/exchange/applications/([0-9a-f-]+)/", html)
    flagged = {pk for cls, pk in rows if cls}
    assert flagged == {str(late.pk)} and {pk for _c, pk in rows} == {str(late.pk), str(fresh.pk)}
    assert "已超期" in html
    # Most urgent first.
    assert rows[0][1] == str(late.pk)
    exported = client_for(w.office).get("/exchange/review/compliance/?format=json").json()
    assert {r["number"]: r["overdue"] for r in exported} == {late.number: "是", fresh.number: ""}
    detail = client_for(w.consumer).get(f"/exchange/applications/{late.pk}/").content.decode()
    assert 'class="overdue"' in detail


def test_inbox_lists_keep_a_constant_number_of_queries(w: World, django_assert_max_num_queries: Any) -> None:
    office, provider, consumer = client_for(w.office), client_for(w.provider), client_for(w.consumer)
    for _ in range(2):
        w.submit()
        w.at_provider()
    with django_assert_max_num_queries(10):
        few = office.get("/exchange/review/compliance/")
    with django_assert_max_num_queries(10):
        provider.get("/exchange/review/provider/")
    for _ in range(6):
        w.submit()
        w.at_provider()
    with django_assert_max_num_queries(10):
        many = office.get("/exchange/review/compliance/")
    with django_assert_max_num_queries(10):
        provider_many = provider.get("/exchange/review/provider/")
    with django_assert_max_num_queries(10):
        consumer.get("/exchange/applications/")
    assert few.content.decode().count("/exchange/applications/") < many.content.decode().count(
        "/exchange/applications/")
    assert provider_many.content.decode().count('href="/exchange/applications/') == 8


def test_grant_list_keeps_a_constant_number_of_queries(w: World, django_assert_max_num_queries: Any) -> None:
    consumer, provider = client_for(w.consumer), client_for(w.provider)
    for _ in range(5):
        app = w.at_provider()
        act(actor=w.provider, application=app, action="approve",
            decision=Decision(items={"id_number": "masked", "person_name": "plain"}))
    with django_assert_max_num_queries(10):
        html = consumer.get("/exchange/grants/?side=consumer").content.decode()
    with django_assert_max_num_queries(10):
        provider.get("/exchange/grants/?side=provider")
    assert html.count("id_number:脱敏") == 5


def test_a_resource_that_is_not_shareable_shows_its_basis_and_no_form(w: World) -> None:
    closed = testing.resource(w.provider.department, name="涉案人员信息", items=PERSON_ITEMS[:2], share_type="none",
                              no_share_basis="《公安机关办理刑事案件程序规定》", share_modes=["api"],
                              publish_by=w.office)
    html = client_for(w.consumer).get(f"/exchange/apply/?resource={closed.code}").content.decode()
    assert "该资源不予共享" in html and "《公安机关办理刑事案件程序规定》" in html and "提交申请" not in html
