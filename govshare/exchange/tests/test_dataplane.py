"""Data plane: query and verify through the WSGI entry (path dispatch, signing, grants, masking, row filter,
quotas, audit)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from govshare.audit.models import AuditKeyRef
from govshare.audit.services import audit_key_hmac
from govshare.client import GovshareError
from govshare.core.crypto import get_sm2_provider
from govshare.core.masking import mask
from govshare.exchange.dataplane.query import encode_cursor
from govshare.exchange.models import UsageCounter, VerifyClaim
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    BANK_ITEMS,
    INSIDE,
    REFS,
    World,
    _fresh_dataplane,
    application,
    events,
    world_fixture,
)

pytestmark = pytest.mark.django_db


def denied(fn: Any, *args: Any, **kw: Any) -> GovshareError:
    with pytest.raises(GovshareError) as info:
        fn(*args, **kw)
    return info.value


def test_query_by_key_plain_masked_verify_only_and_row_filter(world: World) -> None:
    gs = world.client()
    inside, outside = world.inside[0], world.outside[0]
    answer = gs.query(world.code, keys=[outside["id_number"], inside["id_number"], "445102199901010000"])
    assert answer["ok"] and answer["count"] == 1 and list(answer) == ["ok", "resource", "count", "records"]
    (rec,) = answer["records"]
    assert rec["key"] == inside["id_number"]
    assert rec["data"] == {"id_number": inside["id_number"], "person_name": mask("name", inside["person_name"]),
                           "gender": "男", "current_address": inside["current_address"]}
    assert "mobile" not in rec["data"] and "birth_date" not in rec["data"]  # verify_only / not granted
    # The data label travels with every answer.
    labels = gs.last_labels
    assert labels["Resource"] == world.code and labels["Level"] == "L3" and labels["Grant"] == str(world.grant.pk)
    assert labels["Purpose"] == world.grant.purpose and labels["Expires"] == world.grant.valid_to.isoformat()
    # One audit event with the business references and the HMAC of every key asked for (found or not).
    (ev,) = events("dataplane.query")
    assert ev.result == "ok" and ev.actor_type == "system" and world.app_key in ev.actor_label
    assert ev.target_type == "grant" and ev.target_id == str(world.grant.pk)
    d = ev.data
    assert (d["operator"], d["case_number"], d["item_code"], d["purpose"]) == (
        REFS["operator"], REFS["case_number"], REFS["item_code"], REFS["purpose"])
    assert d["items"] == ["id_number", "person_name", "gender", "current_address"] and d["latency_ms"] >= 0
    assert audit_key_hmac(outside["id_number"]) in d["key_hmacs"] and len(d["key_hmacs"]) == 3
    # "Who looked up this person" finds the call, even for a key outside the filter.
    assert AuditKeyRef.objects.filter(key_hmac=audit_key_hmac(outside["id_number"]), seq=ev.seq).exists()
    # Asking for a verify_only item, or one not granted, is refused (and audited as denied).
    assert denied(gs.query, world.code, keys=[inside["id_number"]], items=["mobile"]).code == "mode_not_granted"
    assert denied(gs.query, world.code, keys=[inside["id_number"]], items=["birth_date"]).code == "item_not_granted"
    assert gs.query(world.code, keys=[inside["id_number"].lower()], items=["gender"])["records"][0]["data"] == \
        {"gender": "男"}
    assert [e.result for e in events("dataplane.query")] == ["ok", "denied", "denied", "ok"]


def test_query_by_filter_with_cursor(world: World, settings: Any) -> None:
    gs = world.client()
    page1 = gs.query(world.code, filters={"gender": "男"}, limit=4)
    keys1 = [r["key"] for r in page1["records"]]
    assert len(keys1) == 4 and page1["next_cursor"]
    page2 = gs.query(world.code, filters={"gender": "男"}, limit=4, cursor=page1["next_cursor"])
    keys2 = [r["key"] for r in page2["records"]]
    assert page2["next_cursor"] is None
    inside = sorted(p["id_number"] for p in world.inside)
    assert keys1 + keys2 == inside  # the row filter holds: only the six inside, in key order
    text = gs.query(world.code, filter=f'current_address prefix "{INSIDE}西马路1"', limit=50)
    assert {r["data"]["current_address"] for r in text["records"]} == {
        f"{INSIDE}西马路1号", f"{INSIDE}西马路11号"}
    # Filters and ordering on masked or verify_only items are refused; unknown columns are a bad filter.
    assert denied(gs.query, world.code, filters={"person_name": "张1号"}).code == "mode_not_granted"
    assert denied(gs.query, world.code, filter='mobile = "13800130001"').status == 403
    assert denied(gs.query, world.code, filters={"birth_date": "1980-01-01"}).code == "item_not_granted"
    assert denied(gs.query, world.code, filter="nope = 1").code == "bad_filter"
    cursor = page1["next_cursor"]
    flipped = ("A" if cursor[5] != "A" else "B").join((cursor[:5], cursor[6:]))
    assert denied(gs.query, world.code, filters={"gender": "男"}, cursor=flipped).status == 422
    tampered = denied(gs.query, world.code, filters={"gender": "女"}, limit=4, cursor=page1["next_cursor"])
    assert (tampered.status, tampered.code) == (422, "bad_cursor")
    forged = encode_cursor("another-grant", "x", "0")
    assert denied(gs.query, world.code, filters={"gender": "男"}, cursor=forged).code == "bad_cursor"
    assert denied(gs.query, world.code, keys=["1"], filters={"gender": "男"}).code == "bad_request"


def test_verify_never_leaks_and_answers_missing_like_mismatch(world: World) -> None:
    gs = world.client()
    p, out = world.inside[1], world.outside[1]
    ok = gs.verify(world.code, p["id_number"], {"person_name": p["person_name"], "mobile": p["mobile"]})
    assert ok == {"ok": True, "resource": world.code, "all_match": True,
                  "matches": {"mobile": True, "person_name": True}}
    partly = gs.verify(world.code, p["id_number"], {"person_name": p["person_name"], "mobile": "13900000000"})
    assert partly["matches"] == {"mobile": False, "person_name": True} and partly["all_match"] is False
    # A key outside the row filter and a key that does not exist answer exactly like a full mismatch.
    shapes = [gs.verify(world.code, k, {"person_name": n, "mobile": m}) for k, n, m in [
        (out["id_number"], out["person_name"], out["mobile"]), ("445102199901010000", "张三", "13800000000"),
        (p["id_number"], "李四", "13800000000")]]
    assert all(s == {"ok": True, "resource": world.code, "all_match": False,
                     "matches": {"mobile": False, "person_name": False}} for s in shapes)
    assert denied(gs.verify, world.code, p["id_number"], {"birth_date": "1980-01-03"}).code == "item_not_granted"
    assert denied(gs.verify, world.code, p["id_number"], {}).code == "bad_request"
    evs = events("dataplane.verify")
    assert [e.result for e in evs] == ["ok"] * 5 + ["denied"] * 2
    assert evs[2].data["key_hmacs"] == [audit_key_hmac(out["id_number"])] and "matches" not in evs[2].data


def test_verify_quotas_and_enumeration_alert(world: World) -> None:
    from govshare.exchange.models import Grant

    Grant.objects.filter(pk=world.grant.pk).update(verify_quota_per_key=3, daily_quota=8)
    gs = world.client()
    p = world.inside[0]
    for name in ("甲", "乙", "丙"):
        assert gs.verify(world.code, p["id_number"], {"person_name": name})["all_match"] is False
    over = denied(gs.verify, world.code, p["id_number"], {"person_name": p["person_name"]})
    assert (over.status, over.code) == (429, "over_verify_quota") and "retry-after" in over.headers
    # Three distinct claims against one key today raise the enumeration alert (once the threshold is reached).
    (alert,) = events("dataplane.verify_enumeration_alert")
    assert alert.data["distinct_claims"] == 3 and alert.data["key_hmacs"] == [audit_key_hmac(p["id_number"])]
    assert VerifyClaim.objects.filter(grant=world.grant).count() == 3
    # Other keys still work until the grant's daily quota (all calls count: 3 + 4 = 7 … 8).
    other = world.inside[1]
    for _ in range(3):
        gs.verify(world.code, other["id_number"], {"gender": "男"})
    assert gs.query(world.code, keys=[other["id_number"]])["count"] == 1
    quota = denied(gs.verify, world.code, world.inside[2]["id_number"], {"gender": "男"})
    assert (quota.status, quota.code) == (429, "over_daily_quota")
    day = UsageCounter.objects.get(grant=world.grant, bucket__startswith="d:")
    assert day.count == 8  # refused calls do not eat the quota


def test_all_match_only_and_rate_limit(world: World) -> None:
    from govshare.exchange.models import Grant

    Grant.objects.filter(pk=world.grant.pk).update(verify_all_match_only=True, rate_limit_per_minute=2)
    from django.db import transaction

    from govshare.core.epoch import bump_authz_epoch

    with transaction.atomic():
        bump_authz_epoch()
    from django.utils import timezone

    from govshare.exchange.dataplane.app import DataPlane

    moment = timezone.now().replace(second=10)  # the three calls fall in one minute bucket, whatever the time
    gs = world.client(DataPlane(clock=lambda: moment))
    gs.clock = moment.timestamp
    p = world.inside[0]
    assert gs.verify(world.code, p["id_number"], {"person_name": p["person_name"], "mobile": "0"}) == {
        "ok": True, "resource": world.code, "all_match": False}
    assert gs.verify(world.code, p["id_number"], {"person_name": p["person_name"]})["all_match"] is True
    limited = denied(gs.query, world.code, keys=[p["id_number"]])
    assert (limited.status, limited.code) == (429, "over_rate_limit")
    assert events("dataplane.query")[-1].result == "denied"


def test_authentication_failures_are_denied_and_audited(world: World, settings: Any) -> None:
    gs = world.client()
    key = world.inside[0]["id_number"]
    body = json.dumps({"resource": world.code, "keys": [key]}).encode()
    nonce = "n" * 20
    status, _, _ = gs.request("POST", "/dp/v1/query", body=body, nonce=nonce, refs=REFS)
    assert status == 200
    replay = denied(gs.request, "POST", "/dp/v1/query", body=body, nonce=nonce, refs=REFS)
    assert (replay.status, replay.code) == (401, "replayed_nonce")
    stale = denied(gs.request, "POST", "/dp/v1/query", body=body, timestamp=int(time.time()) - 301, refs=REFS)
    assert stale.code == "stale_timestamp"
    future = denied(gs.request, "POST", "/dp/v1/query", body=body, timestamp=int(time.time()) + 400, refs=REFS)
    assert future.code == "stale_timestamp"
    wrong = world.client(secret="not-the-secret")
    bad = denied(wrong.query, world.code, keys=[key])
    assert bad.code == "bad_signature" and len(bad.details["canonical_request_sm3"]) == 64
    assert denied(world.client(app_key="gs-unknown").query, world.code, keys=[key]).code == "unknown_app_key"
    # A request body changed after signing, or a different path, fails the signature.
    from govshare.client import sign, wsgi_transport

    headers = sign("POST", "/dp/v1/query", None, body, world.secret, None, None, app_key=world.app_key)
    status, _, data = wsgi_transport(application())("POST", "http://testserver/dp/v1/query", headers,
                                                     body.replace(b"]", b',"1"]'))
    assert status == 401 and b"bad_signature" in data
    status, _, data = wsgi_transport(application())("POST", "http://testserver/dp/v1/verify", headers, body)
    assert status == 401 and b"bad_signature" in data
    status, _, data = wsgi_transport(application())("POST", "http://testserver/dp/v1/query", {}, body)
    assert status == 401 and b"missing_credentials" in data
    results = [(e.data["result"], e.result) for e in events("dataplane.query")]
    assert results == [("ok", "ok"), ("replayed_nonce", "denied"), ("stale_timestamp", "denied"),
                       ("stale_timestamp", "denied"), ("bad_signature", "denied"), ("unknown_app_key", "denied"),
                       ("bad_signature", "denied"), ("missing_credentials", "denied")]
    assert events("dataplane.query")[5].actor_label == "unverified:gs-unknown"


def test_l3_needs_business_references(world: World) -> None:
    bare = world.client(refs=False)
    key = world.inside[0]["id_number"]
    assert denied(bare.query, world.code, keys=[key]).code == "missing_case_number"
    refs = {**REFS, "item_code": None}
    assert denied(bare.query, world.code, keys=[key], **refs).code == "missing_item_code"
    ev = events("dataplane.query")[-1]
    assert ev.result == "denied" and ev.data["case_number"] == REFS["case_number"]
    assert "records" not in ev.data and ev.data["key_hmacs"] == []  # refused before the keys were read


def test_l4_requires_sm2_signature(world: World) -> None:
    bank = world.make_resource("个人银行账户", BANK_ITEMS, [
        {"id_number": p["id_number"], "person_name": p["person_name"], "bank_card": "6222020200112233445"}
        for p in world.inside])
    grant = world.make_grant(bank, {"id_number": "plain", "bank_card": "masked"})
    key = world.inside[0]["id_number"]
    unsigned = denied(world.client().query, bank.code, keys=[key])
    assert (unsigned.status, unsigned.code) == (401, "sm2_signature_required")
    answer = world.client(sm2=True).query(bank.code, keys=[key])
    assert answer["records"][0]["data"] == {"id_number": key, "bank_card": "622202*********3445"}
    other_private, other_public = get_sm2_provider().generate_keypair()
    forged = world.client(sm2_private_key=other_private, sm2_public_key=other_public)
    assert denied(forged.query, bank.code, keys=[key]).code == "bad_sm2_signature"
    ev = events("dataplane.query", target_id=str(grant.pk))
    assert [e.data["result"] for e in ev] == ["sm2_signature_required", "ok", "bad_sm2_signature"]


def test_wsgi_dispatch_and_errors(world: World) -> None:
    from govshare.client import wsgi_transport

    send = wsgi_transport(application())
    status, headers, data = send("GET", "http://testserver/dp/v1/nothing", {}, b"")
    assert status == 404 and b'"not_found"' in data and headers["x-gs-request-id"]
    status, _, data = send("GET", "http://testserver/dp/v1/query", {}, b"")
    assert status == 405 and b'"ok":false' in data
    # Django answers everything else through the same entry (its connection recycling is switched off here, as
    # django.test.Client does, because the test runs inside a transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        status, headers, _ = send("GET", "http://testserver/api/v1/openapi.json", {}, b"")
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert status == 200 and headers["content-type"].startswith("application/json")
    big = world.client()
    assert denied(big.query, world.code, keys=["x" * 129]).code == "bad_request"
    assert denied(big.query, world.code, keys=[str(i) for i in range(101)]).code == "bad_request"
    assert denied(big.query, "NO-SUCH-RESOURCE", keys=["1"]).code == "no_grant"


def test_batched_admission_decides_like_one_by_one(world: World) -> None:
    """Admissions group-committed together get exactly the outcome they would have had one after the other."""
    from django.db import connection
    from django.utils import timezone

    from govshare.exchange.dataplane import limits

    ops = connection.ops
    gid = UsageCounter._meta.get_field("grant").get_db_prep_save(world.grant.pk, connection)
    now = timezone.now()
    counters = [limits.Counter("d:test", 3, "over_daily_quota"), limits.Counter("v:test:k", 2, "over_verify_quota")]
    key = "a" * 64

    def job(nonce: str, claim: str) -> Any:
        return limits._Job(nonce_value=nonce, nonce_expires=ops.adapt_datetimefield_value(now),
                           grant_db_id=gid, day=ops.adapt_datefield_value(now.date()), counters=counters,
                           claim=limits.Claim(key, claim))

    jobs = [job("t:1", "h1"), job("t:2", "h2"), job("t:2", "h3"), job("t:3", "h2"), job("t:4", "h4"),
            job("t:5", "h5")]
    limits._execute(jobs)
    outcome = [j.error.code if j.error else (j.admission.counts, j.admission.distinct_claims) for j in jobs]
    assert outcome == [({"d:test": 1, "v:test:k": 1}, 1), ({"d:test": 2, "v:test:k": 2}, 2), "replayed_nonce",
                       "over_verify_quota", "over_daily_quota", "over_daily_quota"]
    counts = dict(UsageCounter.objects.filter(grant=world.grant, bucket__contains=":test").values_list("bucket",
                                                                                                      "count"))
    assert counts == {"d:test": 3, "v:test:k": 2}
    again = [job("t:6", "h2"), job("t:1", "h9")]
    limits._execute(again)
    assert again[1].error.code == "replayed_nonce" and again[0].error.code == "over_daily_quota"
    assert VerifyClaim.objects.filter(grant=world.grant, key_hmac=key).count() == 2


def test_expired_nonces_and_old_counters_are_purged(world: World) -> None:
    import datetime as dt

    from django.utils import timezone

    from govshare.exchange.dataplane import limits
    from govshare.exchange.models import Nonce

    old = timezone.localdate() - dt.timedelta(days=5)
    Nonce.objects.create(value="x:old-nonce-000000", expires_at=timezone.now() - dt.timedelta(minutes=1))
    UsageCounter.objects.create(grant=world.grant, bucket=f"d:{old:%Y%m%d}", count=7, day=old)
    VerifyClaim.objects.create(grant=world.grant, key_hmac="k", claim_hash="h", day=old)
    limits.reset_purge_clock()
    world.client().query(world.code, keys=[world.inside[0]["id_number"]])
    assert not Nonce.objects.filter(value="x:old-nonce-000000").exists()
    assert not UsageCounter.objects.filter(day=old).exists() and not VerifyClaim.objects.filter(day=old).exists()
    assert Nonce.objects.filter(value__startswith=world.app_key).count() == 1  # this call's nonce is kept
