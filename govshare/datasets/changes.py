"""The change log's public surface: incremental batches, full replaces with a computed difference, and reading
committed changes and live records.

Every change to a mounted dataset (insert, update, delete by key) gets a per-dataset sequence number
(:class:`~govshare.datasets.models.DatasetChange`). Writers name their batch (``batch_id``): a batch applied
once is remembered (:class:`~govshare.datasets.models.ChangeBatch`), so a retried batch (a connector page after a
crash, a dispute correction sent twice) changes nothing and returns the first result.

An upsert carries the whole record (every item; an item left out is empty), validated exactly like an upload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.catalog.models import Resource
from govshare.core.errors import Conflict, ValidationFailed
from govshare.datasets import hooks, sealing
from govshare.datasets.changelog import clear_uncommitted, records_by_key, same_record, walk_generation
from govshare.datasets.choices import BatchKind, ChangeOp, UploadStatus
from govshare.datasets.models import ChangeBatch, Dataset, DatasetChange, DatasetRecord, DatasetUpload
from govshare.datasets.parsers import HeaderMap, dict_rows, problem
from govshare.datasets.services import BatchInfo, load_rows, require_provider_side
from govshare.datasets.validation import CellError, Column, RowValidator, build_checker, columns_for

DEFAULT_MAX_BATCH_ROWS = 10_000
MAX_REPORTED_PROBLEMS = 100


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    replayed: bool
    first_seq: int
    last_seq: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int

    @property
    def changes(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class Change:
    seq: int
    key: str
    op: str
    data: dict[str, Any] | None
    old: dict[str, Any] | None
    batch_id: str
    created_at: dt.datetime


def _result(batch: ChangeBatch, *, replayed: bool) -> BatchResult:
    return BatchResult(batch_id=batch.batch_id, replayed=replayed, first_seq=batch.first_seq,
                       last_seq=batch.last_seq, inserted=batch.inserted, updated=batch.updated,
                       deleted=batch.deleted, unchanged=batch.unchanged)


def _check_batch_id(batch_id: str) -> str:
    batch_id = (batch_id or "").strip()
    if not batch_id or len(batch_id) > 120:
        raise ValidationFailed("批次编号必填，且不超过 120 个字符 (batch_id is required, at most 120 characters)",
                               field="batch_id")
    return batch_id


def _check_kind(kind: str) -> str:
    if kind not in BatchKind.values:
        raise ValidationFailed(f"未知的批次类型 {kind} (unknown batch kind)", field="kind")
    return kind


def _resource(dataset: Dataset) -> Resource:
    return Resource.objects.select_related("published_version").get(pk=dataset.resource_id)


# ---------------------------------------------------------------------------------------------
# Incremental batches
# ---------------------------------------------------------------------------------------------


def apply_batch(
    *,
    actor: Any,
    dataset: Dataset,
    batch_id: str,
    upserts: Iterable[Mapping[str, Any]] = (),
    deletes: Iterable[str] = (),
    kind: str = BatchKind.INCREMENTAL,
    source: str = "",
    delivery: bool = True,
) -> BatchResult:
    """Apply upserts (whole records) and deletes (by key) to the live data in one transaction, numbering
    every actual change. Identical records and unknown delete keys count as unchanged.

    ``delivery``: the batch is the provider delivering its data, so it counts as data arriving for freshness
    (更新周期) even when nothing changed. False for machine re-reads — a connector's overlap window or its
    reconciliation — which move ``last_received_at`` only when a record actually changed."""
    resource = _resource(dataset)
    require_provider_side(actor, resource)
    batch_id, kind = _check_batch_id(batch_id), _check_kind(kind)
    rows, delete_keys = list(upserts), list(deletes)
    limit = int(settings.GOVSHARE.get("INCREMENTAL_MAX_ROWS", DEFAULT_MAX_BATCH_ROWS))
    if len(rows) + len(delete_keys) > limit:
        raise ValidationFailed(f"一个批次最多 {limit} 条 (at most {limit} upserts and deletes per batch)",
                               field="upserts", details={"limit": limit})
    replay = ChangeBatch.objects.filter(dataset_id=dataset.pk, batch_id=batch_id).first()
    if replay is not None:
        return _result(replay, replayed=True)
    columns = columns_for(resource)
    validator = RowValidator(columns)
    key_name = columns[validator.key_index].column_name
    records, problems = _validate(rows, validator, HeaderMap(columns), key_name)
    keys, key_problems = _delete_keys(delete_keys, build_checker(columns[validator.key_index]), set(records))
    problems += key_problems
    if problems:
        raise ValidationFailed(f"批次中有 {len(problems)} 处数据问题，未写入任何数据 "
                               f"({len(problems)} problems in the batch; nothing was written)",
                               field="upserts" if any(p.get("field") != "deletes" for p in problems) else "deletes",
                               details={"problems": problems[:MAX_REPORTED_PROBLEMS], "count": len(problems)})
    stale = timezone.now() - dt.timedelta(seconds=int(settings.GOVSHARE.get("UPLOAD_STALE_SECONDS", 3600)))
    current = sealing.profile_for(node=sealing.node_code(dataset.node_id), columns=columns)
    # Seal before taking the lock (the data key is fetched and cached outside the transaction); re-sealed
    # inside only if a concurrent full load changed how the live generation treats the key.
    recorded = Dataset.objects.filter(pk=dataset.pk).values_list("sealing", "generation").get()
    profile = sealing.Profile.from_json(recorded[0]).for_batch(current, has_data=bool(recorded[1]))
    sealed = _seal(profile, records)
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        replay = ChangeBatch.objects.filter(dataset=locked, batch_id=batch_id).first()
        if replay is not None:  # applied by a concurrent caller while we validated
            return _result(replay, replayed=True)
        if DatasetUpload.objects.filter(dataset=locked, status=UploadStatus.STAGING, updated_at__gte=stale).exists():
            raise Conflict("该数据集正在全量上传，请稍后重试该批次 (a full load is staging; retry the batch later)",
                           details={"batch_id": batch_id})
        clear_uncommitted(locked.pk, locked.last_seq)
        had_data = bool(locked.generation)
        if not locked.generation:  # the first data of a mounted dataset may come as a batch
            locked.generation = 1
        held = sealing.Profile.from_json(locked.sealing) if had_data else sealing.Profile()
        live = held.for_batch(current, has_data=had_data)
        if live != profile:
            profile, sealed = live, _seal(live, records)
        locked.sealing = held.merged(profile).to_json()
        batch = _write(locked, sealed, [profile.stored_key(k) for k in keys], batch_id=batch_id, kind=kind,
                       source=source, delivery=delivery)
        record_event(actor=actor, action="dataset.batch_applied", target_type="dataset", target_id=str(locked.pk),
                     data={"batch_id": batch_id, "kind": kind, "source": source[:200],
                           "first_seq": batch.first_seq, "last_seq": batch.last_seq, "inserted": batch.inserted,
                           "updated": batch.updated, "deleted": batch.deleted, "unchanged": batch.unchanged})
        if batch.last_seq >= batch.first_seq:
            hooks.changes_committed(locked.pk)
    dataset.last_seq, dataset.generation = locked.last_seq, locked.generation
    dataset.row_count, dataset.last_received_at = locked.row_count, locked.last_received_at
    return _result(batch, replayed=False)


def _validate(rows: list[Mapping[str, Any]], validator: RowValidator, header: HeaderMap, key_name: str
              ) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    records: dict[str, dict[str, Any]] = {}
    problems: list[Any] = []
    names = [c.column_name for c in validator.columns]
    for row_no, values, shape in dict_rows(rows, header):
        problems += shape or ()
        data, cell_problems = validator.validate(values)
        for cp in cell_problems:
            problems.append(problem(cp.reason, row=row_no, column=validator.columns[cp.index].name,
                                    field=names[cp.index]))
        key = data.get(key_name)
        if key is not None and key in records:
            problems.append(problem("批次中主键重复 (duplicate key in the batch)", row=row_no, field=key_name))
        elif key is not None:
            records[key] = data
    return records, problems


def _delete_keys(raw: list[str], check: Any, upsert_keys: set[str]) -> tuple[list[str], list[Any]]:
    keys: list[str] = []
    problems: list[Any] = []
    for n, value in enumerate(raw, start=1):
        try:
            key = check(value)
        except (CellError, ValueError) as exc:
            problems.append(problem(getattr(exc, "reason", str(exc)), row=n, field="deletes"))
            continue
        if key is None:
            problems.append(problem("删除的主键为空 (empty key)", row=n, field="deletes"))
        elif key in upsert_keys:
            problems.append(problem("同一主键在批次中既更新又删除 (key both upserted and deleted)", row=n,
                                    field="deletes"))
        else:
            keys.append(key)
    return list(dict.fromkeys(keys)), problems


def _seal(profile: sealing.Profile, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Validated records by plaintext key -> sealed records by stored key."""
    if not profile.active:
        return records
    return dict(sealing.seal_record(profile, key, data) for key, data in records.items())


