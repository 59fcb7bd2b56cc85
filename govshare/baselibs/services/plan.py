"""The fusion plan of one library (its bindings and the data elements of its fields), and building fused
records for a chunk of keys: values from the authoritative sources (一数一源), comparisons with the
cross-check sources (多元校核), and lineage (血缘). Reads only; the writes are in :mod:`.fusion`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from govshare.baselibs.choices import SourceRole
from govshare.baselibs.definitions import FieldDef, LibraryDef, parse_definition
from govshare.baselibs.models import BaseLibrary, GroupMember, LibrarySource, Lineage
from govshare.baselibs.normalize import MULTI_SEPARATOR, join_multi, normalise
from govshare.catalog.models import DataElement
from govshare.datasets.changes import live_records
from govshare.datasets.models import Dataset

Record = dict[str, Any]
GroupRef = tuple[Any, str]  # (dataset pk, match column)


@dataclass
class Plan:
    library: BaseLibrary
    defn: LibraryDef
    bindings: list[LibrarySource]
    auth: dict[str, LibrarySource]
    cross: dict[str, list[LibrarySource]]
    elements: dict[str, DataElement]  # field column -> data element
    datasets: dict[Any, Dataset]
    direct: set[Any]  # datasets read by the library key
    groups: set[GroupRef]  # grouped sources: (dataset, column holding the library key)

    @property
    def key_binding(self) -> LibrarySource:
        return self.auth[self.defn.key]

    @property
    def key_dataset(self) -> Dataset:
        return self.datasets[self.key_binding.dataset_id]

    def fields(self) -> tuple[FieldDef, ...]:
        return self.defn.fields

    def normalise(self, f: FieldDef, value: Any) -> str | None:
        el = self.elements[f.column]
        return normalise(value, data_type=el.data_type, validator=el.validator, multi=f.multi)


def build_plan(library: BaseLibrary) -> Plan:
    defn = parse_definition(library.definition, f"{library.code} (installed)")
    bindings = list(LibrarySource.objects.filter(library=library).select_related(
        "dataset", "dataset__resource", "dataset__resource__provider"))
    auth = {b.field: b for b in bindings if b.role == SourceRole.AUTHORITATIVE}
    cross: dict[str, list[LibrarySource]] = defaultdict(list)
    for b in sorted((b for b in bindings if b.role == SourceRole.CROSS_CHECK), key=lambda b: b.position):
        cross[b.field].append(b)
    by_code = {e.code: e for e in DataElement.objects.filter(code__in=[f.element for f in defn.fields])}
    datasets = {b.dataset_id: b.dataset for b in bindings}
    direct = {b.dataset_id for b in bindings if b.match_column == b.dataset.key_column}
    groups = {(b.dataset_id, b.match_column) for b in bindings if b.match_column != b.dataset.key_column}
    return Plan(library=library, defn=defn, bindings=bindings, auth=auth, cross=dict(cross),
                elements={f.column: by_code[f.element] for f in defn.fields}, datasets=datasets, direct=direct,
                groups=groups)


@dataclass
class Reading:
    """One source's contribution to a field of one record."""

    present: bool  # the source has the record (a grouped source: at least one record of the group)
    value: str | None


@dataclass
class Disagreement:
    key: str
    field: str
    authoritative: LibrarySource
    cross_check: LibrarySource
    authoritative_value: str | None
    cross_check_value: str
    authoritative_norm: str | None
    cross_check_norm: str


@dataclass
class Fused:
    """The outcome of fusing a chunk of keys."""

    rows: dict[str, Record] = field(default_factory=dict)  # present keys -> fused record
    absent: list[str] = field(default_factory=list)  # keys no longer in the key source: delete
    lineage: dict[str, tuple[list[list[Any]], dict[str, int]]] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)
    examined: set[tuple[str, str, Any]] = field(default_factory=set)  # (key, field, cross binding) compared
    cross_missing: set[tuple[str, str, Any]] = field(default_factory=set)  # ... where the cross-check had nothing
    authoritative_missing: set[tuple[str, str, Any]] = field(default_factory=set)  # ... the authoritative had no record


