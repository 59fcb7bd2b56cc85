"""Dispute services: raising (grant, item, row filter, dedupe), every step with its audit event, corrections through
the change log, working-day deadlines across 国庆 and an unknown year, the escalation sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.audit.services import audit_key_hmac
from govshare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from govshare.datasets.changes import changes_since, live_records
from govshare.datasets.models import ChangeBatch
from govshare.exchange.models import Grant, Notification
from govshare.organizations.holidays import load_holiday_year, seed_holidays
from govshare.quality.models import Dispute, DisputeStep
from govshare.quality.services.disputes import act_on_dispute, raise_dispute
from govshare.quality.services.sweep import sweep_disputes
from govshare.quality.tests.conftest import World, rid

pytestmark = pytest.mark.django_db
CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[dt.datetime], None]:
    def set_now(when: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: when)
        Grant.objects.update(valid_from=dt.date(2020, 1, 1))  # granted long before the simulated day

    return set_now


def flag(world: World, n: int = 1, **kw: Any) -> Dispute:
    kw.setdefault("column", "birth_date")
    kw.setdefault("reason", "出生日期与户籍登记不符")
    return raise_dispute(actor=world.consumer, dataset=world.dataset, record_key=rid(n), **kw)


# ---------------------------------------------------------------------------------------------
# Raising
# ---------------------------------------------------------------------------------------------


def test_a_consumer_raises_a_dispute_on_a_granted_record(world: World) -> None:
    d = flag(world, evidence={"our_value_source": "社保参保登记表"})
    assert (d.status, d.origin, d.raising_department_id, d.provider_id) == (
        "submitted", "consumer", world.consumer_dept.pk, world.provider_dept.pk)
    assert d.accept_due_at > d.submitted_at and d.resolve_due_at is None
    assert list(d.steps.values_list("action", "to_status")) == [("raise", "submitted")]
    event = AuditEvent.objects.get(action="quality.dispute_raised", target_id=str(d.pk))
    assert event.data["key_hmacs"] == [audit_key_hmac(rid(1))]
    assert rid(1) not in str(event.data)  # the key itself is not in the audit data
    assert Notification.objects.filter(kind="dispute_raised", department=world.provider_dept,
                                       role="provider").count() == 1


def test_raising_needs_an_active_grant_covering_the_item(world: World) -> None:
    outsider = testing.user(Role.CONSUMER, dept=testing.department(world.dataset.node, name="民政局"))
    with pytest.raises(PermissionDenied):
        raise_dispute(actor=outsider, dataset=world.dataset, record_key=rid(1), reason="不符")
    with pytest.raises(PermissionDenied):  # 现住址 is not in the grant
        flag(world, column="current_address")
    with pytest.raises(PermissionDenied):  # the provider does not raise disputes on its own data
        raise_dispute(actor=world.provider, dataset=world.dataset, record_key=rid(1), reason="不符")
    with pytest.raises(PermissionDenied):  # a person cannot claim a platform origin
        flag(world, origin="fusion")
    Grant.objects.filter(pk=world.grant.pk).update(status="suspended")
    with pytest.raises(PermissionDenied):
        flag(world)
    assert not Dispute.objects.exists()


def test_an_unknown_or_filtered_record_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        raise_dispute(actor=world.consumer, dataset=world.dataset, record_key="445102199001010000", reason="不符")
    Grant.objects.filter(pk=world.grant.pk).update(row_filter={"field": "gender", "op": "eq", "value": "男"})
    with pytest.raises(NotFound):  # rid(2) is a woman: outside the grant's rows, exactly like a missing record
        flag(world, 2)
    assert flag(world, 1).status == "submitted"


@pytest.mark.parametrize(("kw", "field"), [
    ({"reason": "  "}, "reason"),
    ({"category": "gossip"}, "category"),
    ({"column": "nonexistent"}, "column"),
    ({"evidence": {"blob": "x" * 9000}}, "evidence"),
    ({"record_key": ""}, "record_key"),
    ({"origin": "telepathy"}, "origin"),
])
def test_bad_input_names_the_field_and_writes_nothing(world: World, kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"actor": world.consumer, "dataset": world.dataset, "record_key": rid(1),
                            "reason": "不符", **kw}
    with pytest.raises(ValidationFailed) as exc:
        raise_dispute(**args)
    assert exc.value.details["field"] == field
    assert not Dispute.objects.exists()


def test_one_open_dispute_per_department_record_and_column(world: World) -> None:
    first = flag(world)
    with pytest.raises(Conflict) as exc:
        flag(world)
    assert exc.value.details["dispute_id"] == str(first.pk)
    assert flag(world, column="gender").pk != first.pk  # another item is another dispute
    act_on_dispute(actor=world.consumer, dispute=first, action="withdraw")
    assert flag(world).pk != first.pk  # once closed, the record may be flagged again


def test_fusion_gets_the_open_dispute_back_instead_of_a_second(world: World) -> None:
    args = {"dataset": world.dataset, "record_key": rid(3), "column": "gender", "origin": "fusion",
            "reason": "多元校核：民政婚姻登记的性别与公安不一致", "evidence": {"source": "民政局", "version": 4}}
    a = raise_dispute(actor="fusion", **args)
    b = raise_dispute(actor="fusion", **args)
    assert a.pk == b.pk and Dispute.objects.count() == 1
    assert (a.origin, a.raising_department_id, a.raised_by_label, a.category) == ("fusion", None, "fusion",
                                                                                  "inconsistent")
    # The data office may withdraw what the platform raised; the fusion job itself too.
    act_on_dispute(actor=world.office, dispute=a, action="withdraw")
    c = raise_dispute(actor="fusion", **args)
    assert c.pk != a.pk
    act_on_dispute(actor="fusion", dispute=c, action="withdraw")
    assert Dispute.objects.get(pk=c.pk).status == "withdrawn"


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def test_accept_then_confirm_records_every_step_with_an_audit_event(world: World) -> None:
    d = flag(world)
    with pytest.raises(PermissionDenied):
        act_on_dispute(actor=world.consumer, dispute=d, action="accept")
    d = act_on_dispute(actor=world.provider, dispute=d, action="accept")
    assert d.status == "accepted" and d.resolve_due_at is not None and d.accepted_at is not None
    with pytest.raises(ValidationFailed) as exc:
        act_on_dispute(actor=world.provider, dispute=d, action="confirm")
    assert exc.value.details["field"] == "text"
    d = act_on_dispute(actor=world.provider, dispute=d, action="confirm", text="经核对户籍档案，出生日期无误")
    assert (d.status, d.resolution, d.open_key) == ("resolved_confirmed", "confirmed", None)
    assert list(DisputeStep.objects.filter(dispute=d).order_by("created_at").values_list("action", flat=True)) == [
        "raise", "accept", "confirm"]
    assert list(AuditEvent.objects.filter(target_id=str(d.pk)).order_by("seq").values_list("action", flat=True)) == [
        "quality.dispute_raised", "quality.dispute_accept", "quality.dispute_confirm"]
    assert Notification.objects.filter(kind="dispute_answered", department=world.consumer_dept).count() == 2
    with pytest.raises(Conflict):
        act_on_dispute(actor=world.provider, dispute=d, action="correct", corrections={"birth_date": "1960-01-02"})


def test_a_correction_enters_the_change_log_with_old_and_new_values(world: World) -> None:
    d = act_on_dispute(actor=world.provider, dispute=flag(world, 2), action="accept")
    before = live_records(dataset=world.dataset, keys=[rid(2)])[rid(2)]
    seq = world.dataset.__class__.objects.get(pk=world.dataset.pk).last_seq
    d = act_on_dispute(actor=world.provider, dispute=d, action="correct", text="已按户籍档案更正",
                       corrections={"birth_date": "1960-07-09", "gender": "男"})
    assert (d.status, d.resolution, d.correction_batch_id) == ("resolved_corrected", "corrected", f"dispute:{d.pk}")
    changes = changes_since(dataset=world.dataset, after=seq, limit=10)
    assert len(changes) == 1
    c = changes[0]
    assert (c.key, c.op, c.batch_id) == (rid(2), "upsert", f"dispute:{d.pk}")
    assert c.old == before
    assert c.data == {**before, "birth_date": "1960-07-09", "gender": "男"}
    batch = ChangeBatch.objects.get(dataset_id=world.dataset.pk, batch_id=f"dispute:{d.pk}")
    assert (batch.kind, batch.updated) == ("correction", 1)
    step = d.steps.get(action="correct")
    assert step.detail["columns"] == ["birth_date", "gender"] and "1960-07-09" not in str(step.detail)
    event = AuditEvent.objects.get(action="quality.dispute_correct", target_id=str(d.pk))
    assert event.data["correction"]["batch_id"] == f"dispute:{d.pk}" and "1960-07-09" not in str(event.data)


@pytest.mark.parametrize(("corrections", "field"), [
    (None, "corrections"),
    ({}, "corrections"),
    ({"id_number": "445102196001010011"}, "corrections"),  # the key
    ({"nonexistent": "x"}, "corrections"),
    ({"gender": "X"}, "corrections"),  # not an allowed value: validated like an upload
    ({"gender": "女"}, "corrections"),  # rid(2) is already 女: nothing would change
])
def test_bad_corrections_write_nothing(world: World, corrections: Any, field: str) -> None:
    d = act_on_dispute(actor=world.provider, dispute=flag(world, 2), action="accept")
    seq = world.dataset.__class__.objects.get(pk=world.dataset.pk).last_seq
    with pytest.raises(ValidationFailed) as exc:
        act_on_dispute(actor=world.provider, dispute=d, action="correct", corrections=corrections)
    assert exc.value.details["field"] == field
    assert Dispute.objects.get(pk=d.pk).status == "accepted"
    assert changes_since(dataset=world.dataset, after=seq, limit=10) == []
    assert not ChangeBatch.objects.filter(batch_id=f"dispute:{d.pk}").exists()


def test_reject_withdraw_and_reopen(world: World) -> None:
    rejected = act_on_dispute(actor=world.provider, dispute=flag(world, 1), action="reject",
                              text="该记录属于户籍迁出人员，请向迁入地公安机关反馈")
    assert (rejected.status, rejected.resolution_text[:2]) == ("rejected", "该记")
    d = flag(world, 3)
    with pytest.raises(PermissionDenied):
        act_on_dispute(actor=world.provider, dispute=d, action="withdraw")
    d = act_on_dispute(actor=world.provider, dispute=d, action="accept")
    d = act_on_dispute(actor=world.consumer_admin, dispute=d, action="withdraw")  # the raising department's admin
    assert d.status == "withdrawn"
    d = act_on_dispute(actor=world.provider, dispute=flag(world, 4), action="accept")
    d = act_on_dispute(actor=world.provider, dispute=d, action="confirm", text="无误")
    d = act_on_dispute(actor=world.consumer, dispute=d, action="reopen", text="请再核对出生医学证明")
    assert (d.status, d.reopen_count, d.resolution, d.resolved_at) == ("accepted", 1, "", None)
    d = act_on_dispute(actor=world.provider, dispute=d, action="confirm", text="再次核对无误")
    with pytest.raises(Conflict):  # only once
        act_on_dispute(actor=world.consumer, dispute=d, action="reopen", text="仍有异议")


def test_reopen_window_counts_working_days(world: World, clock: Callable[[dt.datetime], None]) -> None:
    seed_holidays(actor=None, years=[2025])
    clock(dt.datetime(2025, 9, 26, 10, 0, tzinfo=CN))  # a Friday
    d = act_on_dispute(actor=world.provider, dispute=flag(world, 5), action="accept")
    d = act_on_dispute(actor=world.provider, dispute=d, action="confirm", text="无误")
    # 5 working days after Fri 9-26: 9-28 (调休 Sunday), 9-29, 9-30, 10-9, 10-10 — 国庆 in between.
    clock(dt.datetime(2025, 10, 10, 18, 0, tzinfo=CN))
    assert act_on_dispute(actor=world.consumer, dispute=d, action="reopen", text="有异议").status == "accepted"
    d2 = act_on_dispute(actor=world.provider, dispute=flag(world, 0), action="accept")
    d2 = act_on_dispute(actor=world.provider, dispute=d2, action="confirm", text="无误")
    clock(dt.datetime(2025, 10, 20, 9, 0, tzinfo=CN))
    with pytest.raises(Conflict):
        act_on_dispute(actor=world.consumer, dispute=d2, action="reopen", text="有异议")


# ---------------------------------------------------------------------------------------------
# Deadlines and the sweep
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("submitted", "accept_due", "accepted", "resolve_due"), [
    # 国庆 2025: Oct 1–8 off, Sat Oct 11 a 调休 working day; the day of receipt is not counted.
    (dt.datetime(2025, 9, 30, 16, 0, tzinfo=CN), dt.date(2025, 10, 10),
     dt.datetime(2025, 9, 30, 17, 0, tzinfo=CN), dt.date(2025, 10, 21)),
    # A Saturday submission counts from Monday; 春节 2026 (Feb 15–23 off, Feb 14 and 28 worked).
    (dt.datetime(2026, 2, 7, 11, 0, tzinfo=CN), dt.date(2026, 2, 10),
     dt.datetime(2026, 2, 12, 10, 0, tzinfo=CN), dt.date(2026, 3, 4)),
])
def test_deadlines_count_working_days(world: World, clock: Callable[[dt.datetime], None], submitted: dt.datetime,
                                      accept_due: dt.date, accepted: dt.datetime, resolve_due: dt.date) -> None:
    seed_holidays(actor=None, years=[2025, 2026])
    clock(submitted)
    d = flag(world)
    due = d.accept_due_at.astimezone(CN)
    assert (due.date(), due.hour, due.minute, d.accept_due_provisional) == (accept_due, 23, 59, False)
    clock(accepted)
    d = act_on_dispute(actor=world.provider, dispute=d, action="accept")
    assert d.resolve_due_at is not None
    assert (d.resolve_due_at.astimezone(CN).date(), d.resolve_due_provisional) == (resolve_due, False)


def test_settings_change_the_deadlines(world: World, clock: Callable[[dt.datetime], None], settings: Any) -> None:
    seed_holidays(actor=None, years=[2025])
    settings.GOVSHARE = {**settings.GOVSHARE, "DISPUTE_ACCEPT_DAYS": 5}
    clock(dt.datetime(2025, 9, 30, 16, 0, tzinfo=CN))
    assert flag(world).accept_due_at.astimezone(CN).date() == dt.date(2025, 10, 14)  # 9, 10, 11 (调休), 13, 14


def test_a_year_without_holiday_data_gives_a_provisional_deadline_recomputed_when_entered(
        world: World, clock: Callable[[dt.datetime], None], django_capture_on_commit_callbacks: Any) -> None:
    seed_holidays(actor=None, years=[2025, 2026])
    clock(dt.datetime(2026, 12, 31, 10, 0, tzinfo=CN))  # Thursday; 2027 has no data yet
    d = flag(world)
    assert d.accept_due_provisional is True
    assert d.accept_due_at.astimezone(CN).date() == dt.date(2027, 1, 4)  # Fri 1-1 counted: weekends only
    with django_capture_on_commit_callbacks(execute=True):
        load_holiday_year(actor=None, year=2027, source="manual", notice="国办发明电〔2026〕X号",
                          days=[(dt.date(2027, 1, 1), "holiday", "元旦")])
    d.refresh_from_db()
    assert (d.accept_due_at.astimezone(CN).date(), d.accept_due_provisional) == (dt.date(2027, 1, 5), False)
    assert AuditEvent.objects.filter(action="quality.dispute_deadlines_recomputed").count() == 1


def test_sweep_reminds_then_escalates_once_without_changing_who_must_act(
        world: World, clock: Callable[[dt.datetime], None]) -> None:
    seed_holidays(actor=None, years=[2025])
    clock(dt.datetime(2025, 11, 3, 10, 0, tzinfo=CN))  # Monday: accept due Wed 11-05
    d = flag(world)
    assert sweep_disputes() == {"reminded": 0, "escalated": 0}
    clock(dt.datetime(2025, 11, 4, 10, 0, tzinfo=CN))  # one working day left
    assert sweep_disputes() == {"reminded": 1, "escalated": 0}
    assert sweep_disputes() == {"reminded": 0, "escalated": 0}
    clock(dt.datetime(2025, 11, 6, 9, 0, tzinfo=CN))  # overdue
    assert sweep_disputes() == {"reminded": 0, "escalated": 1}
    assert sweep_disputes() == {"reminded": 0, "escalated": 0}
    d.refresh_from_db()
    assert d.status == "submitted" and d.escalated_at is not None
    assert Notification.objects.filter(kind="dispute_escalation", role="data_office", node=world.dataset.node
                                       ).count() == 1
    assert Notification.objects.filter(kind="dispute_reminder", department=world.provider_dept).count() == 1
    assert list(d.steps.values_list("action", flat=True).order_by("created_at")) == ["raise", "escalate"]
    assert AuditEvent.objects.filter(action="quality.dispute_escalate", target_id=str(d.pk)).count() == 1
    # The provider still acts; acceptance opens a new stage, escalated again only when that one is overdue.
    d = act_on_dispute(actor=world.provider, dispute=d, action="accept")
    assert d.escalated_at is None and d.reminded_at is None
    assert sweep_disputes() == {"reminded": 0, "escalated": 0}
    clock(dt.datetime(2025, 12, 1, 9, 0, tzinfo=CN))
    assert sweep_disputes() == {"reminded": 0, "escalated": 1}
    assert Notification.objects.filter(kind="dispute_escalation").count() == 2


def test_escalation_by_hand_is_refused(world: World) -> None:
    d = flag(world)
    with pytest.raises(PermissionDenied):
        act_on_dispute(actor=world.office, dispute=d, action="escalate")
    with pytest.raises(Conflict):  # the platform may escalate only an overdue dispute
        act_on_dispute(actor="worker", dispute=d, action="escalate")