def _write(locked: Dataset, records: dict[str, dict[str, Any]], delete_keys: list[str], *, batch_id: str,
           kind: str, source: str, delivery: bool = True) -> ChangeBatch:
    """Inside the dataset's lock: write records and numbered changes, move ``last_seq``. Keys are stored keys and
    records sealed (:mod:`.sealing`)."""
    current = records_by_key(locked.pk, locked.generation, [*records, *delete_keys])
    seq = locked.last_seq
    changes: list[DatasetChange] = []
    inserts: list[DatasetRecord] = []
    updates: dict[str, dict[str, Any]] = {}
    unchanged = 0
    for key, data in records.items():
        old = current.get(key)
        if old is not None and same_record(old, data):
            unchanged += 1
            continue
        seq += 1
        changes.append(DatasetChange(dataset=locked, seq=seq, key=key, op=ChangeOp.UPSERT, data=data, old=old))
        if old is None:
            inserts.append(DatasetRecord(dataset=locked, generation=locked.generation, key=key, data=data))
        else:
            updates[key] = data
    deleted = [k for k in delete_keys if k in current]
    for key in deleted:
        seq += 1
        changes.append(DatasetChange(dataset=locked, seq=seq, key=key, op=ChangeOp.DELETE, data=None,
                                     old=current[key]))
    unchanged += len(delete_keys) - len(deleted)
    DatasetRecord.objects.bulk_create(inserts, batch_size=1000)
    for key, data in updates.items():
        DatasetRecord.objects.filter(dataset=locked, generation=locked.generation, key=key).update(data=data)
    if deleted:
        DatasetRecord.objects.filter(dataset=locked, generation=locked.generation, key__in=deleted).delete()
    DatasetChange.objects.bulk_create(changes, batch_size=1000)
    now = timezone.now()
    batch = ChangeBatch.objects.create(
        dataset=locked, batch_id=batch_id, kind=kind, source=source[:200], first_seq=locked.last_seq + 1,
        last_seq=seq, inserted=len(inserts), updated=len(updates), deleted=len(deleted), unchanged=unchanged)
    locked.last_seq = seq
    locked.row_count = max(0, locked.row_count + len(inserts) - len(deleted))
    if delivery or changes:  # a machine re-read counts as arrival only when something changed
        locked.last_received_at = now
    locked.save(update_fields=["generation", "last_seq", "row_count", "last_received_at", "sealing", "updated_at"])
    return batch


