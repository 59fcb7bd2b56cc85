"""L4 加密存储与盲索引: values of L4 (敏感) items sealed at rest, with a blind index for equality lookups
(DESIGN.md §3 "Sensitivity levels", §4 "Keys and secrets at rest").

The one codec of stored dataset rows. Writers seal (:func:`seal_record`); every reader opens
(:func:`open_record`): :mod:`.changes` (``changes_since``, ``live_records``, ``iter_live_records``), the
provider's preview (:mod:`.selectors`) and the data plane (``exchange.dataplane.records`` and ``.changes``).
So consumers, subscribers, quality rules and fusion see plaintext exactly as before, and grants and masking
apply to it as before.

**Which items.** An item is sealed when its level is L4: the item's sensitivity, never below its data
element's (:attr:`.validation.Column.level`, from the published version the data was validated against).

**A sealed cell.** Plain values are always strings (or ``None``), so a sealed value is stored as a JSON object
in place of the string, in ``DatasetRecord.data`` and in the change log (``DatasetChange.data`` / ``.old``)
alike::

    {"bi": "<64 hex: blind index>", "ct": "sm4v1:<key id>:<base64url SM4-GCM>"}     (+ "k": 1 on the key item)

- ``ct`` is an :func:`~govshare.core.crypto.envelope.encrypt_secret` token (SM4-GCM, authenticated) under the
  node's data key for purpose ``datasets.l4.<node>`` (the envelope's key hierarchy: data keys wrapped by the
  KEK, rotated with ``rotate_data_key``). The plaintext is ``[column, stored key, value]`` (JSON), so a
  ciphertext copied to another column or another record fails to open, exactly like a tampered one: both
  raise :class:`SealedValueError`, never garbage.
- ``bi`` is HMAC-SM3 (:func:`~govshare.core.crypto.envelope.blind_index`, a key derived from the KEK for
  purpose ``datasets.bi.<node>``, separate from the data key) of ``<data element code> US <value>``. The value
  is the *stored* (normalised) form the column's validator produces, so a lookup runs the searched value
  through the same validator first. Equal values of one data element give equal indexes on one node (so keys
  still join across datasets), other elements or nodes give unrelated ones.
- ``None`` stays ``None``: that an item is empty is not hidden.

**An L4 key item.** The stored ``DatasetRecord.key`` / ``DatasetChange.key`` is then the key's blind index and
the plaintext key is sealed in its cell (marked ``"k": 1``). Readers give the plaintext key back; lookups by
key (``live_records``, deletes of ``apply_batch``, the data plane's key lookups) index the key first. Key order
of scans and snapshots is then the blind index's order, and their cursors (already opaque) hold stored keys.

**The profile** (:class:`Profile`, stored on ``Dataset.sealing``) records how the live data is sealed: the
node, the sealed columns and whether the key is sealed. A full load (upload, ``load_rows``, ``replace_rows``)
seals with the published version's levels and records them; an incremental batch seals the columns of the
published version too, but keeps the recorded treatment of the key, since one generation cannot mix plain and
indexed keys: a change of the key item's level takes effect with the next full load. Records carry their own
form, so reading never needs the profile; lookups by key or by value do.

**Comparisons without decrypting.** :func:`same_record` compares sealed cells by their blind index, so a full
replace with unchanged L4 values writes no change (and decrypts nothing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from govshare.core.crypto import DecryptionError, blind_index, decrypt_secret, encrypt_secret, sm3_hex

__all__ = [
    "L4",
    "Profile",
    "SealedValueError",
    "is_sealed",
    "node_code",
    "open_change",
    "open_data",
    "open_record",
    "prefilter",
    "profile_for",
    "same_record",
    "seal_record",
]

L4 = 4
CELL_INDEX = "bi"
CELL_TOKEN = "ct"  # noqa: S105 - a JSON field name, not a secret
CELL_KEY = "k"
_FORMAT = 1
_LABEL_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")

Record = dict[str, Any]


class SealedValueError(DecryptionError):
    """A sealed value that does not open: tampered ciphertext, a wrong or missing data key, or a ciphertext moved
    to another record or column. An integrity problem of the stored data, never shown to a consumer as data."""


def _node_label(node: str) -> str:
    return node if _LABEL_RE.fullmatch(node) else "h" + sm3_hex(node)[:16]


def seal_purpose(node: str) -> str:
    """The envelope purpose of the node's data key for sealed L4 values."""
    return f"datasets.l4.{_node_label(node)}"


