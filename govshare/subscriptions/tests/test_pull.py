"""GET /dp/v1/changes through signed calls: cursor, projection (masking, verify_only, row filter), snapshot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from govshare.audit.models import AuditEvent
from govshare.audit.services import audit_key_hmac
from govshare.client import GovshareClient, GovshareError
from govshare.core.masking import mask
from govshare.subscriptions.tests.world import (
    INSIDE,
    OUTSIDE,
    World,
    apply_changes,
    person,
)

pytestmark = pytest.mark.django_db


def pull(gs: GovshareClient, code: str, **params: Any) -> dict[str, Any]:
    query = {"resource": code, **{k: str(v) for k, v in params.items()}}
    _, _, data = gs.request("GET", "/dp/v1/changes", query=query)
    answer: dict[str, Any] = json.loads(data)
    return answer


def test_the_python_client_pages_the_change_log(world: World) -> None:
    gs = world.client()
    seen: list[str] = []
    after, calls = 0, 0
    while True:
        page = gs.changes(world.code, after=after, limit=4)
        calls += 1
        seen += [c["key"] for c in page["changes"]]
        after = page["next_after"]
        if not page["has_more"]:
            break
    assert calls >= 2 and after == 12  # a page holds at most 4 delivered changes
    assert sorted(seen) == sorted(person(n)["id_number"] for n in range(1, 13, 2))
    snap = gs.changes(world.code, snapshot=True, limit=500)
    assert sorted(r["key"] for r in snap["changes"]) == sorted(seen)


def refused(gs: GovshareClient, code: str, **params: Any) -> GovshareError:
    with pytest.raises(GovshareError) as info:
        pull(gs, code, **params)
    return info.value


def test_pull_with_cursor_projects_every_kind_of_change(world: World) -> None:
    gs = world.client()
    first = pull(gs, world.code, after=0, limit=500)
    assert list(first) == ["ok", "resource", "changes", "next_after", "has_more", "latest_seq"]
    # The initial load: 12 inserts, only the 6 inside the row filter are delivered, projected.
    inside = [person(n) for n in range(1, 13, 2)]
    assert sorted(c["key"] for c in first["changes"]) == sorted(p["id_number"] for p in inside)
    rec = next(c for c in first["changes"] if c["key"] == inside[0]["id_number"])
    assert rec["op"] == "upsert" and rec["data"] == {
        "id_number": inside[0]["id_number"], "person_name": mask("name", inside[0]["person_name"]), "gender": "男",
        "current_address": inside[0]["current_address"]}  # mobile (verify_only) and birth_date (not granted) absent
    assert first["next_after"] == first["latest_seq"] == 12 and first["has_more"] is False

    p1, p3, p5, p7 = person(1), person(3), person(5), person(7)
    p2, p4, p6 = person(2), person(4), person(6)
    world.change(upserts=[
        {**p1, "person_name": "李一"},  # inside, granted item changed → upsert (masked)
        {**p3, "current_address": f"{OUTSIDE}东路3号"},  # leaves the filter → delete
        {**p2, "current_address": f"{INSIDE}南路2号"},  # enters the filter → upsert
        {**p4, "person_name": "外四"},  # outside and stays outside → nothing
        {**p7, "mobile": "13900000007"},  # only a verify_only item changed → nothing
    ], deletes=[p5["id_number"], p6["id_number"]])  # inside deleted → delete; outside deleted → nothing
    second = pull(gs, world.code, after=first["next_after"])
    got = [(c["op"], c["key"], c["data"]) for c in second["changes"]]
    assert sorted(got, key=lambda g: (g[0], g[1])) == sorted([
        ("upsert", p1["id_number"], {"id_number": p1["id_number"], "person_name": mask("name", "李一"),
                                     "gender": "男", "current_address": p1["current_address"]}),
        ("delete", p3["id_number"], None),
        ("upsert", p2["id_number"], {"id_number": p2["id_number"], "person_name": mask("name", p2["person_name"]),
                                     "gender": "男", "current_address": f"{INSIDE}南路2号"}),
        ("delete", p5["id_number"], None),
    ], key=lambda g: (g[0], g[1]))
    seqs = [c["seq"] for c in second["changes"]]
    assert seqs == sorted(seqs) and all(s > 12 for s in seqs)
    # next_after moves past the skipped changes too: nothing is read twice.
    assert second["next_after"] == second["latest_seq"] == 19 and not second["has_more"]
    assert pull(gs, world.code, after=19)["changes"] == []
    # Records outside the filter never appear anywhere.
    all_keys = {c["key"] for c in first["changes"] + second["changes"]}
    assert not all_keys & {p4["id_number"], p6["id_number"]}

    # Audit: one dataplane.changes event per call, with the granted items and the HMACs of the delivered keys.
    ev = AuditEvent.objects.filter(action="dataplane.changes").order_by("seq")[1]
    assert ev.result == "ok" and ev.data["items"] == ["id_number", "person_name", "gender", "current_address"]
    assert set(ev.data["key_hmacs"]) == {audit_key_hmac(k) for k in (p1["id_number"], p3["id_number"],
                                                                        p2["id_number"], p5["id_number"])}
    assert ev.data["count"] == 4 and ev.data["next_after"] == 19


def test_limit_pages_and_parameters_are_checked(world: World) -> None:
    gs = world.client()
    page = pull(gs, world.code, after=0, limit=2)
    assert len(page["changes"]) == 2 and page["has_more"] and page["next_after"] < 12
    page2 = pull(gs, world.code, after=page["next_after"], limit=500)
    assert len(page2["changes"]) == 4 and not page2["has_more"]
    err = refused(gs, world.code, after=13)
    assert (err.status, err.code, err.details["field"]) == (400, "bad_request", "after")
    assert refused(gs, world.code, after=-1).details["field"] == "after"
    assert refused(gs, world.code, after="x").details["field"] == "after"
    assert refused(gs, world.code).details["field"] == "after"
    assert refused(gs, world.code, after=0, limit=0).details["field"] == "limit"
    assert refused(gs, world.code, after=0, bogus=1).details["field"] == "bogus"
    assert refused(gs, world.code, after=0, after_key="x").details["field"] == "after_key"
    assert refused(gs, "445100/000000/999999", after=0).code == "no_grant"
    assert [e.result for e in AuditEvent.objects.filter(action="dataplane.changes").order_by("seq")][-1] == "denied"


def test_mode_not_granted_and_key_pseudonym(world: World) -> None:
    type(world.grant).objects.filter(pk=world.grant.pk).update(status="revoked")
    world.make_grant(modes=("query",))
    assert refused(world.client(), world.code, after=0).code == "exchange_mode_not_granted"


def test_masked_key_is_delivered_as_a_stable_pseudonym(world: World) -> None:
    type(world.grant).objects.filter(pk=world.grant.pk).update(status="revoked")
    grant = world.make_grant({"id_number": "masked", "gender": "plain", "current_address": "plain"})
    gs = world.client()
    changes = pull(gs, world.code, after=0)["changes"]
    keys = [c["key"] for c in changes]
    assert all(k.startswith("k_") and len(k) == 34 for k in keys) and len(set(keys)) == 6
    assert changes[0]["data"]["id_number"] != person(1)["id_number"] and "*" in changes[0]["data"]["id_number"]
    p1 = person(1)
    world.change(deletes=[p1["id_number"]])
    (gone,) = pull(gs, world.code, after=12)["changes"]
    assert gone["op"] == "delete" and gone["key"] in keys  # the same pseudonym: the consumer can delete it
    assert world.granted_view(grant).keys() == set(keys) - {gone["key"]}


def test_snapshot_then_changes_converge(world: World) -> None:
    gs = world.client()
    first = pull(gs, world.code, snapshot=1, limit=2)
    assert first["snapshot"] is True and len(first["changes"]) == 2 and first["has_more"]
    assert first["next_after"] == 12 and all(c["op"] == "upsert" and c["seq"] == 12 for c in first["changes"])
    state: dict[str, dict[str, Any]] = {}
    apply_changes(state, first["changes"])
    # Changes land between the pages: some in pages still to come, some in pages already read.
    p1, p9, p11, p2 = person(1), person(9), person(11), person(2)
    world.change(upserts=[{**p1, "person_name": "新一"}, {**p2, "current_address": f"{INSIDE}北路2号"},
                          {**p9, "current_address": f"{OUTSIDE}9号"}], deletes=[p11["id_number"]])
    after_key, pages = first["next_after_key"], 1
    while after_key:
        page = pull(gs, world.code, snapshot=1, after_key=after_key, limit=2)
        assert page["next_after"] == 12  # the seq captured before the first page, on every page
        apply_changes(state, page["changes"])
        after_key, pages = page["next_after_key"], pages + 1
        assert page["has_more"] is bool(after_key)
    assert pages == 2  # p1+p3, then p5+p7 (p9 left the filter, p11 is gone; p2 arrives as a change)
    apply_changes(state, pull(gs, world.code, after=12)["changes"])
    assert state == world.granted_view()
    # A tampered or foreign snapshot cursor is refused.
    assert refused(gs, world.code, snapshot=1, after_key=first["next_after_key"][:-2] + "AA").code == "bad_cursor"
    assert refused(gs, world.code, snapshot=1, after=3).details["field"] == "after"


def test_openapi_lists_the_pull(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/dp/v1/changes"]["get"]
    assert op["operationId"] == "dataplane_changes"
    assert {"resource", "after", "snapshot", "after_key", "X-GS-Signature"} <= {p["name"] for p in op["parameters"]}
    assert "DataPlaneChangesOut" in doc["components"]["schemas"]
