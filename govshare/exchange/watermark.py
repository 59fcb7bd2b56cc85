"""Per-grant watermarks (数字水印) and data labels (数据标签) for delivered files.

A file delivered under a grant carries a watermark that names the grant when the file turns up somewhere it
should not be, and survives what people do to spreadsheets: an Excel/WPS re-save, CSV ↔ XLSX conversion,
re-sorting, dropping columns, taking a subset of rows. It adds no fake records.

Design
------

* **Per row, keyed by the row's key.** Each row gets a 16-bit tag ``HMAC-SM3(grant secret, domain ‖ key)[:2]``
  where ``key`` is the value of the key column (身份证号, 统一社会信用代码, …). The key column itself is never
  marked, so it is read back byte-for-byte. Because the tag depends only on the secret and the key, row order
  and row subsets do not matter.
* **Carried by invisible characters in text cells.** The tag is written as a start mark (U+200B) and eight
  symbols from {U+200B ZERO WIDTH SPACE, U+200C ZWNJ, U+200D ZWJ, U+2060 WORD JOINER}, two bits each, appended
  to the value. Readers see the same text; Excel/WPS keep these characters in text cells through a re-save,
  and CSV and XLSX both carry them as part of the string. Only cells the caller names as text (names,
  addresses, codes kept as text, masked values such as ``张**``) are marked: numbers and dates become typed
  cells in a spreadsheet and would lose anything added to them. Empty cells stay empty. Starting with U+200B,
  which joins nothing, keeps the last letter of a joining script (Uyghur, Arabic) in its final form.
* **Every marked cell of a row carries the same tag**, so the tag does not depend on column names or positions:
  columns can be dropped, renamed or reordered as long as one marked text column and the key column remain.

Detection and its false-positive bound
--------------------------------------

:func:`detect` reads the key and all decodable tags of each row, merging rows with the same key (they carry the
same tag), and for each candidate grant counts the keys whose expected tag is among the observed ones. For a
grant that did *not* mark the file, HMAC-SM3 is a pseudo-random function, so each key matches with probability
at most ``d / 2**16`` where ``d`` is the number of distinct tags seen on it (1 in any single-grant file; keys
showing more than :data:`MAX_TAGS_PER_KEY` tags are ignored), independently across keys. The number of matching
keys among ``n`` is then dominated by Binomial(n, p0) with ``p0 = d_max / 2**16``; :func:`detect` reports a grant
only when that binomial tail probability (the p-value) is at most ``alpha / len(candidates)`` and at least
``min_rows`` keys match. By the union bound the chance that *any* wrong grant is reported by one call is at most
``alpha`` (default 1e-6). A genuine file matches on every marked key: 100 rows give a p-value near 10^-481.

Limits: the marks survive ordinary handling, not a deliberate attempt to remove them (deleting format characters,
retyping the data, or dropping the key column defeats them). Data coming back into the platform should be passed
through :func:`strip`.

Data labels
-----------

:func:`label_headers` gives the ``X-GS-Data-Label-*`` HTTP headers for a delivery (values percent-encoded UTF-8,
so Chinese stays ASCII-safe) and :func:`xlsx_properties` writes the same label into a workbook's core and custom
document properties (文件 → 属性 in Excel/WPS).

This module has no Django imports: it is used by the lean data plane.
"""

from __future__ import annotations

import datetime as dt
import hmac as _stdlib_hmac
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, overload
from urllib.parse import quote

from govshare.core.crypto import hmac_sm3

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook

__all__ = [
    "ALPHABET",
    "LABEL_HEADER_PREFIX",
    "MAX_TAGS_PER_KEY",
    "TAG_BITS",
    "Match",
    "binomial_tail_log10",
    "decode",
    "detect",
    "embed",
    "evaluate",
    "label_fields",
    "label_headers",
    "normalize_key",
    "strip",
    "tag_for",
    "xlsx_properties",
]