def index_purpose(node: str) -> str:
    """The blind-index purpose of the node (its own key, derived from the KEK, separate from the data key)."""
    return f"datasets.bi.{_node_label(node)}"


@dataclass(frozen=True)
class Profile:
    """How a dataset's values are sealed: the node, the sealed columns (column -> data element code) and the
    sealed key column (``""`` when the key is stored plain)."""

    node: str = ""
    key: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.columns)

    def to_json(self) -> dict[str, Any]:
        if not self.columns:
            return {}
        return {"v": _FORMAT, "node": self.node, "key": self.key, "columns": dict(sorted(self.columns.items()))}

    @classmethod
    def from_json(cls, raw: Any) -> Profile:
        if not isinstance(raw, Mapping) or not raw.get("columns"):
            return cls()
        columns = {str(c): str(e) for c, e in dict(raw["columns"]).items()}
        key = str(raw.get("key") or "")
        return cls(node=str(raw.get("node") or ""), key=key if key in columns else "", columns=columns)

    def index(self, column: str, value: str) -> str:
        """The blind index of ``value`` (its stored form) in ``column``."""
        element = self.columns.get(column)
        if element is None:
            raise KeyError(column)
        return blind_index(f"{element}\x1f{value}", purpose=index_purpose(self.node))

    def stored_key(self, key: str) -> str:
        """The key as stored: its blind index when the key item is sealed, else itself."""
        return self.index(self.key, key) if self.key else key

    def stored_keys(self, keys: Iterable[str]) -> dict[str, str]:
        """{stored key: plaintext key}."""
        return {self.stored_key(k): k for k in keys}

    def for_batch(self, current: Profile, *, has_data: bool) -> Profile:
        """The profile to seal an incremental batch with, on live data recorded with ``self``: the current
        columns sealed, but the recorded treatment of the key kept (one generation never mixes plain and indexed
        keys; a change of the key item's level takes effect with the next full load)."""
        if not has_data:
            return current
        columns = dict(current.columns)
        if self.key:
            columns[self.key] = self.columns[self.key]
        elif current.key:
            columns.pop(current.key, None)
        return Profile(node=current.node or self.node, key=self.key, columns=columns)

    def merged(self, other: Profile) -> Profile:
        """What the live generation holds after a batch sealed with ``other``: the sealed columns of both."""
        if not other.active:
            return self
        return Profile(node=other.node or self.node, key=other.key,
                       columns={**dict(self.columns), **dict(other.columns)})


def node_code(node_id: Any) -> str:
    from govshare.organizations.models import Node

    return str(Node.objects.filter(pk=node_id).values_list("code", flat=True).get())


def profile_for(*, node: str, columns: Sequence[Any]) -> Profile:
    """The profile of a published version's columns (:class:`.validation.Column`): every L4 item sealed."""
    sealed = {c.column_name: c.element_code for c in columns if int(getattr(c, "level", 1)) >= L4}
    key = next((c.column_name for c in columns if c.is_key and c.column_name in sealed), "")
    return Profile(node=node, key=key, columns=sealed)


# ---------------------------------------------------------------------------------------------------------------
# Sealing and opening
# ---------------------------------------------------------------------------------------------------------------


def _bound(column: str, stored_key: str, value: str) -> str:
    return json.dumps([column, stored_key, value], ensure_ascii=False, separators=(",", ":"))


