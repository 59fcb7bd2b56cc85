"""Data-plane abuse, end to end through the WSGI entry with signed requests:

- verify enumeration against one key (guessing a person's name or phone by trying many claims) hits the
  per-key verify quota, raises ``dataplane.verify_enumeration_alert`` audit events, and the auditor finds every
  attempt with "who looked up this person" (/api/v1/audit/lookups);
- filtering or ordering on a masked or verify_only item is refused (it would let a caller rebuild the value);
- bad signatures are refused, audited, and throttled per AppKey and per address.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.client import GovshareError
from govshare.conftest import client_for
from govshare.exchange.models import Grant, UsageCounter
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    PERSON_GRANT,
    REFS,
    World,
    _fresh_dataplane,
    events,
    world_fixture,
)

pytestmark = pytest.mark.django_db


def _refused(fn: Any, *args: Any, **kw: Any) -> GovshareError:
    with pytest.raises(GovshareError) as info:
        fn(*args, **kw)
    return info.value


def test_verify_enumeration_against_one_key(world: World, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "DATAPLANE_VERIFY_ENUMERATION_THRESHOLD": 3}
    Grant.objects.filter(pk=world.grant.pk).update(verify_quota_per_key=6)
    from django.db import transaction

    from govshare.core.epoch import bump_authz_epoch

    with transaction.atomic():
        bump_authz_epoch()
    gs = world.client()
    victim = world.inside[0]
    guesses = [f"138001{n:05d}" for n in range(6)]
    answers = [gs.verify(world.code, victim["id_number"], {"mobile": g}) for g in guesses]
    assert all(a["all_match"] is False for a in answers)  # wrong guesses learn nothing else
    # The seventh attempt (even the right answer) is over the per-key quota.
    over = _refused(gs.verify, world.code, victim["id_number"], {"mobile": victim["mobile"]})
    assert (over.status, over.code) == (429, "over_verify_quota") and "retry-after" in over.headers
    # From the threshold on, each new distinct claim raised an alert naming the key's HMAC, not the key.
    alerts = events("dataplane.verify_enumeration_alert")
    assert len(alerts) == len(guesses) - 3 + 1
    assert {a.data["distinct_claims"] for a in alerts} == set(range(3, len(guesses) + 1))
    assert all(victim["id_number"] not in json.dumps(a.data) for a in alerts)
    # Other keys are not blocked by one key's quota.
    other = world.inside[1]
    assert gs.verify(world.code, other["id_number"], {"mobile": other["mobile"]})["all_match"] is True
    # The auditor sees every attempt on that person, the refused one included.
    auditor = testing.user(Role.AUDIT_ADMIN, at=world.city)
    resp = client_for(auditor).get(f"/api/v1/audit/lookups?id_number={victim['id_number']}&limit=50")
    assert resp.status_code == 200, resp.content
    found = [(e["action"], e["result"]) for e in resp.json()["items"]]
    assert found.count(("dataplane.verify", "ok")) == len(guesses)
    assert ("dataplane.verify", "denied") in found
    assert sum(1 for a, _ in found if a == "dataplane.verify_enumeration_alert") == len(alerts)


def _query(gs: Any, body: dict[str, Any]) -> GovshareError:
    return _refused(gs.request, "POST", "/dp/v1/query", body=json.dumps(body).encode(), refs=REFS)


@pytest.mark.parametrize("item", ["person_name", "mobile"])  # masked, verify_only
def test_filter_and_order_on_masked_or_verify_only_items_are_refused(item: str, world: World) -> None:
    assert PERSON_GRANT[item] in ("masked", "verify_only")
    gs = world.client()
    value = world.inside[0][item]
    for body in ({"resource": world.code, "filters": {item: value}},
                 {"resource": world.code, "filter": f'{item} prefix "{value[:1]}"'},
                 {"resource": world.code, "filters": {"gender": "男"}, "order_by": item},
                 {"resource": world.code, "filters": {"gender": "男"}, "order_by": "-" + item}):
        err = _query(gs, body)
        assert (err.status, err.code) == (403, "mode_not_granted"), (body, err.code)
    assert [e.result for e in events("dataplane.query")] == ["denied"] * 4
    assert not UsageCounter.objects.filter(grant=world.grant).exists()  # refused before the counters
    # The same filter on a plain item is answered.
    assert gs.query(world.code, filters={"gender": "男"})["count"] >= 1


def test_bad_signatures_are_refused_and_audited(world: World) -> None:
    wrong = world.client(secret="guessed-secret-0001")
    for _ in range(3):
        err = _refused(wrong.query, world.code, keys=[world.inside[0]["id_number"]])
        assert (err.status, err.code) == (401, "bad_signature")
    evs = events("dataplane.query")
    assert [e.data["result"] for e in evs] == ["bad_signature"] * 3
    assert all(e.actor_label == f"unverified:{world.app_key}" for e in evs)
    assert not UsageCounter.objects.exists()


def test_bad_signatures_are_throttled(world: World, settings: Any) -> None:
    wrong = world.client(secret="guessed-secret-0001")
    codes = []
    for _ in range(40):
        try:
            wrong.query(world.code, keys=[world.inside[0]["id_number"]])
        except GovshareError as err:
            codes.append((err.status, err.code))
    assert codes[0] == (401, "bad_signature")
    assert codes[:20] == [(401, "bad_signature")] * 20  # GOVSHARE['DATAPLANE_AUTH_FAILURES_PER_MINUTE'] = 20
    assert codes[20:] == [(429, "over_auth_failure_limit")] * 20
    # the right secret from the same address is refused too this minute (the address is over the limit)
    with pytest.raises(GovshareError) as info:
        world.client().query(world.code, keys=[world.inside[0]["id_number"]])
    assert info.value.status == 429
    # throttled calls are audited as refused, never served
    assert events("dataplane.query")[-1].data["result"] == "over_auth_failure_limit"
