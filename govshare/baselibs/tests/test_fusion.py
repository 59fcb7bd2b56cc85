"""The fusion job: 一数一源 values, 多元校核 discrepancies and disputes, lineage, incremental runs, deletions,
idempotence, leases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.baselibs.choices import DiscrepancyStatus, Resolution, RunStatus
from govshare.baselibs.models import BaseLibrary, Discrepancy, FusionRun, LibrarySource, Lineage
from govshare.baselibs.services import fuse, fuse_due, request_run
from govshare.baselibs.services.discrepancies import unseal
from govshare.baselibs.tests.conftest import City
from govshare.catalog.services import ItemSpec
from govshare.core.errors import Conflict
from govshare.core.models import ScheduledJob
from govshare.datasets.changes import apply_batch, changes_since, live_records
from govshare.datasets.models import Dataset
from govshare.datasets.services import mount_resource
from govshare.quality.models import Dispute

pytestmark = pytest.mark.django_db


def library_row(lib: BaseLibrary, key: str) -> dict[str, Any] | None:
    return live_records(dataset=lib.dataset, keys=[key]).get(key)


def open_discrepancies(lib: BaseLibrary) -> dict[tuple[str, str, str], Discrepancy]:
    """(key, field, cross-check department) -> open discrepancy."""
    return {(d.key, d.field, d.cross_check.dataset.resource.provider.name): d
            for d in Discrepancy.objects.filter(library=lib, status=DiscrepancyStatus.OPEN)
            .select_related("cross_check__dataset__resource__provider")}


def with_changes(p: dict[str, str], **changes: str) -> dict[str, str]:
    return {**p, **changes}


@pytest.fixture
def conflicted(town: City) -> City:
    """Sources that disagree with the 公安局 here and there; some differences are only formatting."""
    ppl = town.people
    town.batch("rsj", [with_changes(ppl[2], person_name="陈三"),  # a real disagreement on 姓名
                       with_changes(ppl[5], person_name="陈６号")])  # full-width digit: the same after NFKC
    town.batch("mzj", [with_changes(ppl[3], current_address="广东省潮州市潮安区庵埠镇1号")])
    town.batch("wjw", [with_changes(ppl[0], deceased="true")])  # 死亡医学证明 but the 户籍 is not cancelled
    town.batch("gaj", [with_changes(ppl[6], phone="")])  # the cross-check source has no phone: not a disagreement
    return town


def test_fusion_takes_authoritative_values_and_records_discrepancies_disputes_and_lineage(conflicted: City) -> None:
    town, ppl = conflicted, conflicted.people
    lib = town.install()
    run = fuse(actor=town.office, library=lib)
    assert (run.status, run.full, run.keys_examined, run.upserts, run.deletes) == (RunStatus.SUCCEEDED, True, 8, 8, 0)
    # 一数一源: each field from its authoritative source, whatever the others say.
    row = library_row(lib, ppl[2]["id_number"])
    assert row is not None
    assert row["person_name"] == ppl[2]["person_name"]  # 公安局, not 人社局's 陈三
    assert row["marital_status"] == "已婚" and row["insurance_status"] == "参保"  # 民政局 / 人社局
    assert library_row(lib, ppl[0]["id_number"])["deceased"] == "false"  # type: ignore[index]
    assert library_row(lib, ppl[6]["id_number"])["phone"] == ppl[6]["phone"]  # type: ignore[index]
    # 多元校核: exactly the real disagreements.
    found = open_discrepancies(lib)
    assert set(found) == {
        (ppl[2]["id_number"], "person_name", "市人力资源和社会保障局"),
        (ppl[3]["id_number"], "current_address", "市民政局"),
        (ppl[0]["id_number"], "deceased", "市卫生健康委员会"),
    }
    assert run.discrepancies_new == 3 and run.disputes_raised == 3
    d = found[(ppl[2]["id_number"], "person_name", "市人力资源和社会保障局")]
    # Values are stored encrypted, with blind indexes beside them.
    assert "陈" not in d.authoritative_value + d.cross_check_value
    assert unseal(d.cross_check_value) == "陈三"
    assert unseal(d.authoritative_value) == ppl[2]["person_name"]
    assert len(d.authoritative_hash) == len(d.cross_check_hash) == 64 and d.authoritative_hash != d.cross_check_hash
    # The dispute goes against the authoritative source (公安局's dataset), with no plain value in it.
    dispute = Dispute.objects.get(pk=d.dispute_id)
    assert dispute.dataset_id == town.datasets["gaj"].pk and dispute.record_key == ppl[2]["id_number"]
    assert dispute.column_name == "person_name" and dispute.origin == "fusion"
    assert "陈三" not in str(dispute.evidence) and ppl[2]["person_name"] not in str(dispute.evidence)
    assert dispute.evidence["cross_check_hash"] == d.cross_check_hash
    assert Dispute.objects.filter(origin="fusion").count() == 3
    # Lineage: every field points at the dataset that gave it, at a version of that dataset.
    lin = Lineage.objects.get(library=lib, key=ppl[2]["id_number"])
    by_field = {col: lin.sources[i] for col, i in lin.fields.items()}
    gaj, mzj, rsj = (str(town.datasets[s].pk) for s in ("gaj", "mzj", "rsj"))
    assert by_field["person_name"][0] == gaj and by_field["marital_status"][0] == mzj
    assert by_field["insurance_status"][0] == rsj and by_field["phone"][0] == rsj
    assert by_field["person_name"][1] == Dataset.objects.get(pk=town.datasets["gaj"].pk).last_seq
    assert len(lin.sources) == 3  # three source records, stored once each


def test_incremental_run_refuses_only_changed_keys_and_the_library_change_log_shows_it(conflicted: City) -> None:
    town, ppl = conflicted, conflicted.people
    lib = town.install()
    fuse(actor=town.office, library=lib)
    lib.dataset.refresh_from_db()
    seq_before = lib.dataset.last_seq
    # 民政局 registers a divorce: one key changes in one source.
    town.batch("mzj", [with_changes(ppl[4], marital_status="离婚")])
    mzj_seq = town.datasets["mzj"].last_seq
    run = fuse(actor=town.office, library=lib)
    assert (run.full, run.keys_examined, run.upserts, run.deletes) == (False, 1, 1, 0)
    assert library_row(lib, ppl[4]["id_number"])["marital_status"] == "离婚"  # type: ignore[index]
    changes = changes_since(dataset=lib.dataset, after=seq_before, limit=10)
    assert [(c.key, c.op, c.data["marital_status"], c.old["marital_status"]) for c in changes] == [  # type: ignore[index]
        (ppl[4]["id_number"], "upsert", "离婚", "已婚")]
    assert changes[0].batch_id.startswith(f"fusion:{lib.pk}:{run.pk}:")
    # Lineage of that record now points at the change that brought the new value.
    lin = Lineage.objects.get(library=lib, key=ppl[4]["id_number"])
    assert lin.sources[lin.fields["marital_status"]] == [str(town.datasets["mzj"].pk), mzj_seq]
    # The cursor moved: the source's seq is consumed.
    assert set(LibrarySource.objects.filter(library=lib, dataset=town.datasets["mzj"])
               .values_list("consumed_seq", flat=True)) == {mzj_seq}


def test_resolved_disagreement_closes_the_discrepancy_and_reappearing_reopens_it(conflicted: City) -> None:
    town, ppl = conflicted, conflicted.people
    lib = town.install()
    fuse(actor=town.office, library=lib)
    key = ppl[2]["id_number"]
    # 人社局 fixes the name: the sources agree again.
    town.batch("rsj", [ppl[2]])
    run = fuse(actor=town.office, library=lib)
    assert run.discrepancies_resolved == 1 and run.discrepancies_new == 0 and run.upserts == 0
    d = Discrepancy.objects.get(library=lib, key=key, field="person_name")
    assert (d.status, d.resolution) == (DiscrepancyStatus.RESOLVED, Resolution.AGREED) and d.resolved_at
    # The 卫健委 record loses its death flag value: a missing cross-check value is no disagreement.
    town.batch("wjw", [with_changes(ppl[0], deceased="")])
    fuse(actor=town.office, library=lib)
    d0 = Discrepancy.objects.get(library=lib, key=ppl[0]["id_number"], field="deceased")
    assert (d0.status, d0.resolution) == (DiscrepancyStatus.RESOLVED, Resolution.CROSS_CHECK_MISSING)
    # The same disagreement comes back: the row reopens (no duplicate) and the dispute is found again.
    town.batch("rsj", [with_changes(ppl[2], person_name="陈三")])
    run = fuse(actor=town.office, library=lib)
    assert run.discrepancies_new == 1
    d = Discrepancy.objects.get(library=lib, key=key, field="person_name")
    assert d.status == DiscrepancyStatus.OPEN and d.times_opened == 2 and d.resolution == ""
    assert Discrepancy.objects.filter(library=lib, key=key).count() == 1


def test_deletion_in_the_key_source_propagates(conflicted: City) -> None:
    town, ppl = conflicted, conflicted.people
    lib = town.install()
    fuse(actor=town.office, library=lib)
    gone = ppl[2]["id_number"]
    town.batch("gaj", deletes=[gone])
    lib.dataset.refresh_from_db()
    before = lib.dataset.last_seq
    run = fuse(actor=town.office, library=lib)
    assert (run.keys_examined, run.deletes, run.upserts) == (1, 1, 0)
    assert library_row(lib, gone) is None
    assert [(c.key, c.op) for c in changes_since(dataset=lib.dataset, after=before, limit=10)] == [(gone, "delete")]
    d = Discrepancy.objects.get(library=lib, key=gone)
    assert (d.status, d.resolution) == (DiscrepancyStatus.RESOLVED, Resolution.RECORD_DELETED)
    assert not Lineage.objects.filter(library=lib, key=gone).exists()
    # A key only the other sources know never enters the library.
    assert run.discrepancies_resolved == 1


def test_rerun_is_idempotent(conflicted: City) -> None:
    town = conflicted
    lib = town.install()
    fuse(actor=town.office, library=lib)
    lib.dataset.refresh_from_db()
    seq = lib.dataset.last_seq
    counts = (Discrepancy.objects.count(), Dispute.objects.count(), Lineage.objects.count())
    updated = dict(Lineage.objects.values_list("key", "updated_at"))
    for full in (False, True):
        run = fuse(actor=town.office, library=lib, full=full)
        assert run.status == RunStatus.SUCCEEDED and run.upserts == run.deletes == run.discrepancies_new == 0
        assert run.discrepancies_resolved == 0 and run.batches == 0
    lib.dataset.refresh_from_db()
    assert lib.dataset.last_seq == seq  # no new change in the library's log
    assert (Discrepancy.objects.count(), Dispute.objects.count(), Lineage.objects.count()) == counts
    assert dict(Lineage.objects.values_list("key", "updated_at")) == updated  # lineage not rewritten
    assert FusionRun.objects.filter(library=lib, status=RunStatus.SUCCEEDED).count() == 3


def test_full_run_removes_keys_that_left_while_nobody_looked(conflicted: City) -> None:
    town, ppl = conflicted, conflicted.people
    lib = town.install()
    fuse(actor=town.office, library=lib)
    town.load("gaj", ppl[:6])  # a full replace of the key source: two people gone
    run = fuse(actor=town.office, library=lib, full=True)
    assert run.full and run.deletes == 2
    lib.dataset.refresh_from_db()
    assert lib.dataset.row_count == 6


def test_lease_keeps_two_runs_apart_and_an_expired_run_is_abandoned(town: City) -> None:
    lib = town.install()
    later = timezone.now() + dt.timedelta(minutes=5)
    BaseLibrary.objects.filter(pk=lib.pk).update(lease_owner="other-worker", lease_until=later)
    with pytest.raises(Conflict):
        fuse(actor=town.office, library=lib)
    assert fuse_due() == {}  # the periodic job skips a leased library
    # The other worker died: its lease runs out and its run is marked abandoned by the next one.
    dead = FusionRun.objects.create(library=lib, started_at=timezone.now(), lease_until=timezone.now())
    BaseLibrary.objects.filter(pk=lib.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    run = fuse(actor=town.office, library=lib)
    assert run.status == RunStatus.SUCCEEDED
    dead.refresh_from_db()
    assert dead.status == RunStatus.ABANDONED
    lib.refresh_from_db()
    assert lib.lease_owner == "" and lib.lease_until is None


def test_periodic_job_fuses_libraries_whose_sources_moved(town: City) -> None:
    lib = town.install()
    assert fuse_due() == {"population": {"upserts": 8, "deletes": 0, "discrepancies": 0}}
    run = FusionRun.objects.get(library=lib)
    assert run.trigger == "install" and run.full
    assert fuse_due() == {}  # nothing moved
    town.batch("rsj", [with_changes(town.people[1], insurance_status="暂停")])
    assert fuse_due()["population"]["upserts"] == 1
    # "Run now" makes it due even when nothing moved; a full run when asked.
    request_run(actor=town.office, library=lib, full=True)
    out = fuse_due()
    assert out["population"]["upserts"] == 0
    last = FusionRun.objects.filter(library=lib).order_by("-started_at").first()
    assert last is not None and last.full and last.trigger == "manual"
    lib.refresh_from_db()
    assert not lib.due and not lib.due_full


def test_a_record_the_library_refuses_is_reported_not_fatal(town: City, settings: Any) -> None:
    lib = town.install()
    # The 人社局 marks one person's status with a value the 社保参保状态 element does not allow… it cannot:
    # sources are validated too. So break the library's own rules instead: make 姓名 required and empty.
    town.batch("gaj", [with_changes(town.people[0], person_name="")])
    run = fuse(actor=town.office, library=lib)
    assert run.status == RunStatus.SUCCEEDED and run.rejected == 1 and run.upserts == 7
    assert run.problems[0]["key"] == town.people[0]["id_number"] and run.problems[0]["field"] == "person_name"


def test_a_record_the_authoritative_source_does_not_cover_is_not_checked(town: City) -> None:
    ppl = town.people
    town.batch("rsj", [with_changes(ppl[1], phone="13900000000")])
    lib = town.install()
    fuse(actor=town.office, library=lib)
    (d,) = Discrepancy.objects.filter(library=lib, status=DiscrepancyStatus.OPEN)
    assert (d.key, d.field) == (ppl[1]["id_number"], "phone")
    # The person leaves the 社保 (the authoritative source of 联系电话): nothing left to cross-check there.
    town.batch("rsj", deletes=[ppl[1]["id_number"]])
    run = fuse(actor=town.office, library=lib)
    d.refresh_from_db()
    assert (d.status, d.resolution) == (DiscrepancyStatus.RESOLVED, Resolution.AUTHORITATIVE_MISSING)
    assert run.discrepancies_new == 0
    row = library_row(lib, ppl[1]["id_number"])
    assert row is not None and row["phone"] is None and row["insurance_status"] is None
    assert "phone" not in Lineage.objects.get(library=lib, key=ppl[1]["id_number"]).fields


def test_a_change_in_a_source_kicks_the_fusion_job(town: City, django_capture_on_commit_callbacks: Any) -> None:
    town.install()
    ScheduledJob.objects.filter(name="baselibs.fuse").delete()
    with django_capture_on_commit_callbacks(execute=True):
        town.batch("mzj", [with_changes(town.people[0], marital_status="离婚")])
    assert ScheduledJob.objects.get(name="baselibs.fuse").kicked
    # A dataset that feeds no library kicks nothing.
    other = testing.resource(town.depts["wjw"], name="医疗机构执业登记", items=[
        ItemSpec(name="医疗机构名称", element_code="DE0045", is_key=True)], publish_by=town.office)
    ds = mount_resource(actor=town.staff["wjw"], resource=other)
    ScheduledJob.objects.filter(name="baselibs.fuse").update(kicked=False)
    with django_capture_on_commit_callbacks(execute=True):
        apply_batch(actor=town.staff["wjw"], dataset=ds, batch_id="h1", upserts=[{"hospital_name": "潮州市中心医院"}])
    assert not ScheduledJob.objects.get(name="baselibs.fuse").kicked


def test_a_failed_run_is_recorded_and_the_next_one_starts_over(town: City, monkeypatch: Any) -> None:
    from govshare.baselibs.services import fusion

    lib = town.install()

    def broken(**_kw: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(fusion, "apply_batch", broken)
    with pytest.raises(RuntimeError):
        fuse(actor=town.office, library=lib)
    failed = FusionRun.objects.get(library=lib)
    assert failed.status == RunStatus.FAILED and "database went away" in failed.error
    lib.refresh_from_db()
    assert lib.lease_owner == "" and lib.due  # the lease is free and the work still due
    assert set(LibrarySource.objects.filter(library=lib).values_list("consumed_seq", flat=True)) == {0}
    monkeypatch.undo()
    assert fuse_due()["population"]["upserts"] == 8
