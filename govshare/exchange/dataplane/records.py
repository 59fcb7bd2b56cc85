"""Reading the granted view of a resource: key lookups (one indexed query), keyset scans, and the projection of
a record to what a grant may see (plain, masked by the data element's mask, verify_only left out).

Every path goes through :meth:`GrantInfo.matches` (the grant's row filter, :meth:`rowfilter.RowFilter.matches`):
a record outside the filter is treated exactly like a missing one by query, verify and file alike.

Stored rows are opened by :mod:`govshare.datasets.sealing` (L4 values are sealed at rest) before anything else
sees them; a row filter that reads an L4 item is not pushed down to the database (it holds ciphertext there)
but still applied, by ``matches``, to the opened record. When the key item is L4 the stored key is its blind
index: key lookups index the requested keys, records come back under their plaintext keys, and scan cursors
hold stored keys (they are opaque).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.db import connection

from govshare.core.masking import MaskError, mask
from govshare.datasets import sealing
from govshare.datasets.models import Dataset, DatasetRecord
from govshare.exchange import rowfilter
from govshare.exchange.choices import ItemMode
from govshare.exchange.dataplane.cache import GrantInfo, Resource

Record = dict[str, Any]

_R = DatasetRecord._meta.db_table
_D = Dataset._meta.db_table
_LOOKUP_SQL = (  # table names from model metadata; values are parameters
    f"SELECT r.key, r.data FROM {_R} r JOIN {_D} d ON d.id = r.dataset_id AND r.generation = d.generation "  # noqa: S608
    f"WHERE d.resource_id = %s AND r.key IN ({{}})"
)


def normalize_key(value: str, resource: Resource) -> str:
    """The key as stored: NFKC (full-width digits), trimmed; upper-case for identifiers (the x of a 身份证号)."""
    key = unicodedata.normalize("NFKC", value).strip()
    column = resource.columns.get(resource.key_column)
    return key.upper() if column is not None and column.identifier else key


def sealed_columns(resource: Resource) -> frozenset[str]:
    """The resource's L4 items (stored sealed)."""
    return frozenset(c.name for c in resource.columns.values() if c.level >= sealing.L4)


def _stored_keys(resource: Resource, keys: Sequence[str]) -> list[str]:
    """The keys to look up: the blind indexes too when the key item is L4 and its dataset stores them so (one
    more indexed query, on L4 resources only)."""
    column = resource.columns.get(resource.key_column)
    if column is None or column.level < sealing.L4:
        return list(keys)
    raw = Dataset.objects.filter(resource_id=resource.id).values_list("sealing", flat=True).first()
    profile = sealing.Profile.from_json(raw)
    return [*keys, *profile.stored_keys(keys)] if profile.key else list(keys)


def fetch_by_keys(grant: GrantInfo, keys: Sequence[str]) -> dict[str, Record]:
    """The live records with these (normalised) keys that are inside the grant's row filter: one indexed query
    on (dataset, generation, key). Records outside the filter are left out, as if missing."""
    if not keys:
        return {}
    lookup = _stored_keys(grant.resource, keys)
    sql = _LOOKUP_SQL.format(", ".join(["%s"] * len(lookup)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [grant.resource.db_id, *lookup])
        rows = cursor.fetchall()
    out: dict[str, Record] = {}
    for stored_key, data in rows:
        key, record = sealing.open_record(stored_key, data)
        if record is not None and grant.matches(record):
            out[key] = record
    return out


def live_dataset(resource: Resource) -> tuple[Any, int] | None:
    """(dataset id, live generation), or None when nothing is mounted yet."""
    row = Dataset.objects.filter(resource_id=resource.id).values_list("id", "generation").first()
    if row is None or not row[1]:
        return None
    return row[0], int(row[1])


def scan(grant: GrantInfo, *, extra: rowfilter.RowFilter | None, after: str | None, want: int, budget: int,
         batch: int = 500, dataset: tuple[Any, int] | None = None) -> tuple[list[tuple[str, Record]], str | None]:
    """Up to ``want`` records in key order after ``after`` that pass the grant's filter and ``extra``, reading at
    most about ``budget`` rows. Returns the records (plaintext keys) and the stored key to continue after
    (``None`` at the end)."""
    if grant.row_filter_broken:
        return [], None
    ds = dataset or live_dataset(grant.resource)
    if ds is None:
        return [], None
    sealed = sealed_columns(grant.resource)
    q = sealing.prefilter(grant.row_filter, sealed)
    if extra is not None:
        q &= sealing.prefilter(extra, sealed)
    base = DatasetRecord.objects.filter(dataset_id=ds[0], generation=ds[1]).filter(q).order_by("key")
    found: list[tuple[str, Record]] = []
    scanned = 0
    last = after
    while True:
        qs = base.filter(key__gt=last) if last is not None else base
        size = max(1, min(batch, budget - scanned, (want - len(found)) * 4 + 16))
        rows = list(qs.values_list("key", "data")[:size])
        for stored_key, data in rows:
            scanned += 1
            last = stored_key
            key, opened = sealing.open_record(stored_key, data)
            record = opened or {}
            if grant.matches(record) and (extra is None or extra.matches(record)):
                found.append((key, record))
                if len(found) >= want:
                    return found, stored_key
        if len(rows) < size:
            return found, None
        if scanned >= budget:
            return found, last


def iterate(grant: GrantInfo, *, page_rows: int) -> Iterator[tuple[str, Record]]:
    """Every record of the granted view in key order, page by page (no long-running cursor or transaction);
    the generation is pinned at the start."""
    ds = live_dataset(grant.resource)
    if ds is None:
        return
    after: str | None = None
    while True:
        page, after = scan(grant, extra=None, after=after, want=page_rows, budget=page_rows * 20, dataset=ds)
        yield from page
        if after is None:
            return


def mask_value(grant: GrantInfo, column: str, value: Any) -> Any:
    """The value as the grant shows it; masked items use the data element's mask (``full`` when the element
    names none: a masked item never comes out in clear)."""
    mode = grant.items.get(column)
    if mode == ItemMode.PLAIN:
        return value
    if mode != ItemMode.MASKED:
        raise KeyError(column)
    if value is None or value == "":
        return value
    col = grant.resource.columns[column]
    kind = col.mask_kind if col.mask_kind != "none" else "full"
    try:
        return mask(kind, str(value), col.mask_params)
    except MaskError:
        return mask("full", str(value))


def project(grant: GrantInfo, record: Mapping[str, Any], columns: Sequence[str]) -> Record:
    return {c: mask_value(grant, c, record.get(c)) for c in columns}


def filter_fields_check(grant: GrantInfo, fields: frozenset[str] | set[str]) -> None:
    """Filters (and orderings) may name plain items only (DESIGN.md §3 "Inference guards")."""
    from govshare.exchange.dataplane.responses import DataPlaneError

    for name in sorted(fields):
        mode = grant.items.get(name)
        if mode is None:
            raise DataPlaneError("item_not_granted", details={"item": name})
        if mode != ItemMode.PLAIN:
            raise DataPlaneError("mode_not_granted", "过滤和排序只能使用明文授权的信息项 (filters and sorting use "
                                 "plain items only)", {"item": name, "mode": mode})