# ---------------------------------------------------------------------------------------------
# Full replace
# ---------------------------------------------------------------------------------------------


def replace_rows(
    *,
    actor: Any,
    dataset: Dataset,
    rows: Iterable[Mapping[str, Any]],
    batch_id: str | None = None,
    kind: str = BatchKind.REPLACE,
    source: str = "",
    delivery: bool = True,
) -> BatchResult:
    """Replace the whole dataset with ``rows``; the platform computes inserts, updates and deletes and gives
    each a sequence number. All-or-nothing: a bad row raises :class:`ValidationFailed` (field ``rows``,
    the problems in ``details``) and nothing changes. ``delivery`` as for :func:`apply_batch`."""
    kind = _check_kind(kind)
    if batch_id is not None:
        batch_id = _check_batch_id(batch_id)
        replay = ChangeBatch.objects.filter(dataset_id=dataset.pk, batch_id=batch_id).first()
        if replay is not None:
            return _result(replay, replayed=True)
    up = load_rows(actor=actor, dataset=dataset, rows=rows, label=source or kind,
                   batch=BatchInfo(batch_id, kind, source, delivery) if batch_id else None)
    if up.status != UploadStatus.APPLIED:
        raise ValidationFailed(f"数据有 {up.problem_count} 处问题，未替换任何数据 "
                               f"({up.problem_count} problems; nothing was replaced)", field="rows",
                               details={"problems": up.problems, "count": up.problem_count,
                                        "upload_id": str(up.pk)})
    batch = ChangeBatch.objects.get(dataset_id=dataset.pk, batch_id=batch_id or f"upload:{up.pk}")
    return _result(batch, replayed=False)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def current_seq(dataset: Dataset | Any) -> int:
    pk = dataset.pk if isinstance(dataset, Dataset) else dataset
    return int(Dataset.objects.filter(pk=pk).values_list("last_seq", flat=True).get())


