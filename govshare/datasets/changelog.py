"""The change log's low-level parts: computing the difference between two generations, writing change rows,
clearing uncommitted leftovers. Used by the upload pipeline (:mod:`.services`) and by :mod:`.changes`.

A change row is *committed* when its ``seq`` is at most ``Dataset.last_seq``. Rows above it belong to a load
still staging, or to one that died (kill -9, database error): readers never see them, and the next writer
deletes them before it numbers its own changes (:func:`clear_uncommitted`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from govshare.datasets import sealing
from govshare.datasets.choices import ChangeOp
from govshare.datasets.models import DatasetChange, DatasetRecord

Row = dict[str, Any]


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.inserted + self.updated + self.deleted


def clear_uncommitted(dataset_id: Any, last_seq: int) -> None:
    """Delete change rows above the committed sequence (left by a load that never switched)."""
    DatasetChange.objects.filter(dataset_id=dataset_id, seq__gt=last_seq).delete()


def records_by_key(dataset_id: Any, generation: int, keys: Sequence[str], chunk: int = 500) -> dict[str, Row]:
    """The rows of one generation with these *stored* keys (indexed ``IN`` lookups on (dataset, generation, key)),
    as stored (sealed L4 cells left sealed: readers open them through :mod:`.sealing`)."""
    out: dict[str, Row] = {}
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        for key, data in (DatasetRecord.objects.filter(dataset_id=dataset_id, generation=generation, key__in=part)
                          .values_list("key", "data")):
            out[key] = data
    return out


def walk_generation(dataset_id: Any, generation: int, *, chunk: int, fields: tuple[str, ...] = ("key", "data")
                    ) -> Iterator[list[tuple[Any, ...]]]:
    """One generation in chunks, by keyset pagination on the (dataset, generation, key) index."""
    qs = DatasetRecord.objects.filter(dataset_id=dataset_id, generation=generation).order_by("key")
    after: str | None = None
    while True:
        page = qs.filter(key__gt=after) if after is not None else qs
        rows = list(page.values_list(*fields)[:chunk])
        if not rows:
            return
        yield rows
        after = rows[-1][0]


class ChangeWriter:
    """Numbers and writes change rows in chunks of short transactions (used while a replace stages)."""

    def __init__(self, dataset_id: Any, first_seq: int, chunk: int) -> None:
        self.dataset_id = dataset_id
        self.next_seq = first_seq
        self.chunk = chunk
        self.pending: list[DatasetChange] = []
        self.counts = Counts()

    def add(self, key: str, op: str, data: Row | None, old: Row | None) -> None:
        self.pending.append(DatasetChange(dataset_id=self.dataset_id, seq=self.next_seq, key=key, op=op,
                                          data=data, old=old))
        self.next_seq += 1
        if op == ChangeOp.DELETE:
            self.counts.deleted += 1
        elif old is None:
            self.counts.inserted += 1
        else:
            self.counts.updated += 1
        if len(self.pending) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            with transaction.atomic():
                DatasetChange.objects.bulk_create(self.pending, batch_size=1000)
            self.pending = []


def diff_generations(dataset_id: Any, *, old: int, new: int, writer: ChangeWriter, chunk: int) -> Counts:
    """Write the changes that turn generation ``old`` into ``new``: inserts and updates while walking the new
    generation (looking the same keys up in the old one), then deletes while walking the old one.

    No ordering between the two walks is assumed (database collations differ from Python's string order),
    so every comparison is an indexed lookup of a chunk of keys."""
    for rows in walk_generation(dataset_id, new, chunk=chunk):
        before = records_by_key(dataset_id, old, [k for k, _ in rows]) if old else {}
        for key, data in rows:
            previous = before.get(key)
            if previous is None:
                writer.add(key, ChangeOp.UPSERT, data, None)
            elif _same(previous, data):
                writer.counts.unchanged += 1
            else:
                writer.add(key, ChangeOp.UPSERT, data, previous)
    if old:
        for rows in walk_generation(dataset_id, old, chunk=chunk):
            keys = [k for k, _ in rows]
            present = set(DatasetRecord.objects.filter(dataset_id=dataset_id, generation=new, key__in=keys)
                          .values_list("key", flat=True))
            for key, data in rows:
                if key not in present:
                    writer.add(key, ChangeOp.DELETE, None, data)
    writer.flush()
    return writer.counts


def _same(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return sealing.same_record(a, b)


def same_record(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Stored records compare equal when their values are: sealed L4 cells by blind index (no decryption)."""
    return _same(a, b)
