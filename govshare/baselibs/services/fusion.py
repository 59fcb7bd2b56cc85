"""The fusion job (融合): builds a base library from its mounted source datasets.

Incremental by default: the keys whose records changed in any source since the seq consumed last time
(``changes_since``) are fused again; a full run walks every key of the authoritative key source, then
every key of the library (to delete those that vanished). For each key the fused record takes every field
from its authoritative source (一数一源), each cross-check source is compared after normalisation (多元校核)
and disagreements become discrepancies and disputes, and the lineage records which source record version
gave each value. Fused records are written with ``apply_batch`` in chunks, so the library has a change log
and subscribers like any resource.

Safe to run twice at once: a run holds the library's lease (a conditional UPDATE), renewed after every
chunk; a second run is refused with :class:`Conflict`. A run killed mid-way leaves its lease to expire;
the next run marks it abandoned and starts over from the consumed cursors (advanced only when a run
succeeds). Replaying is harmless: identical records change nothing, discrepancies are unique per
(library, key, field, cross-check), batch ids are per run.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.baselibs.choices import LibraryKind, LibraryStatus, RunStatus, RunTrigger
from govshare.baselibs.conf import PLATFORM_ACTOR, setting
from govshare.baselibs.models import BaseLibrary, FusionRun, LibrarySource, Lineage
from govshare.baselibs.services.discrepancies import sync_discrepancies
from govshare.baselibs.services.grouping import rebuild_members, refresh_members
from govshare.baselibs.services.install import require_installer
from govshare.baselibs.services.plan import ChunkReader, Fused, Plan, build_plan, fuse_chunk
from govshare.core import periodic
from govshare.core.errors import Conflict, DomainError, ValidationFailed
from govshare.datasets.changes import apply_batch, changes_since, iter_live_records, live_records
from govshare.datasets.choices import BatchKind
from govshare.datasets.models import Dataset
from govshare.datasets.validation import RowValidator, columns_for

log = logging.getLogger("govshare.baselibs")
MAX_PROBLEMS = 20


class LeaseLost(Conflict):
    pass


def _label(actor: Any) -> str:
    if actor is None:
        return "platform"
    if isinstance(actor, str):
        return actor[:200]
    return str(getattr(actor, "username", actor))[:200]


# ---------------------------------------------------------------------------------------------
# Lease and run lifecycle
# ---------------------------------------------------------------------------------------------


def _start(actor: Any, library: BaseLibrary, *, full: bool, trigger: str, owner: str) -> FusionRun:
    now = timezone.now()
    until = now + dt.timedelta(seconds=setting("BASELIBS_LEASE_SECONDS"))
    with transaction.atomic():
        taken = (BaseLibrary.objects.filter(pk=library.pk)
                 .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                 .update(lease_owner=owner, lease_until=until))
        if not taken:
            raise Conflict("该基础库正在融合，请稍后再试 (a fusion run of this library is in progress)",
                           details={"library": str(library.pk)})
        abandoned = FusionRun.objects.filter(library=library, status=RunStatus.RUNNING).update(
            status=RunStatus.ABANDONED, finished_at=now, error="租约过期，作业中断 (lease expired)")
        run = FusionRun.objects.create(library=library, full=full, trigger=trigger, actor_label=_label(actor),
                                       started_at=now, lease_until=until)
        record_event(actor=actor, action="baselib.fusion_started", target_type="base_library",
                     target_id=str(library.pk),
                     data={"code": library.code, "run": str(run.pk), "full": full, "trigger": trigger,
                           "abandoned_runs": abandoned})
    return run


def _heartbeat(library: BaseLibrary, run: FusionRun, owner: str) -> None:
    until = timezone.now() + dt.timedelta(seconds=setting("BASELIBS_LEASE_SECONDS"))
    if not BaseLibrary.objects.filter(pk=library.pk, lease_owner=owner).update(lease_until=until):
        raise LeaseLost("融合租约已被其他进程接管 (the fusion lease was lost)")
    FusionRun.objects.filter(pk=run.pk).update(lease_until=until)


def _release(library: BaseLibrary, owner: str) -> None:
    BaseLibrary.objects.filter(pk=library.pk, lease_owner=owner).update(lease_owner="", lease_until=None)


# ---------------------------------------------------------------------------------------------
# Collecting what changed
# ---------------------------------------------------------------------------------------------


@dataclass
class Work:
    full: bool
    hwm: dict[Any, int]  # dataset pk -> committed seq read up to
    keys: set[str] = field(default_factory=set)
    seqs: dict[Any, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    grouped_records: dict[tuple[Any, str], list[str]] = field(default_factory=lambda: defaultdict(list))


def _consumed(plan: Plan) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for b in plan.bindings:
        out[b.dataset_id] = min(out.get(b.dataset_id, b.consumed_seq), b.consumed_seq)
    return out


def _collect(plan: Plan, hwm: dict[Any, int]) -> Work | None:
    """The keys changed since the consumed cursors; None when a full run is needed instead (a gap in a
    source's change log, a cursor ahead of its source, or more changed keys than an incremental run takes)."""
    work = Work(full=False, hwm=hwm)
    limit = setting("BASELIBS_MAX_INCREMENTAL_KEYS")
    page_size = setting("BASELIBS_CHANGES_PAGE")
    groups_of: dict[Any, list[str]] = defaultdict(list)
    for ds_pk, match in plan.groups:
        groups_of[ds_pk].append(match)
    for ds_pk, after in _consumed(plan).items():
        top = hwm[ds_pk]
        if after > top:
            return None
        while after < top:
            page = changes_since(dataset=ds_pk, after=after, limit=page_size)
            if not page:
                break
            if page[0].seq != after + 1:
                return None
            for ch in page:
                if ch.seq > top:
                    break
                if ds_pk in plan.direct:
                    work.keys.add(ch.key)
                    work.seqs[ds_pk][ch.key] = ch.seq
                for match in groups_of.get(ds_pk, ()):
                    work.grouped_records[(ds_pk, match)].append(ch.key)
                    for rec in (ch.old, ch.data):
                        group = (rec or {}).get(match)
                        if group:
                            work.keys.add(str(group))
                            seqs = work.seqs[ds_pk]
                            seqs[str(group)] = max(seqs.get(str(group), 0), ch.seq)
            after = page[-1].seq
            if len(work.keys) > limit:
                return None
    return work


# ---------------------------------------------------------------------------------------------
# One chunk
# ---------------------------------------------------------------------------------------------


@dataclass
class Counters:
    batches: int = 0
    keys: int = 0
    upserts: int = 0
    deletes: int = 0
    unchanged: int = 0
    opened: int = 0
    resolved: int = 0
    disputes: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)


