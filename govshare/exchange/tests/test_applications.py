"""Applications through the API: stages, decisions with item modes, guards, refusal and coordination,
deadlines and escalation, tightening, revocation and suspension."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog.services import ItemSpec, ResourceFields, apply_action, update_resource
from govshare.conftest import client_for
from govshare.core.epoch import current_epoch
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.models import Application, Grant, Notification
from govshare.exchange.services.applications import sweep_deadlines
from govshare.registry.services import create_system

pytestmark = pytest.mark.django_db

PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
    ItemSpec(name="现住址", element_code="DE0007"),
]


class World:
    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any) -> None:
        self.city, self.provider, self.consumer, self.office = city, provider, consumer, office
        self.consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
        self.provider_admin = testing.user(Role.DEPT_ADMIN, dept=provider.department)
        self.sec_admin = testing.user(Role.SEC_ADMIN, at=city)
        self.system = create_system(actor=self.consumer_admin, department=consumer.department, name="社保经办系统")

    def resource(self, *, share_type: str = "conditional", mounted: bool = True, **kw: Any) -> Any:
        r = testing.resource(self.provider.department, name=kw.pop("name", "人口基本信息"), items=PERSON_ITEMS,
                             share_type=share_type, share_modes=["api", "file"], publish_by=self.office,
                             no_share_basis="《条例》" if share_type == "none" else "", **kw)
        if mounted:
            ds = mount_resource(actor=self.provider, resource=r)
            load_rows(actor=self.provider, dataset=ds, rows=[
                {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 1), "person_name": f"张{n}",
                 "gender": "男", "birth_date": f"1980-01-{n:02d}", "current_address": "广东省潮州市湘桥区西马路1号"}
                for n in range(1, 6)])
            r.refresh_from_db()
        return r

    def apply(self, resource: Any, items: list[str] | None = None, **over: Any) -> Any:
        body = {"resource_id": str(resource.pk), "system_id": str(self.system.pk),
                "items": items or ["id_number", "person_name", "gender"], "modes": ["query", "verify"],
                "purpose": "办理社会保险参保登记核验身份", "legal_basis": "《社会保险法》",
                "valid_to": (timezone.localdate() + dt.timedelta(days=365)).isoformat()}
        body.update(over)
        return client_for(self.consumer).post("/api/v1/exchange/applications", body,
                                              content_type="application/json")


def act(user: Any, app_id: str, action: str, **body: Any) -> Any:
    return client_for(user).post(f"/api/v1/exchange/applications/{app_id}/actions/{action}", body,
                                 content_type="application/json")


@pytest.fixture
def w(city, provider, consumer, data_office) -> World:  # type: ignore[no-untyped-def]
    return World(city, provider, consumer, data_office)


DECISION = {"items": {"id_number": "plain", "person_name": "plain", "gender": "plain"}}


def test_conditional_application_through_every_stage(w: World) -> None:
    r = w.resource()
    resp = w.apply(r)
    assert resp.status_code == 201, resp.content
    app = resp.json()
    assert app["status"] == "compliance_review" and app["stage_due_at"] and app["working_days_left"] == 2
    # The provider does not see it before the data office's 符合性审查.
    assert client_for(w.provider).get(f"/api/v1/exchange/applications/{app['id']}").status_code == 404
    assert act(w.provider, app["id"], "approve", decision=DECISION).status_code == 404
    assert act(w.office, app["id"], "pass_compliance").json()["status"] == "provider_review"
    inbox = client_for(w.provider).get("/api/v1/exchange/applications?box=inbox").json()["items"]
    assert [a["id"] for a in inbox] == [app["id"]]
    # Approval needs a decision; fewer items are fine.
    assert act(w.provider, app["id"], "approve").status_code == 422
    resp = act(w.provider, app["id"], "approve",
               decision={"items": {"id_number": "masked", "person_name": "plain"}, "daily_quota": 500})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "approved" and resp.json()["grant_id"]
    grant = client_for(w.consumer).get(f"/api/v1/exchange/grants/{resp.json()['grant_id']}").json()
    assert grant["items"] == {"id_number": "masked", "person_name": "plain"}
    assert grant["daily_quota"] == 500 and grant["status"] == "active"
    steps = client_for(w.consumer).get(f"/api/v1/exchange/applications/{app['id']}/steps").json()
    assert [s["action"] for s in steps] == ["submit", "pass_compliance", "approve"]
    assert AuditEvent.objects.filter(action="grant.created").count() == 1


def test_not_mounted_goes_to_pending_supply_then_grant_on_supply(w: World) -> None:
    r = w.resource(mounted=False)
    app = w.apply(r).json()
    act(w.office, app["id"], "pass_compliance")
    resp = act(w.provider, app["id"], "approve", decision=DECISION)
    assert resp.json()["status"] == "pending_supply" and not Grant.objects.exists()
    assert act(w.provider, app["id"], "supply").status_code == 409  # still not mounted
    ds = mount_resource(actor=w.provider, resource=r)
    load_rows(actor=w.provider, dataset=ds, rows=[{"id_number": make_resident_id("445102", dt.date(1990, 5, 1), 3),
                                                   "person_name": "李四"}])
    resp = act(w.provider, app["id"], "supply")
    assert resp.json()["status"] == "approved"
    assert Grant.objects.get().items.count() == 3


def test_unconditional_is_approved_at_once_and_recorded(w: World) -> None:
    r = w.resource(share_type="unconditional", name="人口基本信息(无条件)")
    resp = w.apply(r, items=["id_number", "person_name"])
    assert resp.status_code == 201
    assert resp.json()["status"] == "approved"
    g = Grant.objects.get()
    modes = {i.column_name: i.mode for i in g.items.all()}
    assert modes == {"id_number": "masked", "person_name": "plain"}  # L3 masked by default
    # Default modes that would break the inference guard go to the provider instead.
    second = w.apply(r, items=["id_number", "gender"])
    assert second.json()["status"] == "compliance_review"
    assert AuditEvent.objects.filter(action="application.submitted").exists()


def test_not_shareable_cannot_be_applied_for(w: World) -> None:
    r = w.resource(share_type="none", mounted=False)
    resp = w.apply(r)
    assert resp.status_code == 409 and Application.objects.count() == 0


@pytest.mark.parametrize(("over", "field"), [
    ({"items": ["nope"]}, "items"),
    ({"modes": ["subscription"]}, "modes"),  # the resource offers 接口 and 文件 only
    ({"purpose": ""}, "purpose"),
    ({"valid_to": "2000-01-01"}, "valid_to"),
])
def test_bad_applications_name_the_field(w: World, over: dict[str, Any], field: str) -> None:
    r = w.resource(mounted=False)
    resp = w.apply(r, **over)
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == field
    assert Application.objects.count() == 0


def test_inference_guard_and_sec_admin_override(w: World) -> None:
    r = w.resource()
    app = w.apply(r, items=["id_number", "birth_date", "gender"]).json()
    act(w.office, app["id"], "pass_compliance")
    leaky = {"items": {"id_number": "masked", "birth_date": "plain", "gender": "plain"}}
    resp = act(w.provider, app["id"], "approve", decision=leaky)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "inference_guard"
    codes = {v["code"] for v in resp.json()["error"]["details"]["violations"]}
    assert codes == {"correlation"}
    oracle = {"items": {"id_number": "plain", "gender": "verify_only"}}
    resp = act(w.provider, app["id"], "approve", decision=oracle)
    assert {v["code"] for v in resp.json()["error"]["details"]["violations"]} == {"low_entropy_verify"}
    assert not Grant.objects.exists()
    # Only the security administrator may accept the risk, with a reason, for exactly these modes.
    url = f"/api/v1/exchange/applications/{app['id']}/guard-override"
    assert client_for(w.provider).post(url, {**leaky, "reason": "x"}, content_type="application/json"
                                       ).status_code == 403
    assert client_for(w.sec_admin).post(url, {**leaky, "reason": "出生日期为业务必需，已评估"},
                                        content_type="application/json").status_code == 201
    resp = act(w.provider, app["id"], "approve", decision=leaky)
    assert resp.status_code == 200 and Grant.objects.get().guard_override_reason


def test_refusal_objection_and_coordination(w: World) -> None:
    r = w.resource()
    app = w.apply(r).json()
    act(w.office, app["id"], "pass_compliance")
    resp = act(w.provider, app["id"], "refuse", reason="不需要")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "refusal_reason"
    resp = act(w.provider, app["id"], "refuse", reason="超出履职所需", refusal_reason="purpose_mismatch")
    assert resp.json()["status"] == "refused" and resp.json()["refusal_reason"] == "purpose_mismatch"
    assert act(w.consumer, app["id"], "object", reason="系法定职责").json()["status"] == "coordination"
    assert act(w.office, app["id"], "reopen", reason="已协调").json()["status"] == "provider_review"
    act(w.provider, app["id"], "refuse", reason="仍不同意", refusal_reason="no_legal_basis")
    act(w.consumer, app["id"], "object", reason="再次异议")
    assert act(w.office, app["id"], "uphold", reason="维持").json()["status"] == "closed"
    assert act(w.consumer, app["id"], "withdraw").status_code == 409


def test_internal_review_stage_when_the_node_wants_it(w: World) -> None:
    sysadmin = testing.user(Role.SYS_ADMIN, at=w.city)
    body = {"internal_review": True, "compliance_review": False, "internal_days": 1, "compliance_days": 2,
            "provider_days": 10, "supply_days": 5, "coordination_days": 5, "reminder_days": 2}
    assert client_for(w.office).put("/api/v1/exchange/policy", body, content_type="application/json"
                                     ).status_code == 403
    assert client_for(sysadmin).put("/api/v1/exchange/policy", body, content_type="application/json"
                                    ).status_code == 200
    app = w.apply(w.resource()).json()
    assert app["status"] == "internal_review"
    assert act(w.consumer, app["id"], "approve_internal").status_code == 403
    assert act(w.consumer_admin, app["id"], "approve_internal").json()["status"] == "provider_review"


def test_deadlines_reminders_and_escalation_are_idempotent(w: World) -> None:
    app = w.apply(w.resource()).json()
    obj = Application.objects.get(pk=app["id"])
    # Two working days before the due date the reviewer is reminded; after it the data office is told.
    assert sweep_deadlines(now=obj.stage_due_at - dt.timedelta(hours=1)) == {"reminded": 1, "escalated": 0}
    assert sweep_deadlines(now=obj.stage_due_at - dt.timedelta(hours=1)) == {"reminded": 0, "escalated": 0}
    late = obj.stage_due_at + dt.timedelta(minutes=1)
    assert sweep_deadlines(now=late) == {"reminded": 0, "escalated": 1}
    assert sweep_deadlines(now=late) == {"reminded": 0, "escalated": 0}
    assert Notification.objects.filter(kind="escalation", application_id=app["id"]).count() == 1
    listed = client_for(w.office).get("/api/v1/exchange/applications?box=inbox").json()["items"][0]
    assert listed["escalated"] is True


def test_tightening_flags_grants_for_review(w: World) -> None:
    r = w.resource()
    app = w.apply(r).json()
    act(w.office, app["id"], "pass_compliance")
    act(w.provider, app["id"], "approve", decision=DECISION)
    r = apply_action(actor=w.provider, resource=r, action="revise")
    fields = ResourceFields(name=r.name, classification_code=r.classification_id, summary=r.summary,
                            share_type="conditional", share_modes=["api"])
    update_resource(actor=w.provider, resource=r, fields=fields, items=PERSON_ITEMS[:2])
    apply_action(actor=w.provider, resource=r, action="submit")
    apply_action(actor=w.office, resource=r, action="publish")
    g = Grant.objects.get()
    assert g.needs_review and g.status == "active"
    assert any(x.startswith("items_removed") for x in g.review_reasons)
    resp = client_for(w.provider).post(f"/api/v1/exchange/grants/{g.pk}/review", {"keep": True},
                                       content_type="application/json")
    assert resp.status_code == 200 and resp.json()["items"] == {"id_number": "plain", "person_name": "plain"}


def test_revoke_and_suspend_bump_the_epoch(w: World) -> None:
    app = w.apply(w.resource()).json()
    act(w.office, app["id"], "pass_compliance")
    grant_id = act(w.provider, app["id"], "approve", decision=DECISION).json()["grant_id"]
    e0 = current_epoch()
    sec = client_for(w.sec_admin)
    resp = sec.post("/api/v1/exchange/suspensions", {"scope": "department", "target_id":
                                                     str(w.consumer.department_id), "reason": "疑似数据泄露"},
                    content_type="application/json")
    assert resp.status_code == 201 and current_epoch() == e0 + 1
    assert client_for(w.provider).post("/api/v1/exchange/suspensions", {"scope": "grant", "target_id": grant_id,
                                                                        "reason": "x"},
                                       content_type="application/json").status_code == 403
    assert sec.post(f"/api/v1/exchange/suspensions/{resp.json()['id']}/lift", {},
                    content_type="application/json").json()["active"] is False
    resp = client_for(w.provider).post(f"/api/v1/exchange/grants/{grant_id}/revoke", {"reason": "业务终止"},
                                       content_type="application/json")
    assert resp.json()["status"] == "revoked" and current_epoch() == e0 + 3
    assert client_for(w.consumer).post(f"/api/v1/exchange/grants/{grant_id}/revoke", {"reason": "x"},
                                       content_type="application/json").status_code == 403