def seal_record(profile: Profile, key: str, data: Mapping[str, Any]) -> tuple[str, Record]:
    """``(stored key, stored data)`` of a validated record (plain strings or ``None``)."""
    if not profile.active:
        return key, data if isinstance(data, dict) else dict(data)
    stored_key = profile.stored_key(key)
    purpose = seal_purpose(profile.node)
    out = dict(data)
    for column in profile.columns:
        value = data.get(column)
        if value is None or isinstance(value, Mapping):
            continue
        text = str(value)
        cell: dict[str, Any] = {CELL_INDEX: profile.index(column, text),
                                CELL_TOKEN: encrypt_secret(_bound(column, stored_key, text), purpose=purpose)}
        if column == profile.key:
            cell[CELL_KEY] = 1
        out[column] = cell
    return stored_key, out


def is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and CELL_TOKEN in value


def _open_cell(column: str, stored_key: str, cell: Mapping[str, Any]) -> str:
    where = f"L4 加密值校验失败 (sealed value failed its integrity check): column {column!r}, record {stored_key!r}"
    token = cell.get(CELL_TOKEN)
    try:
        plain = decrypt_secret(str(token))
        bound = json.loads(plain.decode("utf-8"))
    except (DecryptionError, UnicodeDecodeError, ValueError) as exc:
        raise SealedValueError(f"{where}: {exc}") from None
    if (not isinstance(bound, list) or len(bound) != 3 or bound[0] != column or bound[1] != stored_key
            or not isinstance(bound[2], str)):
        raise SealedValueError(f"{where}: the ciphertext belongs to another record or column")
    return bound[2]


def open_record(stored_key: str, data: Any) -> tuple[str, Record | None]:
    """``(plaintext key, plaintext data)`` of a stored record or change-log image; ``data`` may be ``None`` (the
    ``data`` of a delete, the ``old`` of an insert) or JSON text (raw SQL on some backends). Raises
    :class:`SealedValueError` when a sealed value does not open."""
    if data is None:
        return stored_key, None
    if isinstance(data, str):
        decoded = json.loads(data)
        data = decoded if isinstance(decoded, dict) else {}
    elif not isinstance(data, Mapping):
        return stored_key, {}
    key = stored_key
    out: Record | None = None
    for column, value in data.items():
        if isinstance(value, Mapping):
            if out is None:
                out = dict(data)
            plain = _open_cell(column, stored_key, value)
            out[column] = plain
            if value.get(CELL_KEY):
                key = plain
    return key, (out if out is not None else dict(data))


def open_data(stored_key: str, data: Any) -> Record | None:
    return open_record(stored_key, data)[1]


def open_change(stored_key: str, data: Any, old: Any) -> tuple[str, Record | None, Record | None]:
    """``(plaintext key, data, old)`` of a change-log row (a delete has only ``old``)."""
    key_new, new = open_record(stored_key, data)
    key_old, before = open_record(stored_key, old)
    return (key_new if data is not None else key_old), new, before


def _same_cell(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.get(CELL_INDEX) == b.get(CELL_INDEX) and bool(a.get(CELL_KEY)) == bool(b.get(CELL_KEY))
    return bool(a == b)


def same_record(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two stored records hold the same values: sealed cells compare by blind index (deterministic, no
    decryption). A value stored sealed in one and plain in the other counts as different (its form changed)."""
    a, b = dict(a or {}), dict(b or {})
    if a.keys() != b.keys():
        return False
    return all(_same_cell(v, b[k]) for k, v in a.items())


def prefilter(row_filter: Any, sealed: Iterable[str]) -> Q:
    """The database prefilter of a row filter (``RowFilter.to_django_q``), or none when the filter reads a sealed
    column (the database holds ciphertext there; the authoritative ``matches`` runs on the opened record)."""
    if row_filter is None or row_filter.is_empty:
        return Q()
    if row_filter.fields & frozenset(sealed):
        return Q()
    q: Q = row_filter.to_django_q()
    return q