class Runner:
    def __init__(self, plan: Plan, run: FusionRun, owner: str, work: Work) -> None:
        self.plan, self.run, self.owner, self.work = plan, run, owner, work
        self.library = plan.library
        self.dataset = Dataset.objects.get(pk=self.library.dataset_id)
        self.columns = columns_for(self.library.resource)
        self.validator = RowValidator(self.columns)
        self.counters = Counters()
        self.chunk = max(1, setting("BASELIBS_FUSION_CHUNK"))

    def heartbeat(self) -> None:
        _heartbeat(self.library, self.run, self.owner)

    def _validated(self, fused: Fused) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for key, row in fused.rows.items():
            data, problems = self.validator.validate([row.get(c.column_name) for c in self.columns])
            if problems:
                self.counters.rejected += 1
                for p in problems[:2]:
                    if len(self.counters.problems) < MAX_PROBLEMS:
                        self.counters.problems.append({"key": key, "field": self.columns[p.index].column_name,
                                                       "reason": p.reason})
                continue
            rows[key] = data
        return rows

    def process(self, keys: list[str], key_records: dict[str, dict[str, Any]] | None = None) -> None:
        if not keys:
            return
        reader = ChunkReader(self.plan, keys, key_records)
        fused = fuse_chunk(self.plan, reader, seqs=self.work.seqs, as_of=self.work.hwm)
        rows = self._validated(fused)
        current = live_records(dataset=self.dataset, keys=keys)
        upserts = [row for key, row in rows.items() if current.get(key) != row]
        deletes = [key for key in fused.absent if key in current]
        now = timezone.now()
        with transaction.atomic():
            self.heartbeat()
            if upserts or deletes:
                self.counters.batches += 1
                result = apply_batch(actor=PLATFORM_ACTOR, dataset=self.dataset,
                                     batch_id=f"fusion:{self.library.pk}:{self.run.pk}:{self.counters.batches}",
                                     upserts=upserts, deletes=deletes, kind=BatchKind.FUSION,
                                     source=f"fusion:{self.library.code}")
                self.counters.upserts += result.inserted + result.updated
                self.counters.deletes += result.deleted
                self.counters.unchanged += result.unchanged
            self.counters.unchanged += len(rows) - len(upserts)
            self._lineage(fused, keys, now)
            synced = sync_discrepancies(self.plan, fused, keys=keys, now=now)
            self.counters.keys += len(keys)
            self.counters.opened += synced.opened
            self.counters.resolved += synced.resolved
            self.counters.disputes += synced.disputes
            self._progress()
            if synced.opened or synced.resolved:
                record_event(actor=PLATFORM_ACTOR, action="baselib.discrepancies_synced", target_type="base_library",
                             target_id=str(self.library.pk),
                             data={"run": str(self.run.pk), "opened": synced.opened, "resolved": synced.resolved,
                                   "disputes": synced.disputes})
        periodic.heartbeat()  # keeps the worker's lease of the periodic job while a long run goes on

    def _lineage(self, fused: Fused, keys: list[str], now: dt.datetime) -> None:
        previous = {k: (s, f) for k, s, f in Lineage.objects.filter(library=self.library, key__in=keys)
                    .values_list("key", "sources", "fields")}
        changed = [Lineage(library=self.library, key=key, sources=sources, fields=fields, run_id=self.run.pk,
                           updated_at=now)
                   for key, (sources, fields) in fused.lineage.items() if previous.get(key) != (sources, fields)]
        if changed:
            Lineage.objects.bulk_create(changed, batch_size=500, update_conflicts=True,
                                        unique_fields=["library", "key"],
                                        update_fields=["sources", "fields", "run", "updated_at"])
        gone = [k for k in fused.absent if k in previous]
        if gone:
            Lineage.objects.filter(library=self.library, key__in=gone).delete()

    def _progress(self) -> None:
        c = self.counters
        FusionRun.objects.filter(pk=self.run.pk).update(
            batches=c.batches, keys_examined=c.keys, upserts=c.upserts, deletes=c.deletes, unchanged=c.unchanged,
            discrepancies_new=c.opened, discrepancies_resolved=c.resolved, disputes_raised=c.disputes,
            rejected=c.rejected, problems=c.problems, updated_at=timezone.now())

    # -- the two modes --------------------------------------------------------------------------

    def incremental(self) -> None:
        for (ds_pk, match), record_keys in self.work.grouped_records.items():
            for part in _chunks(record_keys, self.chunk):
                refresh_members(library=self.library, dataset=self.plan.datasets[ds_pk], match_column=match,
                                record_keys=part)
        for part in _chunks(sorted(self.work.keys), self.chunk):
            self.process(part)

    def full(self) -> None:
        for ds_pk, match in sorted(self.plan.groups, key=str):
            rebuild_members(library=self.library, dataset=self.plan.datasets[ds_pk], match_column=match,
                            mark=str(self.run.pk), chunk=self.chunk, heartbeat=self.heartbeat)
        key_ds = self.plan.key_dataset
        for page in _pages(iter_live_records(dataset=key_ds, batch=self.chunk), self.chunk):
            self.process([k for k, _ in page], dict(page))
        # Keys of the library that left the key source.
        for page in _pages(iter_live_records(dataset=self.dataset, batch=self.chunk), self.chunk):
            keys = [k for k, _ in page]
            present = live_records(dataset=key_ds, keys=keys)
            self.process([k for k in keys if k not in present], {})


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _pages(rows: Iterable[tuple[str, dict[str, Any]]], size: int) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    page: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        page.append(row)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def fuse(*, actor: Any, library: BaseLibrary, full: bool = False, trigger: str = RunTrigger.MANUAL) -> FusionRun:
    """Run the fusion of ``library`` now (the data office, or the platform) and return the succeeded run.
    Raises :class:`Conflict` when another run holds the library; any other failure is recorded on the run
    (FAILED, with the error) and raised."""
    require_installer(actor, library.node)
    if library.definition.get("kind", LibraryKind.FUSION) != LibraryKind.FUSION:
        raise ValidationFailed("该基础库不经融合 (this library is not built by fusion)", field="library")
    owner = uuid.uuid4().hex
    plan = build_plan(library)
    hwm = dict(Dataset.objects.filter(pk__in=list(plan.datasets)).values_list("pk", "last_seq"))
    ever = FusionRun.objects.filter(library=library, status=RunStatus.SUCCEEDED).exists()
    work = None if (full or not ever) else _collect(plan, hwm)
    run = _start(actor, library, full=work is None, trigger=trigger, owner=owner)
    counters = Counters()
    try:
        runner = Runner(plan, run, owner, work or Work(full=True, hwm=hwm))
        counters = runner.counters
        if work is None:
            runner.full()
        else:
            runner.incremental()
        return _succeeded(actor, library, run, owner, counters, hwm)
    except BaseException as exc:
        _failed(actor, library, run, owner, counters, exc)
        raise


