"""The quality API: dispute transitions for every state × action, lists and downloads (CSV cells neutralised,
keys masked for the data office), the failing-rows report, scores, rules, and query counts on lists."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.http import HttpResponse

from govshare.conftest import client_for
from govshare.datasets.changes import apply_batch, changes_since
from govshare.datasets.models import Dataset
from govshare.quality import workflow
from govshare.quality.choices import DisputeAction, DisputeStatus
from govshare.quality.models import Dispute
from govshare.quality.services import runs
from govshare.quality.services.disputes import act_on_dispute, raise_dispute
from govshare.quality.tests.conftest import World, person, rid

pytestmark = pytest.mark.django_db
Q = "/api/v1/quality"


def body(resp: HttpResponse) -> bytes:
    return b"".join(resp.streaming_content) if getattr(resp, "streaming", False) else resp.content  # type: ignore


def in_state(w: World, state: str, n: int = 1) -> Dispute:
    d = raise_dispute(actor=w.consumer, dataset=w.dataset, record_key=rid(n), column="birth_date",
                      reason="出生日期与社保登记不符")
    if state == "submitted":
        return d
    if state == "rejected":
        return act_on_dispute(actor=w.provider, dispute=d, action="reject", text="不属于本部门数据")
    if state == "withdrawn":
        return act_on_dispute(actor=w.consumer, dispute=d, action="withdraw")
    d = act_on_dispute(actor=w.provider, dispute=d, action="accept")
    if state == "resolved_confirmed":
        return act_on_dispute(actor=w.provider, dispute=d, action="confirm", text="核实无误")
    if state == "resolved_corrected":
        return act_on_dispute(actor=w.provider, dispute=d, action="correct", corrections={"birth_date": "1960-01-03"})
    return d


ACTORS = {DisputeAction.ACCEPT: "provider", DisputeAction.REJECT: "provider", DisputeAction.CONFIRM: "provider",
          DisputeAction.CORRECT: "provider", DisputeAction.WITHDRAW: "consumer", DisputeAction.REOPEN: "consumer",
          DisputeAction.ESCALATE: "office"}


@pytest.mark.parametrize("state", list(DisputeStatus))
@pytest.mark.parametrize("action", list(DisputeAction))
def test_every_state_and_action_through_the_api(shared_world: World, state: str, action: str) -> None:
    d = in_state(shared_world, state)
    actor = getattr(shared_world, ACTORS[DisputeAction(action)])
    resp = client_for(actor).post(f"{Q}/disputes/{d.pk}/actions/{action}",
                                  {"text": "说明", "corrections": {"birth_date": "1959-12-31"}},
                                  content_type="application/json")
    step = workflow.transition(state, action)
    if step is None:
        assert resp.status_code == 409, resp.content
        assert resp.json()["error"]["details"]["status"] == state
    elif step.by == workflow.PLATFORM:  # escalation is the sweep's, never a person's
        assert resp.status_code == 403
    else:
        assert resp.status_code == 200, resp.content
        out = resp.json()
        assert out["status"] == step.target
        assert [s["action"] for s in out["steps"]][-1] == action
    after = Dispute.objects.get(pk=d.pk).status
    assert after == (step.target if resp.status_code == 200 and step else state)


def test_raise_list_detail_and_boxes(shared_world: World) -> None:
    w = shared_world
    c = client_for(w.consumer)
    resp = c.post(f"{Q}/disputes", {"dataset_id": str(w.dataset.pk), "record_key": rid(2), "column": "gender",
                                    "reason": "性别登记有误", "category": "wrong_value",
                                    "evidence": {"source": "社保参保登记"}}, content_type="application/json")
    assert resp.status_code == 201, resp.content
    out = resp.json()
    assert (out["status"], out["record_key"], out["allowed_actions"]) == ("submitted", rid(2), ["withdraw"])
    assert out["working_days_left"] is not None and out["overdue"] is False
    did = out["id"]
    assert c.post(f"{Q}/disputes", {"dataset_id": str(w.dataset.pk), "record_key": "445102190001010000",
                                    "reason": "x"}, content_type="application/json").status_code == 404
    provider = client_for(w.provider)
    inbox = provider.get(f"{Q}/disputes?box=inbox").json()["items"]
    assert [i["id"] for i in inbox] == [did]
    assert inbox[0]["allowed_actions"] == ["accept", "reject"]
    assert c.get(f"{Q}/disputes?box=inbox").json()["items"] == []
    assert [i["id"] for i in c.get(f"{Q}/disputes?box=mine").json()["items"]] == [did]
    office = client_for(w.office).get(f"{Q}/disputes?box=node").json()["items"]
    assert [i["id"] for i in office] == [did]
    assert office[0]["record_key"] != rid(2) and "*" in office[0]["record_key"]  # masked for a non-party
    assert office[0]["allowed_actions"] == []
    detail = provider.get(f"{Q}/disputes/{did}").json()
    assert [s["action"] for s in detail["steps"]] == ["raise"] and detail["record_key"] == rid(2)
    assert c.get(f"{Q}/disputes?box=nonsense").status_code == 422


def test_correction_through_the_api_reaches_the_change_log(shared_world: World) -> None:
    w = shared_world
    d = in_state(w, "accepted", 3)
    seq = Dataset.objects.get(pk=w.dataset.pk).last_seq
    resp = client_for(w.provider).post(f"{Q}/disputes/{d.pk}/actions/correct",
                                       {"text": "已更正", "corrections": {"birth_date": "1960-01-01"}},
                                       content_type="application/json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["correction_batch_id"] == f"dispute:{d.pk}"
    (change,) = changes_since(dataset=Dataset.objects.get(pk=w.dataset.pk), after=seq, limit=5)
    assert change.key == rid(3) and change.old["birth_date"] != "1960-01-01"
    assert change.data["birth_date"] == "1960-01-01"
    bad = client_for(w.provider).post(f"{Q}/disputes/{in_state(w, 'accepted', 4).pk}/actions/correct",
                                      {"corrections": {"birth_date": "1960-02-30"}}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "corrections"


def test_dispute_downloads_neutralise_cells(shared_world: World) -> None:
    w = shared_world
    raise_dispute(actor=w.consumer, dataset=w.dataset, record_key=rid(5), reason="=HYPERLINK(\"http://x\")")
    resp = client_for(w.consumer).get(f"{Q}/disputes.csv?box=mine")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body(resp).decode("utf-8-sig"))))
    assert rows[0][0] == "疑义编号 (number)"
    assert rows[1][8] == "'=HYPERLINK(\"http://x\")"
    data = json.loads(body(client_for(w.consumer).get(f"{Q}/disputes.json?box=mine")))
    assert data["truncated"] is False and data["items"][0]["reason"].startswith("=HYPERLINK")
    assert client_for(w.office).get(f"{Q}/disputes.json?box=node").status_code == 200


def test_failing_rows_report(shared_world: World) -> None:
    w = shared_world
    c = client_for(w.provider)
    resp = c.post(f"{Q}/rules", {"resource_id": str(w.resource.pk), "column": "current_address", "kind": "required",
                                 "message": "=请补录现住址"}, content_type="application/json")
    assert resp.status_code == 201, resp.content
    apply_batch(actor=w.provider, dataset=Dataset.objects.get(pk=w.dataset.pk), batch_id="t1",
                upserts=[person(1, current_address=None), person(2, current_address=None)])
    run = runs.run_full(dataset=Dataset.objects.get(pk=w.dataset.pk))
    assert run is not None and run.rows_failing == 2
    page = c.get(f"{Q}/datasets/{w.dataset.pk}/issues?limit=1").json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = c.get(f"{Q}/datasets/{w.dataset.pk}/issues?limit=1&cursor={page['next_cursor']}").json()
    assert {i["record_key"] for i in page["items"] + rest["items"]} == {rid(1), rid(2)}
    assert rid(1) not in page["next_cursor"]
    rows = list(csv.reader(io.StringIO(body(c.get(f"{Q}/datasets/{w.dataset.pk}/issues.csv")).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == sorted([rid(1), rid(2)])
    assert {r[5] for r in rows[1:]} == {"'=请补录现住址"}
    office = json.loads(body(client_for(w.office).get(f"{Q}/datasets/{w.dataset.pk}/issues.json")))["items"]
    assert len(office) == 2 and all(i["record_key"] not in (rid(1), rid(2)) for i in office)
    assert client_for(w.consumer).get(f"{Q}/datasets/{w.dataset.pk}/issues.csv").status_code == 403
    summary = client_for(w.consumer).get(f"{Q}/datasets/{w.dataset.pk}").json()
    assert summary["quality"]["rows_failing"] == 2 and summary["failures"][0]["rows"] == 2
    assert summary["recent_runs"][0]["kind"] == "full"
    scores = c.get(f"{Q}/scores/datasets").json()["items"]
    assert scores[0]["score"] == round(10 / 12, 6)
    depts = client_for(w.office).get(f"{Q}/scores/departments").json()
    assert [(d["department_name"], d["rows_total"], d["rows_failing"]) for d in depts] == [("市公安局", 12, 2)]


def test_rule_api_validation_and_request_run(shared_world: World) -> None:
    w = shared_world
    office = client_for(w.office)
    resp = office.post(f"{Q}/rules", {"element_code": "DE0001", "kind": "cross_field",
                                      "params": {"birth": "DE0004", "gender": "DE0003"}},
                       content_type="application/json")
    assert resp.status_code == 201 and resp.json()["element_code"] == "DE0001"
    bad = office.post(f"{Q}/rules", {"element_code": "DE0002", "kind": "pattern", "params": {"regex": "(a|b+)*c"}},
                      content_type="application/json")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "params.regex"
    rule_id = resp.json()["id"]
    off = office.patch(f"{Q}/rules/{rule_id}", {"active": False}, content_type="application/json")
    assert off.status_code == 200 and off.json()["active"] is False
    assert [r["id"] for r in client_for(w.provider).get(f"{Q}/rules").json()["items"]] == [rule_id]
    assert client_for(w.consumer).get(f"{Q}/rules").json()["items"] == []
    assert client_for(w.provider).post(f"{Q}/datasets/{w.dataset.pk}/runs").status_code == 202
    assert client_for(w.consumer).post(f"{Q}/datasets/{w.dataset.pk}/runs").status_code == 403


def test_list_endpoints_use_a_bounded_number_of_queries(shared_world: World, django_assert_max_num_queries: Any
                                                        ) -> None:
    w = shared_world
    for n in range(10):
        raise_dispute(actor=w.consumer, dataset=w.dataset, record_key=rid(n), column="gender", reason="性别有误")
    runs.run_full(dataset=Dataset.objects.get(pk=w.dataset.pk))
    for user, url in ((w.provider, f"{Q}/disputes?box=inbox"), (w.office, f"{Q}/disputes?box=node"),
                      (w.consumer, f"{Q}/disputes"), (w.provider, f"{Q}/rules"),
                      (w.provider, f"{Q}/scores/datasets"), (w.provider, f"{Q}/datasets/{w.dataset.pk}/issues"),
                      (w.provider, f"{Q}/datasets/{w.dataset.pk}/runs")):
        c = client_for(user)
        with django_assert_max_num_queries(10):
            resp = c.get(url)
        assert resp.status_code == 200, (url, resp.content)
    assert len(client_for(w.provider).get(f"{Q}/disputes?box=inbox").json()["items"]) == 10
