"""Quality runs: full and incremental, scores per dataset and department, rule management, the periodic jobs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog.models import DataElement
from govshare.core.errors import PermissionDenied, ValidationFailed
from govshare.datasets.changes import apply_batch, replace_rows
from govshare.datasets.services import mount_resource
from govshare.quality import selectors
from govshare.quality.models import QualityIssue, QualityRun, QualityState
from govshare.quality.services import rules as rule_services
from govshare.quality.services import runs
from govshare.quality.tests.conftest import PERSON_ITEMS, World, person, rid

pytestmark = pytest.mark.django_db


def issues(world: World) -> set[tuple[str, str, str]]:
    return set(QualityIssue.objects.filter(dataset_id=world.dataset.pk).values_list("record_key", "column_name",
                                                                                    "kind"))


def cross_field(world: World) -> None:
    rule_services.create_rule(actor=world.office, kind="cross_field", element=DataElement.objects.get(code="DE0001"),
                              params={"birth": "DE0004", "gender": "DE0003"})


def test_first_full_run_checks_every_live_row(world: World) -> None:
    assert runs.full_due() == [world.dataset.pk]
    run = runs.run_full(dataset=world.dataset)
    assert run is not None and run.kind == "full"
    assert (run.rows_checked, run.rows_failing, run.score) == (world.rows, 0, 1.0)
    state = QualityState.objects.get(pk=world.dataset.pk)
    assert state.cursor_seq == world.dataset.last_seq and state.full_requested_at is None
    assert runs.full_due() == []
    assert AuditEvent.objects.filter(action="quality.run_full", target_id=str(world.dataset.pk)).count() == 1


def test_rule_change_requests_a_full_run_which_finds_disagreements(world: World) -> None:
    runs.run_full(dataset=world.dataset)
    replace_rows(actor=world.provider, dataset=world.dataset, batch_id="load-2",
                 rows=[person(0, birth_date="1999-09-09"), person(1, gender="女"), *[person(n) for n in range(2, 6)]])
    cross_field(world)
    assert runs.full_due() == [world.dataset.pk]
    run = runs.run_full(dataset=world.dataset)
    assert run is not None
    assert issues(world) == {(rid(0), "birth_date", "cross_field"), (rid(1), "gender", "cross_field")}
    assert (run.rows_checked, run.rows_failing, run.score) == (6, 2, round(4 / 6, 6))
    assert QualityState.objects.get(pk=world.dataset.pk).score == round(4 / 6, 6)


def test_incremental_checks_only_changed_records_and_keeps_issues_current_per_key(world: World) -> None:
    cross_field(world)
    runs.run_full(dataset=world.dataset)
    assert issues(world) == set()
    apply_batch(actor=world.provider, dataset=world.dataset, batch_id="b1",
                upserts=[person(2, birth_date="2001-01-01"), person(9, gender="男" if 9 % 2 == 0 else "女")])
    run = runs.run_incremental(dataset=world.dataset)
    assert run is not None and run.kind == "incremental"
    assert (run.rows_checked, run.rows_failing) == (2, 2)
    assert issues(world) == {(rid(2), "birth_date", "cross_field"), (rid(9), "gender", "cross_field")}
    state = QualityState.objects.get(pk=world.dataset.pk)
    assert (state.rows_total, state.rows_failing) == (7, 2)
    # A fixed row replaces its issues; a deleted row loses them.
    apply_batch(actor=world.provider, dataset=world.dataset, batch_id="b2", upserts=[person(2)], deletes=[rid(9)])
    run = runs.run_incremental(dataset=world.dataset)
    assert run is not None and (run.rows_checked, run.rows_failing) == (1, 0)
    assert issues(world) == set()
    state.refresh_from_db()
    assert (state.rows_total, state.rows_failing, state.score) == (6, 0, 1.0)
    assert state.cursor_seq == world.dataset.__class__.objects.get(pk=world.dataset.pk).last_seq
    assert runs.run_incremental(dataset=world.dataset) is None  # nothing new


def test_incremental_and_full_agree(world: World) -> None:
    cross_field(world)
    runs.run_full(dataset=world.dataset)
    apply_batch(actor=world.provider, dataset=world.dataset, batch_id="b1",
                upserts=[person(3, birth_date="1950-01-01"), person(4, gender="男"), person(12)])
    apply_batch(actor=world.provider, dataset=world.dataset, batch_id="b2", upserts=[person(4)],
                deletes=[rid(5)])
    runs.run_incremental(dataset=world.dataset)
    after_incremental = issues(world)
    score_incremental = QualityState.objects.get(pk=world.dataset.pk).score
    runs.request_full_run(actor=world.provider, dataset=world.dataset)
    runs.run_full(dataset=world.dataset)
    assert issues(world) == after_incremental == {(rid(3), "birth_date", "cross_field")}
    assert QualityState.objects.get(pk=world.dataset.pk).score == score_incremental == round(5 / 6, 6)


def test_incremental_waits_for_the_first_full_run(world: World) -> None:
    assert runs.run_incremental(dataset=world.dataset) is None
    assert runs.incremental_job() == {"runs": 0, "rows_checked": 0}


def test_periodic_jobs_are_idempotent(world: World) -> None:
    cross_field(world)
    assert runs.full_job()["runs"] == 1
    assert runs.full_job()["runs"] == 0
    apply_batch(actor=world.provider, dataset=world.dataset, batch_id="b1", upserts=[person(1, gender="女")])
    assert runs.incremental_job() == {"runs": 1, "rows_checked": 1}
    assert runs.incremental_job() == {"runs": 0, "rows_checked": 0}
    assert QualityRun.objects.filter(dataset_id=world.dataset.pk).count() == 2
    # A full run is due again once the interval has passed.
    later = timezone.now() + dt.timedelta(days=2)
    assert runs.full_due(later) == [world.dataset.pk]


def test_a_held_lease_stops_a_second_full_run(world: World) -> None:
    runs.state_of(world.dataset)
    QualityState.objects.filter(pk=world.dataset.pk).update(lease_token="other",
                                                            lease_until=timezone.now() + dt.timedelta(minutes=5))
    assert runs.run_full(dataset=world.dataset) is None
    QualityState.objects.filter(pk=world.dataset.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert runs.run_full(dataset=world.dataset) is not None  # an expired lease is taken over
    assert QualityState.objects.get(pk=world.dataset.pk).lease_token == ""


def test_a_rule_changed_during_a_full_run_keeps_the_request(world: World) -> None:
    started = timezone.now()
    QualityState.objects.create(dataset_id=world.dataset.pk, full_requested_at=started + dt.timedelta(seconds=5))
    runs.run_full(dataset=world.dataset, now=started)
    assert QualityState.objects.get(pk=world.dataset.pk).full_requested_at is not None


def test_department_score_is_row_weighted(world: World) -> None:
    other = testing.resource(world.provider_dept, name="人口补充信息", items=PERSON_ITEMS, share_type="conditional",
                             share_modes=["api"], publish_by=world.office)
    small = mount_resource(actor=world.provider, resource=other)
    replace_rows(actor=world.provider, dataset=small, batch_id="s1",
                 rows=[person(20, gender="男" if 20 % 2 == 0 else "女"), person(21)])
    cross_field(world)
    runs.run_full(dataset=world.dataset)
    runs.run_full(dataset=small)
    rows = selectors.department_scores(world.office)
    assert len(rows) == 1
    row = rows[0]
    assert (row["datasets"], row["rows_total"], row["rows_failing"]) == (2, 8, 1)
    assert row["score"] == round(7 / 8, 6)  # not the mean of 1.0 and 0.5
    assert selectors.department_scores(world.consumer) == []  # another department's scores


def test_rule_permissions(world: World) -> None:
    element = DataElement.objects.get(code="DE0002")
    with pytest.raises(PermissionDenied):
        rule_services.create_rule(actor=world.provider, kind="required", element=element)
    with pytest.raises(PermissionDenied):
        rule_services.create_rule(actor=world.consumer, kind="required", resource=world.resource,
                                  column="current_address")
    rule = rule_services.create_rule(actor=world.provider, kind="required", resource=world.resource,
                                     column="current_address")
    other_office = testing.user(Role.DATA_OFFICE, at=testing.node())
    with pytest.raises(PermissionDenied):
        rule_services.update_rule(actor=other_office, rule=rule, active=False)
    updated = rule_services.update_rule(actor=world.office, rule=rule, active=False)
    assert updated.active is False
    assert AuditEvent.objects.filter(action="quality.rule_updated", target_id=str(rule.pk)).count() == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"kind": "length", "params": {"max": "x"}}, "params.max"),
    ({"kind": "pattern", "params": {"regex": "(a+)+$"}}, "params.regex"),
    ({"kind": "required", "column": "nonexistent"}, "column"),
    ({"kind": "cross_field", "column": "id_number", "params": {"birth": "nonexistent"}}, "params.birth"),
    ({"kind": "required", "message": "长" * 201}, "message"),
])
def test_rule_validation_names_the_field_and_writes_nothing(world: World, kwargs: dict, field: str) -> None:
    kwargs.setdefault("column", "person_name")
    with pytest.raises(ValidationFailed) as exc:
        rule_services.create_rule(actor=world.provider, resource=world.resource, **kwargs)
    assert exc.value.details["field"] == field
    assert not AuditEvent.objects.filter(action="quality.rule_created").exists()


def test_switching_a_rule_off_clears_its_issues_on_the_next_full_run(world: World) -> None:
    rule = rule_services.create_rule(actor=world.provider, kind="required", resource=world.resource,
                                     column="current_address")
    apply_batch(actor=world.provider, dataset=world.dataset, batch_id="b1", upserts=[person(1, current_address=None)])
    runs.run_full(dataset=world.dataset)
    assert issues(world) == {(rid(1), "current_address", "required")}
    rule_services.update_rule(actor=world.provider, rule=rule, active=False)
    assert runs.full_due() == [world.dataset.pk]
    runs.run_full(dataset=world.dataset)
    assert issues(world) == set()