def _succeeded(actor: Any, library: BaseLibrary, run: FusionRun, owner: str, c: Counters,
               hwm: dict[Any, int]) -> FusionRun:
    now = timezone.now()
    with transaction.atomic():
        _heartbeat(library, run, owner)
        for ds_pk, seq in hwm.items():
            LibrarySource.objects.filter(library=library, dataset_id=ds_pk, consumed_seq__lt=seq).update(
                consumed_seq=seq, updated_at=now)
        # A "run now" asked for after this run started stays due.
        BaseLibrary.objects.filter(pk=library.pk).filter(Q(due_at__isnull=True) | Q(due_at__lte=run.started_at)).update(
            due=False, due_full=False)
        FusionRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=now, lease_until=None,
                                                   source_seqs={str(k): v for k, v in hwm.items()})
        record_event(actor=actor, action="baselib.fusion_finished", target_type="base_library",
                     target_id=str(library.pk),
                     data={"code": library.code, "run": str(run.pk), "full": run.full, "keys": c.keys,
                           "upserts": c.upserts, "deletes": c.deletes, "discrepancies_new": c.opened,
                           "discrepancies_resolved": c.resolved, "disputes": c.disputes, "rejected": c.rejected})
        _release(library, owner)
    run.refresh_from_db()
    return run


