"""Revocation, expiry and emergency suspension take effect on the very next call in every process, with warm
caches (two DataPlane instances play two processes, each with its own cache)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from govshare.catalog.services import ItemSpec
from govshare.client import GovshareClient, GovshareError
from govshare.core.identifiers import make_uscc
from govshare.exchange.dataplane.app import DataPlane
from govshare.exchange.models import Grant
from govshare.exchange.services.grants import lift_suspension, revoke_grant, suspend
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    World,
    _fresh_dataplane,
    events,
    world_fixture,
)
from govshare.registry.models import AppCredential
from govshare.registry.services import issue_credential, revoke_credential

pytestmark = pytest.mark.django_db


def code_of(gs: GovshareClient, world: World) -> str:
    try:
        gs.query(world.code, keys=[world.inside[0]["id_number"]])
    except GovshareError as exc:
        return exc.code
    return "ok"


def processes(world: World) -> list[GovshareClient]:
    clients = [world.client(DataPlane()), world.client(DataPlane())]
    assert [code_of(gs, world) for gs in clients] == ["ok", "ok"]  # both caches warm
    return clients


ACTIONS: dict[str, Callable[[World], Any]] = {
    "revoke_grant": lambda w: revoke_grant(actor=w.provider, grant=w.grant, reason="违规使用"),
    "revoke_credential": lambda w: revoke_credential(actor=w.consumer_admin, credential=w.credential),
    "suspend_grant": lambda w: suspend(actor=w.sec, scope="grant", target_id=w.grant.pk, reason="应急"),
    "suspend_system": lambda w: suspend(actor=w.sec, scope="system", target_id=w.system.pk, reason="应急"),
    "suspend_consumer_department": lambda w: suspend(actor=w.sec, scope="department",
                                                     target_id=w.consumer.department_id, reason="应急"),
    "suspend_provider_department": lambda w: suspend(actor=w.sec, scope="department",
                                                     target_id=w.provider.department_id, reason="应急"),
}
EXPECTED = {"revoke_grant": "grant_revoked", "revoke_credential": "credential_revoked"}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_takes_effect_on_the_next_call_in_every_process(world: World, sec_admin: Any, action: str) -> None:
    world.sec = sec_admin  # type: ignore[attr-defined]
    clients = processes(world)
    done = ACTIONS[action](world)
    expected = EXPECTED.get(action, "grant_suspended")
    assert [code_of(gs, world) for gs in clients] == [expected, expected]
    evs = events("dataplane.query")
    assert [e.result for e in evs][-2:] == ["denied", "denied"] and evs[-1].data["result"] == expected
    if action.startswith("suspend"):
        assert evs[-1].data.get("result") == "grant_suspended"
        lift_suspension(actor=sec_admin, suspension=done, reason="解除")
        assert [code_of(gs, world) for gs in clients] == ["ok", "ok"]


def test_expiry_is_checked_on_every_call(world: World) -> None:
    grant = Grant.objects.get(pk=world.grant.pk)
    dp = DataPlane()
    gs = world.client(dp)
    assert code_of(gs, world) == "ok"
    for when, expected in [(grant.valid_to + dt.timedelta(days=1), "grant_expired"),
                           (grant.valid_from - dt.timedelta(days=1), "grant_expired"),
                           (grant.valid_to, "ok")]:
        moment = timezone.make_aware(dt.datetime.combine(when, dt.time(12)))
        dp.clock = lambda m=moment: m  # type: ignore[misc]
        gs.clock = moment.timestamp
        assert code_of(gs, world) == expected, when
    # A credential past its expiry is refused in the same way (its expiry is cached, compared per call).
    AppCredential.objects.filter(pk=world.credential.pk).update(expires_at=timezone.now() + dt.timedelta(hours=1))
    dp2 = DataPlane()
    gs2 = world.client(dp2)
    assert code_of(gs2, world) == "ok"
    later = timezone.now() + dt.timedelta(hours=2)
    dp2.clock = lambda: later  # type: ignore[method-assign]
    gs2.clock = later.timestamp
    assert code_of(gs2, world) == "credential_expired"


def test_two_active_secrets_and_no_grant_for_other_systems(world: World) -> None:
    second = issue_credential(actor=world.consumer_admin, system=world.system, label="rotation")
    gs2 = world.client(app_key=second.credential.app_key, secret=second.app_secret)
    assert code_of(gs2, world) == "ok" and code_of(world.client(), world) == "ok"
    # Another system of the same department holds no grant: the answer does not say whether the resource exists.
    from govshare.registry.services import create_system

    other = create_system(actor=world.consumer_admin, department=world.consumer.department, name="另一个系统")
    cred = issue_credential(actor=world.consumer_admin, system=other)
    gs3 = world.client(app_key=cred.credential.app_key, secret=cred.app_secret)
    assert code_of(gs3, world) == "no_grant"
    with pytest.raises(GovshareError) as info:
        gs3.query("NO/SUCH/CODE", keys=["1"])
    assert info.value.code == "no_grant" and info.value.status == 403


def test_exchange_mode_must_be_granted(world: World) -> None:
    uscc = make_uscc("9", "1", "445100", "MA4UJ8XQ")
    query_only = world.make_resource("企业名录", [
        ItemSpec(name="统一社会信用代码", element_code="DE0015", is_key=True),
        ItemSpec(name="单位名称", element_code="DE0016", required=True)],
        [{"uscc": uscc, "org_name": "潮州市某某有限公司"}])
    world.make_grant(query_only, {"uscc": "plain", "org_name": "plain"}, modes=("query",))
    gs = world.client(refs=False)
    assert gs.query(query_only.code, keys=[uscc.lower()])["records"][0]["data"]["org_name"] == \
        "潮州市某某有限公司"  # L1: no business references needed; identifiers match case-insensitively
    with pytest.raises(GovshareError) as info:
        gs.verify(query_only.code, uscc, {"org_name": "x"})
    assert info.value.code == "exchange_mode_not_granted"