def changes_since(*, dataset: Dataset | Any, after: int, limit: int) -> list[Change]:
    """Committed changes with ``seq > after``, in sequence order, at most ``limit``; plaintext (sealed L4 values
    opened, the plaintext key given back when the key item is sealed)."""
    pk = dataset.pk if isinstance(dataset, Dataset) else dataset
    committed = current_seq(pk)
    if after >= committed or limit <= 0:
        return []
    rows = list(DatasetChange.objects.filter(dataset_id=pk, seq__gt=after, seq__lte=committed)
                .order_by("seq").values_list("seq", "key", "op", "data", "old", "created_at")[:limit])
    if not rows:
        return []
    batches = list(ChangeBatch.objects.filter(dataset_id=pk, last_seq__gte=rows[0][0], first_seq__lte=rows[-1][0])
                   .order_by("first_seq").values_list("first_seq", "last_seq", "batch_id"))
    out: list[Change] = []
    b = 0
    for seq, stored_key, op, stored_data, stored_old, created in rows:
        while b < len(batches) and batches[b][1] < seq:
            b += 1
        batch_id = batches[b][2] if b < len(batches) and batches[b][0] <= seq else ""
        key, data, old = sealing.open_change(stored_key, stored_data, stored_old)
        out.append(Change(seq=seq, key=key, op=op, data=data, old=old, batch_id=batch_id, created_at=created))
    return out


def _live(dataset: Dataset | Any) -> tuple[Any, int, sealing.Profile]:
    pk = dataset.pk if isinstance(dataset, Dataset) else dataset
    generation, profile = Dataset.objects.filter(pk=pk).values_list("generation", "sealing").get()
    return pk, int(generation), sealing.Profile.from_json(profile)


def live_records(*, dataset: Dataset, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The live records with these (plaintext) keys, opened: {key: record}."""
    pk, generation, profile = _live(dataset)
    if not generation:
        return {}
    stored = profile.stored_keys(keys) if profile.key else None
    found = records_by_key(pk, generation, list(stored) if stored is not None else list(keys))
    out: dict[str, dict[str, Any]] = {}
    for stored_key, data in found.items():
        key, record = sealing.open_record(stored_key, data)
        out[key] = record or {}
    return out


def iter_live_records(*, dataset: Dataset, after_key: str | None = None, batch: int = 1000
                      ) -> Iterator[tuple[str, dict[str, Any]]]:
    """The live records, opened, in the database's order of stored keys (the blind index's order when the key
    item is sealed), after the record with key ``after_key``."""
    pk, generation, profile = _live(dataset)
    if not generation:
        return
    qs = DatasetRecord.objects.filter(dataset_id=pk, generation=generation).order_by("key")
    after = profile.stored_key(after_key) if after_key is not None else None
    while True:
        page = list((qs.filter(key__gt=after) if after is not None else qs).values_list("key", "data")[:batch])
        if not page:
            return
        for stored_key, data in page:
            key, record = sealing.open_record(stored_key, data)
            yield key, record or {}
        after = page[-1][0]


def find_by_sealed_value(*, dataset: Dataset, column: str, value: Any, limit: int = 100
                         ) -> dict[str, dict[str, Any]]:
    """The live records whose ``column`` holds ``value``, opened: {key: record}, at most ``limit``.

    ``value`` is normalised by the column's validator first (as on load); a value the validator refuses matches
    nothing. On a sealed (L4) column the lookup compares blind indexes: through the (dataset, generation, key)
    index when the column is the sealed key, else a JSON-path comparison within the dataset's live generation.
    On a plain column it compares the stored value. An unknown column raises :class:`ValidationFailed`."""
    resource = _resource(dataset)
    columns = {c.column_name: c for c in columns_for(resource)}
    col: Column | None = columns.get(column)
    pk, generation, profile = _live(dataset)
    if col is None and column not in profile.columns:
        raise ValidationFailed(f"资源没有信息项 {column} (no such item)", field="column")
    if not generation or value is None:
        return {}
    if col is not None:
        try:
            normalised = build_checker(col)(value)
        except (CellError, ValueError):
            return {}
    else:
        normalised = str(value)
    if normalised is None:
        return {}
    qs = DatasetRecord.objects.filter(dataset_id=pk, generation=generation)
    if column == profile.key:
        qs = qs.filter(key=profile.stored_key(normalised))
    elif column in profile.columns:
        qs = qs.filter(**{f"data__{column}__{sealing.CELL_INDEX}": profile.index(column, normalised)})
    else:
        qs = qs.filter(**{f"data__{column}": normalised})
    out: dict[str, dict[str, Any]] = {}
    for stored_key, data in qs.order_by("key").values_list("key", "data")[:max(1, limit)]:
        key, record = sealing.open_record(stored_key, data)
        out[key] = record or {}
    return out


__all__ = ["BatchResult", "Change", "apply_batch", "changes_since", "current_seq", "find_by_sealed_value",
           "iter_live_records", "live_records", "replace_rows", "walk_generation"]
