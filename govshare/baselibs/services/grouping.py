"""The index of grouped sources (:class:`~govshare.baselibs.models.GroupMember`): which source records belong
to which library key, for multi-valued fields fed by datasets keyed otherwise (行政处罚 by 决定书文号, grouped
by the subject's 统一社会信用代码). Kept current from the source's live records; a full run rebuilds it by
mark and sweep. Every write is a short transaction of its own and idempotent: the index always follows the
source's current data, so replaying a run after a crash converges to the same index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction

from govshare.baselibs.models import BaseLibrary, GroupMember
from govshare.datasets.changes import iter_live_records, live_records
from govshare.datasets.models import Dataset

KEY_MAX = 128


def _group_of(record: dict[str, Any] | None, match_column: str) -> str | None:
    value = (record or {}).get(match_column)
    if value is None or not str(value) or len(str(value)) > KEY_MAX:
        return None
    return str(value)


def refresh_members(*, library: BaseLibrary, dataset: Dataset, match_column: str, record_keys: Sequence[str]) -> None:
    """Bring the index of these source records up to the source's live data."""
    keys = list(dict.fromkeys(record_keys))
    if not keys:
        return
    live = live_records(dataset=dataset, keys=keys)
    with transaction.atomic():
        existing = {m.record_key: m for m in GroupMember.objects.filter(
            library=library, dataset=dataset, match_column=match_column, record_key__in=keys)}
        stale: list[int] = []
        new: list[GroupMember] = []
        for rk in keys:
            group = _group_of(live.get(rk), match_column)
            m = existing.get(rk)
            if m is not None and m.group_key != group:
                stale.append(m.pk)
            if group is not None and (m is None or m.group_key != group):
                new.append(GroupMember(library=library, dataset=dataset, match_column=match_column, group_key=group,
                                       record_key=rk))
        if stale:
            GroupMember.objects.filter(pk__in=stale).delete()
        GroupMember.objects.bulk_create(new, batch_size=1000)


def rebuild_members(*, library: BaseLibrary, dataset: Dataset, match_column: str, mark: str, chunk: int,
                    heartbeat: Callable[[], None] | None = None) -> int:
    """Rebuild the whole index of one grouped source; returns the number of members."""
    total = 0
    batch: list[GroupMember] = []

    def flush() -> None:
        if not batch:
            return
        with transaction.atomic():
            GroupMember.objects.bulk_create(
                batch, batch_size=1000, update_conflicts=True,
                unique_fields=["library", "dataset", "match_column", "record_key"], update_fields=["group_key", "mark"])
            if heartbeat is not None:
                heartbeat()
        batch.clear()

    for record_key, record in iter_live_records(dataset=dataset, batch=chunk):
        group = _group_of(record, match_column)
        if group is None:
            continue
        batch.append(GroupMember(library=library, dataset=dataset, match_column=match_column, group_key=group,
                                 record_key=record_key, mark=mark))
        total += 1
        if len(batch) >= chunk:
            flush()
    flush()
    with transaction.atomic():
        GroupMember.objects.filter(library=library, dataset=dataset, match_column=match_column).exclude(
            mark=mark).delete()
    return total