#: The invisible symbols, two bits each; the first also opens every mark.
ALPHABET: Final = ("\u200b", "\u200c", "\u200d", "\u2060")
START: Final = ALPHABET[0]
TAG_BITS: Final = 16
_SYMBOLS: Final = TAG_BITS // 2
_MARK_LENGTH: Final = 1 + _SYMBOLS
_SYMBOL_VALUE: Final = {ch: i for i, ch in enumerate(ALPHABET)}
_ALPHABET_SET: Final = frozenset(ALPHABET)
_STRIP_TABLE: Final = {ord(ch): None for ch in ALPHABET}
_DOMAIN: Final = b"govshare/watermark/v1\x00"
MIN_SECRET_BYTES: Final = 16
#: A key showing more distinct tags than this is ignored by detection (no single delivery produces it).
MAX_TAGS_PER_KEY: Final = 4


# ---------------------------------------------------------------------------------------------------------------
# Marks
# ---------------------------------------------------------------------------------------------------------------


@overload
def strip(value: str) -> str: ...
@overload
def strip(value: None) -> None: ...
def strip(value: str | None) -> str | None:
    """``value`` without any watermark characters (for data coming back into the platform)."""
    return None if value is None else value.translate(_STRIP_TABLE)


def normalize_key(value: object) -> str | None:
    """The key as the tag is computed from it: marks and surrounding blanks removed, upper case (``x`` in a
    身份证号); an integer cell (a key a spreadsheet turned into a number) as its digits. ``None`` when there is
    no usable key, including floats too large to hold the digits exactly."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else None
    text = strip(str(value)).strip().upper()
    return text or None


def _check_secret(secret: bytes) -> bytes:
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a watermark secret must be at least {MIN_SECRET_BYTES} bytes")
    return bytes(secret)


def _digester(secret: bytes) -> Callable[[bytes], bytes]:
    """``message -> HMAC-SM3(secret, domain ‖ message)`` for one secret. Uses the standard library's HMAC over
    OpenSSL's SM3 when available (the key schedule is computed once per secret, which matters when checking
    many grants), otherwise :func:`govshare.core.crypto.hmac_sm3`. Both compute the same HMAC-SM3."""
    secret = _check_secret(secret)
    try:
        base = _stdlib_hmac.new(secret, _DOMAIN, "sm3")
    except ValueError:  # OpenSSL without SM3
        return lambda message: hmac_sm3(secret, _DOMAIN + message)

    def digest(message: bytes) -> bytes:
        h = base.copy()
        h.update(message)
        return h.digest()

    return digest


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def tag_for(secret: bytes, key: str) -> int:
    """The 16-bit tag of the row with (normalised) key ``key`` under ``secret``:
    ``HMAC-SM3(secret, "govshare/watermark/v1\\0" ‖ key)``, first two bytes, big-endian."""
    return int.from_bytes(hmac_sm3(_check_secret(secret), _DOMAIN + _key_bytes(key))[:2], "big")


def _mark(tag: int) -> str:
    return START + "".join(ALPHABET[(tag >> shift) & 3] for shift in range(TAG_BITS - 2, -2, -2))


def decode(value: object) -> int | None:
    """The tag carried by one cell, or ``None`` if it carries no well-formed mark."""
    if not isinstance(value, str) or START not in value:
        return None
    symbols = [ch for ch in value if ch in _ALPHABET_SET]
    if len(symbols) != _MARK_LENGTH or symbols[0] != START:
        return None
    tag = 0
    for ch in symbols[1:]:
        tag = (tag << 2) | _SYMBOL_VALUE[ch]
    return tag


def embed(
    rows: Iterable[Mapping[str, Any]], *, key_column: str, secret: bytes, text_columns: Sequence[str],
) -> list[dict[str, Any]]:
    """Copies of ``rows`` with the grant's mark appended to every non-empty string in ``text_columns``.

    The key column is never marked (it is how detection finds each row's tag); rows without a key are returned
    unchanged. Watermark characters already present in a marked cell are removed first. ``None``, ``""`` and
    non-string values are left as they are."""
    if key_column in text_columns:
        raise ValueError("the key column is read back for detection and cannot be a marked text column")
    digest = _digester(secret)
    out: list[dict[str, Any]] = []
    for row in rows:
        marked = dict(row)
        key = normalize_key(row.get(key_column))
        if key is not None:
            mark = _mark(int.from_bytes(digest(_key_bytes(key))[:2], "big"))
            for col in text_columns:
                value = row.get(col)
                if isinstance(value, str):
                    visible = strip(value)
                    if visible:
                        marked[col] = visible + mark
        out.append(marked)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A grant whose watermark the file carries.

    ``rows_checked``: distinct keys that carry a readable mark; ``rows_matching``: those whose mark is this
    grant's; ``score``: their ratio; ``log10_p_value``: log10 of the chance that a grant which did not mark the
    file matches at least this many keys (the evidence — the lower, the stronger)."""

    grant_id: Any
    score: float
    rows_checked: int
    rows_matching: int
    log10_p_value: float

    @property
    def p_value(self) -> float:
        return 10.0**self.log10_p_value


def binomial_tail_log10(successes: int, trials: int, p: float) -> float:
    """log10 of P[X >= successes] for X ~ Binomial(trials, p). Returns 0.0 (probability 1) when ``successes``
    is at most the mean, which only overstates the probability."""
    if successes <= 0 or p >= 1.0:
        return 0.0
    if successes > trials:
        return -math.inf
    if p <= 0.0:
        return -math.inf
    if successes <= trials * p:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lg_n = math.lgamma(trials + 1)

    def log_pmf(k: int) -> float:
        return lg_n - math.lgamma(k + 1) - math.lgamma(trials - k + 1) + k * log_p + (trials - k) * log_q

    first = log_pmf(successes)
    total = 1.0  # the sum of exp(log_pmf(k) - first); the terms fall geometrically past the mean
    for k in range(successes + 1, trials + 1):
        ratio = math.exp(log_pmf(k) - first)
        total += ratio
        if ratio < 1e-18:
            break
    return (first + math.log(total)) / math.log(10)


def _observations(rows: Iterable[Mapping[str, Any]], key_column: str, max_rows: int) -> dict[str, frozenset[int]]:
    """Normalised key → the distinct tags its cells carry, for keys with at least one readable mark."""
    seen: dict[str, set[int]] = {}
    for row in rows:
        key = normalize_key(row.get(key_column))
        if key is None:
            continue
        tags = {t for col, v in row.items() if col != key_column and (t := decode(v)) is not None}
        if not tags:
            continue
        if key in seen:
            seen[key] |= tags
        elif len(seen) < max_rows:
            seen[key] = tags
    return {k: frozenset(v) for k, v in seen.items() if len(v) <= MAX_TAGS_PER_KEY}


def evaluate(
    rows: Iterable[Mapping[str, Any]],
    *,
    key_column: str,
    candidates: Mapping[Any, bytes],
    max_rows: int = 5000,
) -> list[Match]:
    """Every candidate grant with its counts and p-value, reported or not, strongest first (for diagnostics:
    how close the other grants came). :func:`detect` applies the threshold."""
    observed = _observations(rows, key_column, max_rows)
    n = len(observed)
    if n == 0:
        return []
    widest = max(len(tags) for tags in observed.values())
    p0 = min(1.0, widest / 2**TAG_BITS)
    keyed = [(_key_bytes(key), {t.to_bytes(2, "big") for t in tags}) for key, tags in observed.items()]
    out: list[Match] = []
    for grant_id, secret in candidates.items():
        digest = _digester(secret)
        hits = 0
        for message, tags in keyed:
            if digest(message)[:2] in tags:
                hits += 1
        out.append(Match(grant_id, hits / n, n, hits, binomial_tail_log10(hits, n, p0)))
    out.sort(key=lambda m: (m.log10_p_value, -m.rows_matching))
    return out


def detect(
    rows: Iterable[Mapping[str, Any]],
    *,
    key_column: str,
    candidates: Mapping[Any, bytes],
    alpha: float = 1e-6,
    min_rows: int = 5,
    max_rows: int = 5000,
) -> list[Match]:
    """The candidate grants (``grant_id → watermark secret``) whose marks the rows carry, strongest first.

    ``rows`` are the file's rows as read back (values may be strings, numbers, dates or ``None``); every cell is
    examined, whatever its column is called now. A grant is reported when at least ``min_rows`` distinct keys
    carry its tag and the p-value is at most ``alpha / len(candidates)``: the chance that one call reports any
    grant that did not mark the file is at most ``alpha``. At most ``max_rows`` distinct keys are examined."""
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be between 0 and 1")
    if not candidates:
        return []
    threshold = math.log10(alpha / len(candidates))
    return [
        m for m in evaluate(rows, key_column=key_column, candidates=candidates, max_rows=max_rows)
        if m.rows_matching >= min_rows and m.log10_p_value <= threshold
    ]


# ---------------------------------------------------------------------------------------------------------------
# Data labels (数据标签)
# ---------------------------------------------------------------------------------------------------------------

LABEL_HEADER_PREFIX: Final = "X-GS-Data-Label-"
_LEVEL_NAMES: Final = {1: "不敏感", 2: "低敏感", 3: "较敏感", 4: "敏感"}
# Characters left as they are in header values: unreserved plus a few harmless in a header field value.
_HEADER_SAFE: Final = "-._~:+@/,;="


def _level(level: int | str) -> int:
    if isinstance(level, str) and level.strip().upper().startswith("L"):
        level = level.strip()[1:]
    try:
        n = int(level)
    except (TypeError, ValueError):
        raise ValueError(f"unknown sensitivity level {level!r}") from None
    if n not in _LEVEL_NAMES:
        raise ValueError(f"unknown sensitivity level {level!r}")
    return n


def _when(expires: dt.date | dt.datetime | str | None) -> str:
    if expires is None:
        return "none"
    if isinstance(expires, dt.date | dt.datetime):
        return expires.isoformat()
    return str(expires)


def label_fields(
    resource_code: str, level: int | str, grant_id: object, purpose: str, expires: dt.date | dt.datetime | str | None,
) -> dict[str, str]:
    """The data label as plain text, ``name → value`` (names are the header suffixes)."""
    n = _level(level)
    return {
        "Resource": str(resource_code),
        "Level": f"L{n}",
        "Grant": str(grant_id),
        "Purpose": str(purpose),
        "Expires": _when(expires),
    }


def label_headers(
    resource_code: str, level: int | str, grant_id: object, purpose: str, expires: dt.date | dt.datetime | str | None,
) -> dict[str, str]:
    """HTTP headers ``X-GS-Data-Label-{Resource,Level,Grant,Purpose,Expires}``; values are percent-encoded UTF-8
    (RFC 3986), so they are ASCII whatever the purpose text says; decode with ``urllib.parse.unquote``."""
    return {
        LABEL_HEADER_PREFIX + name: quote(value, safe=_HEADER_SAFE)
        for name, value in label_fields(resource_code, level, grant_id, purpose, expires).items()
    }


def xlsx_properties(
    workbook: Workbook,
    resource_code: str,
    level: int | str,
    grant_id: object,
    purpose: str,
    expires: dt.date | dt.datetime | str | None,
) -> None:
    """Write the data label into ``workbook``: custom document properties ``GS-Data-Label-*`` and, for people
    who look at 文件 → 属性, the core properties subject, category, keywords and description."""
    from openpyxl.packaging.custom import StringProperty

    fields = label_fields(resource_code, level, grant_id, purpose, expires)
    n = _level(level)
    custom = workbook.custom_doc_props
    for name, value in fields.items():
        prop_name = f"GS-Data-Label-{name}"
        if prop_name in custom.names:
            del custom[prop_name]
        custom.append(StringProperty(name=prop_name, value=value))
    props = workbook.properties
    props.subject = "数据标签 / data label"
    props.category = f"L{n} {_LEVEL_NAMES[n]}"
    props.keywords = f"GS-Data-Label; resource={fields['Resource']}; level=L{n}; grant={fields['Grant']}"
    props.description = (
        f"数据标签: 资源代码 {fields['Resource']}; 敏感级别 L{n} {_LEVEL_NAMES[n]}; 授权编号 {fields['Grant']}; "
        f"用途 {fields['Purpose']}; 有效期至 {fields['Expires']}。仅限授权用途使用，不得转让或超范围使用。"
    )