def _failed(actor: Any, library: BaseLibrary, run: FusionRun, owner: str, c: Counters, exc: BaseException) -> None:
    message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
    log.warning("fusion of %s failed: %s", library.code, message)
    try:
        with transaction.atomic():
            FusionRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.FAILED, finished_at=timezone.now(), lease_until=None, error=message[:2000])
            record_event(actor=actor, action="baselib.fusion_failed", target_type="base_library",
                         target_id=str(library.pk), result=Result.FAILED,
                         data={"code": library.code, "run": str(run.pk), "error": message[:500], "keys": c.keys})
            if not isinstance(exc, LeaseLost):
                _release(library, owner)
    except Exception:
        log.exception("could not record the failure of fusion run %s", run.pk)


def libraries_due() -> list[BaseLibrary]:
    """Active fusion libraries asked to run, or whose sources have changes not fused yet."""
    moved = LibrarySource.objects.filter(dataset__last_seq__gt=F("consumed_seq")).values("library_id")
    return list(BaseLibrary.objects.filter(status=LibraryStatus.ACTIVE)
                .filter(Q(due=True) | Q(pk__in=moved)).select_related("node", "resource", "dataset")
                .order_by("code"))


def fuse_due(*, actor: Any = "worker") -> dict[str, Any]:
    """The periodic job (``baselibs.fuse``): fuse every library that is due. Idempotent; with two workers
    the lease lets one fuse a library and the other skip it."""
    done: dict[str, Any] = {}
    now = timezone.now()
    for library in libraries_due():
        if library.lease_until is not None and library.lease_until > now:
            continue
        if library.definition.get("kind", LibraryKind.FUSION) != LibraryKind.FUSION:
            continue
        if not FusionRun.objects.filter(library=library).exists():
            trigger = RunTrigger.INSTALL
        else:
            trigger = RunTrigger.MANUAL if library.due else RunTrigger.SCHEDULE
        try:
            run = fuse(actor=actor, library=library, full=library.due_full, trigger=trigger)
        except Conflict:
            continue
        except Exception:  # recorded on the run; the next round retries
            log.exception("fusion of %s failed", library.code)
            done[library.code] = "failed"
            continue
        done[library.code] = {"upserts": run.upserts, "deletes": run.deletes, "discrepancies": run.discrepancies_new}
    return done