class ChunkReader:
    """Reads every source of a plan for a chunk of library keys (one indexed query per source)."""

    def __init__(self, plan: Plan, keys: Sequence[str], key_records: Mapping[str, Record] | None = None) -> None:
        self.plan = plan
        self.keys = list(keys)
        key_ds = plan.key_dataset
        self.direct: dict[Any, dict[str, Record]] = {}
        if key_records is not None:
            self.direct[key_ds.pk] = dict(key_records)
        for pk in plan.direct:
            if pk not in self.direct:
                self.direct[pk] = live_records(dataset=plan.datasets[pk], keys=self.keys)
        self.grouped: dict[GroupRef, dict[str, list[Record]]] = {}
        for ref in plan.groups:
            self.grouped[ref] = self._group(ref)

    def _group(self, ref: GroupRef) -> dict[str, list[Record]]:
        ds_pk, match = ref
        members = list(GroupMember.objects.filter(library=self.plan.library, dataset_id=ds_pk, match_column=match,
                                                  group_key__in=self.keys).values_list("group_key", "record_key"))
        records = live_records(dataset=self.plan.datasets[ds_pk], keys=[r for _, r in members])
        out: dict[str, list[Record]] = defaultdict(list)
        for group, record_key in members:
            rec = records.get(record_key)
            if rec is not None and rec.get(match) == group:  # the index may trail the data by one run
                out[group].append(rec)
        return out

    def present(self, key: str) -> bool:
        return key in self.direct[self.plan.key_dataset.pk]

    def read(self, b: LibrarySource, f: FieldDef, key: str) -> Reading:
        if b.match_column != b.dataset.key_column:
            # A grouped source always answers: no record in the group is an empty set, itself a value.
            recs = self.grouped[(b.dataset_id, b.match_column)].get(key, [])
            return Reading(present=True, value=join_multi([r.get(b.column) for r in recs]))
        rec = self.direct[b.dataset_id].get(key)
        if rec is None:
            return Reading(present=False, value=None)
        value = rec.get(b.column)
        return Reading(present=True, value=join_multi([value]) if f.multi else value)


def _disagrees(f: FieldDef, a: str | None, c: str) -> bool:
    if not f.multi:
        return a != c
    # A set: items the cross-check lacks are its own gap (a missing value never disagrees); an item only the
    # cross-check has is a disagreement (the authoritative source may be missing a record).
    mine = set(a.split(MULTI_SEPARATOR)) if a else set()
    return not set(c.split(MULTI_SEPARATOR)) <= mine


def fuse_chunk(plan: Plan, reader: ChunkReader, *, seqs: Mapping[Any, Mapping[str, int]],
               as_of: Mapping[Any, int]) -> Fused:
    """Fuse every key of the reader. ``seqs``: {dataset pk: {library key: change seq seen this run}};
    ``as_of``: {dataset pk: the source's committed seq when the run started} (lineage for records whose own
    change was not seen by this run and that have no lineage yet)."""
    out = Fused()
    previous = {k: (s, f) for k, s, f in Lineage.objects.filter(library=plan.library, key__in=reader.keys)
                .values_list("key", "sources", "fields")}
    for key in reader.keys:
        if not reader.present(key):
            out.absent.append(key)
            continue
        row: Record = {}
        sources: list[list[Any]] = []
        index: dict[str, int] = {}
        fields: dict[str, int] = {}
        old_seqs = {str(ds): seq for ds, seq in previous.get(key, ([], {}))[0]}
        for f in plan.fields():
            auth = plan.auth[f.column]
            reading = reader.read(auth, f, key)
            row[f.column] = reading.value
            if reading.present:
                ds = str(auth.dataset_id)
                if ds not in index:
                    seq = seqs.get(auth.dataset_id, {}).get(key) or old_seqs.get(ds) or as_of.get(auth.dataset_id, 0)
                    index[ds] = len(sources)
                    sources.append([ds, seq])
                fields[f.column] = index[ds]
            checks = plan.cross.get(f.column, ())
            a_norm = plan.normalise(f, reading.value) if checks else None
            for cb in checks:
                marker = (key, f.column, cb.pk)
                out.examined.add(marker)
                if not reading.present:  # the authoritative source does not cover this record: nothing to check
                    out.authoritative_missing.add(marker)
                    continue
                c = reader.read(cb, f, key)
                c_norm = plan.normalise(f, c.value)
                if c_norm is None:
                    out.cross_missing.add(marker)
                elif _disagrees(f, a_norm, c_norm):
                    out.disagreements.append(Disagreement(
                        key=key, field=f.column, authoritative=auth, cross_check=cb,
                        authoritative_value=reading.value, cross_check_value=str(c.value),
                        authoritative_norm=a_norm, cross_check_norm=c_norm))
        row[plan.defn.key] = key
        out.rows[key] = row
        out.lineage[key] = (sources, fields)
    return out
