"""Catalog lifecycle through the API: every state × action on real resources, rules, versions, diff."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog import hooks
from govshare.catalog.choices import LifecycleAction as A
from govshare.catalog.choices import ResourceStatus as S
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.services import apply_action
from govshare.conftest import client_for

pytestmark = pytest.mark.django_db

ITEMS = [
    {"name": "公民身份号码", "element_code": "DE0001", "is_key": True},
    {"name": "姓名", "element_code": "DE0002", "required": True},
    {"name": "性别", "element_code": "DE0003"},
]


def payload(**over: Any) -> dict[str, Any]:
    body = {"name": "人口基本信息", "classification_code": "101001", "summary": "全市户籍人口基本信息",
            "share_type": "conditional", "share_modes": ["api"], "open_type": "none",
            "update_cycle": "daily", "formats": ["database"], "items": ITEMS}
    body.update(over)
    return body


def make_in_state(state: S, provider, office) -> Resource:  # type: ignore[no-untyped-def]
    r = testing.resource(provider.department, name=f"资源{state}")
    path = {
        S.DRAFT: [],
        S.PENDING: [("submit", provider)],
        S.PUBLISHED: [("submit", provider), ("publish", office)],
        S.WITHDRAWAL_PENDING: [("submit", provider), ("publish", office), ("request_withdrawal", provider)],
        S.WITHDRAWN: [("submit", provider), ("publish", office), ("request_withdrawal", provider),
                      ("approve_withdrawal", office)],
    }[state]
    for action, actor in path:
        r = apply_action(actor=actor, resource=r, action=action, reason="理由")
    assert r.status == state
    return r


@pytest.mark.parametrize(("state", "action"), list(itertools.product(S, A)))
def test_state_action_matrix_via_api(seeded, provider, data_office, state: S, action: A) -> None:
    r = make_in_state(state, provider, data_office)
    from govshare.catalog.workflow import DATA_OFFICE, transition

    step = transition(state, action)
    actor = data_office if step is not None and step.by == DATA_OFFICE else provider
    if step is not None:
        wrong = provider if actor is data_office else data_office
        denied = client_for(wrong).post(f"/api/v1/catalog/resources/{r.pk}/actions/{action}",
                                        {"reason": "测试理由"}, content_type="application/json")
        assert denied.status_code == 403, denied.content
        r.refresh_from_db()
        assert r.status == state
    resp = client_for(actor).post(f"/api/v1/catalog/resources/{r.pk}/actions/{action}",
                                  {"reason": "测试理由"}, content_type="application/json")
    r.refresh_from_db()
    if step is None:
        assert resp.status_code == 409, resp.content
        assert resp.json()["error"]["code"] == "conflict"
        assert r.status == state
    else:
        assert resp.status_code == 200, resp.content
        assert r.status == step.target
        assert AuditEvent.objects.filter(action=f"resource.{action}", target_id=str(r.pk)).exists()


def test_full_journey_with_versions_and_diff(seeded, provider, data_office, consumer) -> None:
    p = client_for(provider)
    resp = p.post("/api/v1/catalog/resources", payload(), content_type="application/json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    rid = body["id"]
    assert body["status"] == "draft" and body["sensitivity"] == 3  # 就高从严: 身份证号 is L3
    assert body["code"].startswith("445100/101001/")
    # A consumer does not see a draft: 404, like a missing resource.
    assert client_for(consumer).get(f"/api/v1/catalog/resources/{rid}").status_code == 404
    assert p.post(f"/api/v1/catalog/resources/{rid}/actions/submit", {}, content_type="application/json"
                  ).status_code == 200
    # The provider cannot publish its own resource.
    resp = p.post(f"/api/v1/catalog/resources/{rid}/actions/publish", {}, content_type="application/json")
    assert resp.status_code == 403
    office = client_for(data_office)
    queue = office.get("/api/v1/catalog/review-queue").json()["items"]
    assert [q["id"] for q in queue] == [rid]
    # Rejection needs a reason.
    resp = office.post(f"/api/v1/catalog/resources/{rid}/actions/reject", {}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "reason"
    resp = office.post(f"/api/v1/catalog/resources/{rid}/actions/publish", {}, content_type="application/json")
    assert resp.status_code == 200 and resp.json()["published_version"] == 1
    # Consumers now see the published snapshot.
    seen = client_for(consumer).get(f"/api/v1/catalog/resources/{rid}").json()
    assert seen["view"] == "published" and [i["name"] for i in seen["items"]] == ["公民身份号码", "姓名", "性别"]
    # Revise: tighten to 不予共享 and drop an item; the published version stays live meanwhile.
    assert p.post(f"/api/v1/catalog/resources/{rid}/actions/revise", {}, content_type="application/json"
                  ).status_code == 200
    resp = p.put(f"/api/v1/catalog/resources/{rid}", payload(items=ITEMS[:2], share_type="none",
                                                              no_share_basis="《某条例》第十条"),
                 content_type="application/json")
    assert resp.status_code == 200, resp.content
    assert client_for(consumer).get(f"/api/v1/catalog/resources/{rid}").json()["share_type"] == "conditional"
    seen_events: list[hooks.Tightening] = []
    hooks.register_tightening_handler(seen_events.append)
    try:
        p.post(f"/api/v1/catalog/resources/{rid}/actions/submit", {}, content_type="application/json")
        resp = office.post(f"/api/v1/catalog/resources/{rid}/actions/publish", {},
                           content_type="application/json")
    finally:
        hooks._tightening_handlers.remove(seen_events.append)
    assert resp.status_code == 200 and resp.json()["published_version"] == 2
    assert len(seen_events) == 1
    assert "share_type:conditional->none" in seen_events[0].reasons
    assert seen_events[0].removed_columns == ["gender"]
    v2 = ResourceVersion.objects.get(resource_id=rid, number=2)
    assert v2.tightened
    versions = client_for(consumer).get(f"/api/v1/catalog/resources/{rid}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]
    diff = client_for(consumer).get(f"/api/v1/catalog/resources/{rid}/diff?from=1&to=2").json()
    assert diff["fields"]["share_type"] == ["conditional", "none"]
    assert "items" not in diff["fields"]  # items are compared one by one, never as one field
    assert diff["items_removed"] == ["gender"]
    reviews = p.get(f"/api/v1/catalog/resources/{rid}/reviews").json()
    assert [r["action"] for r in reviews] == ["submit", "publish", "revise", "submit", "publish"]


@pytest.mark.parametrize(("over", "field"), [
    ({"share_type": "none", "no_share_basis": ""}, "no_share_basis"),
    ({"open_type": "unconditional"}, "open_type"),  # 身份证号 is L3
    ({"update_cycle": "每天"}, "update_cycle"),
    ({"classification_code": "999"}, "classification_code"),
    ({"items": [{"name": "x", "element_code": "NOPE"}]}, "items[0].element_code"),
    ({"items": [{"name": "身份证", "element_code": "DE0001", "sensitivity": 1}]}, "items[0].sensitivity"),
    ({"share_modes": ["fax"]}, "share_modes"),
    ({"name": ""}, "name"),
])
def test_rules_name_the_field_and_write_nothing(seeded, provider, over: dict[str, Any], field: str) -> None:
    before = (Resource.objects.count(), AuditEvent.objects.count())
    resp = client_for(provider).post("/api/v1/catalog/resources", payload(**over),
                                     content_type="application/json")
    assert resp.status_code == 422, resp.content
    assert resp.json()["error"]["details"]["field"] == field
    assert (Resource.objects.count(), AuditEvent.objects.count()) == before


def test_l4_items_are_never_opened(seeded, provider) -> None:
    items = [*ITEMS, {"name": "病历摘要", "element_code": "DE0046"}]
    resp = client_for(provider).post("/api/v1/catalog/resources",
                                     payload(items=items, open_type="conditional"),
                                     content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "open_type"


def test_secret_resources_cannot_be_submitted(seeded, provider) -> None:
    c = client_for(provider)
    rid = c.post("/api/v1/catalog/resources", payload(secrecy="secret"), content_type="application/json"
                 ).json()["id"]
    resp = c.post(f"/api/v1/catalog/resources/{rid}/actions/submit", {}, content_type="application/json")
    assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == "secrecy"
    assert Resource.objects.get(pk=rid).status == "draft"


def test_resource_codes_are_unique_across_nodes(seeded, data_office) -> None:
    county = testing.node("445102", name="湘桥区", level="county")
    a = testing.resource(testing.department(data_office.node), name="甲")
    b = testing.resource(testing.department(county), name="乙")
    c = testing.resource(testing.department(county), name="丙")
    assert len({a.code, b.code, c.code}) == 3
    assert b.code.startswith("445102/") and a.code.startswith("445100/")
    assert b.code.endswith("/000001") and c.code.endswith("/000002")


def test_other_department_cannot_edit(seeded, provider, city) -> None:
    rid = client_for(provider).post("/api/v1/catalog/resources", payload(), content_type="application/json"
                                    ).json()["id"]
    other = testing.user(Role.PROVIDER, dept=testing.department(city))
    assert client_for(other).put(f"/api/v1/catalog/resources/{rid}", payload(),
                                 content_type="application/json").status_code == 404
