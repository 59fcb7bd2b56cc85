"""The rollup: figures against known data, idempotent re-runs, snapshots, calls from the data plane's counters,
regions, the periodic jobs and the CLI."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.core import periodic
from govshare.core.calendar import SHANGHAI
from govshare.core.identifiers import make_resident_id
from govshare.datasets.models import Dataset
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    REFS,
    World,
    _fresh_dataplane,
    world_fixture,
)
from govshare.organizations.services import create_node, load_regions
from govshare.quality.services.disputes import raise_dispute
from govshare.stats import selectors
from govshare.stats.models import DepartmentDay, ResourceDay, RollupDay
from govshare.stats.services import FINALIZE_JOB, ROLLUP_JOB, finalize_job, refresh_rollups
from govshare.stats.tests.conftest import City, at

pytestmark = pytest.mark.django_db

# A week of March 2026 without holidays (Mon 2 … Mon 16).
DECIDED = dt.date(2026, 3, 16)


def row(day: dt.date, dept: Any) -> DepartmentDay:
    return DepartmentDay.objects.get(day=day, department=dept)


def values(day: dt.date) -> list[tuple[Any, ...]]:
    fields = [f.name for f in DepartmentDay._meta.fields if f.name != "id"]
    return sorted(DepartmentDay.objects.filter(day=day).values_list(*fields))


def test_review_times_in_working_days_median_and_p90(town: City) -> None:
    # Decided on Monday 16 March; submitted 1, 2, 3, 4, 5 and 10 working days before (weekend skipped).
    for submitted, refuse in [(dt.date(2026, 3, 13), False), (dt.date(2026, 3, 12), False),
                              (dt.date(2026, 3, 11), True), (dt.date(2026, 3, 10), False),
                              (dt.date(2026, 3, 9), False), (dt.date(2026, 3, 2), False)]:
        town.decided(at(submitted), at(DECIDED, 15), refuse=refuse)
    town.decided(at(DECIDED, 9), None)  # submitted that day, still under review

    refresh_rollups(actor=None, day=DECIDED)
    p = row(DECIDED, town.provider.department)
    assert (p.approved, p.refused, p.applications_received) == (5, 1, 1)
    assert p.review_days == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "10": 1}
    assert p.review_median == 3.5  # (3 + 4) / 2
    assert p.review_p90 == 10  # nearest rank: the 6th of 6
    c = row(DECIDED, town.consumer.department)
    assert (c.applications_made, c.approved, c.review_median) == (1, 0, None)
    # The submissions are counted on their own days.
    refresh_rollups(actor=None, day=dt.date(2026, 3, 2))
    assert row(dt.date(2026, 3, 2), town.provider.department).applications_received == 1
    # Over a period the histograms merge: still the true median of all decisions.
    data = selectors.summary(town.office, days=30, today=DECIDED)
    assert data["totals"]["review_median"] == 3.5 and data["totals"]["review_p90"] == 10
    assert data["totals"]["applications_received"] == 2 and data["totals"]["decisions"] == 6


def test_rerun_replaces_the_day_and_is_idempotent(town: City) -> None:
    town.decided(at(dt.date(2026, 3, 13)), at(DECIDED))
    first = refresh_rollups(actor="cli:test", day=DECIDED)
    before = values(DECIDED)
    again = refresh_rollups(actor="cli:test", day=DECIDED)
    assert values(DECIDED) == before
    assert DepartmentDay.objects.filter(day=DECIDED).count() == first.departments == again.departments
    # A late decision on that day (a step recorded with that day's time) replaces the figures on re-run.
    town.decided(at(dt.date(2026, 3, 11)), at(DECIDED, 17), refuse=True)
    refresh_rollups(actor="cli:test", day=DECIDED)
    p = row(DECIDED, town.provider.department)
    assert (p.approved, p.refused, p.review_days) == (1, 1, {"1": 1, "3": 1})
    assert DepartmentDay.objects.filter(day=DECIDED).count() == first.departments
    assert AuditEvent.objects.filter(action="stats.rollup_refreshed", target_id=DECIDED.isoformat()).count() == 3


def test_future_day_is_refused() -> None:
    with pytest.raises(Exception) as info:
        refresh_rollups(actor=None, day=timezone.localdate() + dt.timedelta(days=2))
    assert getattr(info.value, "details", {}).get("field") == "day"


def test_stock_is_a_snapshot_of_today_and_kept_for_past_days(town: City) -> None:
    now = timezone.now()
    today = timezone.localdate(now, timezone=SHANGHAI)
    testing.resource(town.provider.department, name="婚姻登记信息", publish_by=town.office)
    refresh_rollups(actor=None, now=now)
    p = row(today, town.provider.department)
    assert (p.resources, p.mounted) == (2, 0)
    ds = mount_resource(actor=town.provider, resource=town.resource)
    load_rows(actor=town.provider, dataset=ds, rows=[
        {"id_number": make_resident_id("445102", dt.date(1980, 1, 1), 1), "person_name": "张三", "gender": "男"}])
    # Tomorrow: re-running today (now yesterday) keeps its snapshot; the new day takes a new one.
    tomorrow = now + dt.timedelta(days=1)
    refresh_rollups(actor=None, day=today, now=tomorrow)
    assert (row(today, town.provider.department).resources, row(today, town.provider.department).mounted) == (2, 0)
    assert RollupDay.objects.get(day=today).final_at == tomorrow
    refresh_rollups(actor=None, now=tomorrow)
    assert row(today + dt.timedelta(days=1), town.provider.department).mounted == 1


def test_late_resources_and_disputes(town: City) -> None:
    ds = mount_resource(actor=town.provider, resource=town.resource)
    key = make_resident_id("445102", dt.date(1980, 1, 1), 1)
    load_rows(actor=town.provider, dataset=ds, rows=[{"id_number": key, "person_name": "张三", "gender": "男"}])
    raise_dispute(actor=None, dataset=ds, record_key=key, column="person_name", reason="姓名与户籍不一致",
                  origin="quality")
    now = timezone.now()
    refresh_rollups(actor=None, now=now)
    p = row(timezone.localdate(now, timezone=SHANGHAI), town.provider.department)
    assert (p.disputes_open, p.disputes_overdue, p.disputes_raised) == (1, 0, 1)
    # 更新周期 每日: nothing new for three weeks makes the resource late, and the dispute overdue.
    Dataset.objects.filter(pk=ds.pk).update(last_received_at=now - dt.timedelta(days=21),
                                            last_loaded_at=now - dt.timedelta(days=21))
    town.resource.update_cycle = "daily"
    town.resource.save(update_fields=["update_cycle"])
    later = now + dt.timedelta(days=21)
    refresh_rollups(actor=None, now=later)
    p = row(timezone.localdate(later, timezone=SHANGHAI), town.provider.department)
    assert (p.scheduled, p.late, p.disputes_open, p.disputes_overdue) == (1, 1, 1, 1)


def test_calls_come_from_the_data_plane_counters(world: World) -> None:
    gs = world.client()
    person = world.inside[0]
    for _ in range(3):
        gs.query(world.code, keys=[person["id_number"]])
    for _ in range(2):
        gs.verify(world.code, person["id_number"], {"mobile": person["mobile"]})
    result = refresh_rollups(actor=None)
    today = result.day
    p = row(today, world.provider.department)
    assert (p.calls_query, p.calls_verify, p.calls_made) == (3, 2, 0)
    assert row(today, world.consumer.department).calls_made == 5
    r = ResourceDay.objects.get(day=today)
    assert (r.resource_id, r.calls_query, r.calls_verify) == (world.resource.pk, 3, 2)
    top = selectors.summary(world.office, days=7)["top_resources"]
    assert [(t["code"], t["calls_total"]) for t in top] == [(world.code, 5)]


def test_calls_of_a_day_whose_counters_were_purged_are_kept(world: World, settings: Any) -> None:
    gs = world.client()
    gs.query(world.code, keys=[world.inside[0]["id_number"]])
    now = timezone.now()
    today = refresh_rollups(actor=None, now=now).day
    assert row(today, world.provider.department).calls_query == 1
    # Ten days later the counters are long purged: the day's call figures stay as computed.
    refresh_rollups(actor=None, day=today, now=now + dt.timedelta(days=10))
    assert row(today, world.provider.department).calls_query == 1
    assert ResourceDay.objects.get(day=today).calls_query == 1


def test_regions_add_up_to_the_city(db: None, seeded: None) -> None:
    load_regions(actor=None)
    city = create_node(actor=None, code="445100", name="潮州市", level="city", region_code="445100")
    xq = create_node(actor=None, code="445102", name="湘桥区", level="county", parent=city, region_code="445102")
    ca = create_node(actor=None, code="445103", name="潮安区", level="county", parent=city, region_code="445103")
    fx = create_node(actor=None, code="445100-FX", name="枫溪区", level="county", parent=city)
    office = testing.user(Role.DATA_OFFICE, dept=testing.department(city, is_data_office=True), at=city)
    made = {}
    for node, n in [(city, 3), (xq, 2), (ca, 1), (fx, 1)]:
        dept = testing.department(node)
        reviewer = office if node == city else testing.user(Role.DATA_OFFICE, at=node)
        for i in range(n):
            testing.resource(dept, name=f"资源{node.code}-{i}", publish_by=reviewer)
        made[node.code] = dept
    refresh_rollups(actor=None)
    regions = {r["key"]: r for r in selectors.summary(office)["regions"]}
    assert regions["city:445100"]["resources"] == 7
    assert regions["city:445100"]["departments_count"] == 5  # four providers and the data office
    assert regions["city_own:445100"]["resources"] == 3
    assert regions["county:445102"]["resources"] == 2 and regions["county:445102"]["name"] == "湘桥区"
    assert regions["county:445103"]["resources"] == 1
    zone = regions[f"zone:{fx.pk}"]
    assert (zone["name"], zone["code"], zone["city_code"], zone["resources"]) == ("枫溪区", "", "445100", 1)
    assert [r["kind"] for r in selectors.summary(office)["regions"]] == ["city", "city_own", "county", "county",
                                                                         "zone"]
    assert row(timezone.localdate(), made["445102"]).region_code == "445102"


def test_jobs_are_registered_and_run_by_the_worker(town: City) -> None:
    assert periodic.get(ROLLUP_JOB) is not None and periodic.get(FINALIZE_JOB) is not None
    assert periodic.get(ROLLUP_JOB).every_seconds == 600  # type: ignore[union-attr]
    call_command("worker", "--once", "--jobs-only", "--jobs", "stats.rollup", stdout=io.StringIO())
    today = timezone.localdate()
    assert RollupDay.objects.filter(day=today, snapshot_at__isnull=False).exists()
    assert row(today, town.provider.department).resources == 1


def test_finalize_runs_after_the_night_hour_once(town: City) -> None:
    night = dt.datetime(2026, 3, 17, 0, 30, tzinfo=SHANGHAI)
    assert finalize_job(now=night) == []
    town.decided(at(dt.date(2026, 3, 13)), at(DECIDED))
    two = dt.datetime(2026, 3, 17, 2, 0, tzinfo=SHANGHAI)
    assert finalize_job(now=two) == [dt.date(2026, 3, 15), DECIDED]
    assert row(DECIDED, town.provider.department).approved == 1
    assert RollupDay.objects.get(day=DECIDED).final_at == two
    assert finalize_job(now=two + dt.timedelta(hours=1)) == []


def test_cli_refreshes_days(town: City) -> None:
    out = io.StringIO()
    call_command("stats", "refresh", "--days", "3", stdout=out)
    assert out.getvalue().count("部门") == 3
    assert RollupDay.objects.count() == 3
    out = io.StringIO()
    call_command("stats", "refresh", "--day", "2026-03-16", stdout=out)
    assert out.getvalue().startswith("2026-03-16:")
