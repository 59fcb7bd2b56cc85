"""Normalisation of values before a cross-check compares them (多元校核).

Two sources agree when their values are equal after: Unicode NFKC (full-width digits and letters, the
ideographic space), trimming and collapsing inner whitespace; upper-casing identifiers (身份证号 X,
统一社会信用代码, 组织机构代码, codes matched by a pattern); canonical dates (``2020/1/2``, ``20200102``,
``2020年1月2日`` → ``2020-01-02``); numbers by value (``100.00`` = ``100``); booleans by meaning
(是/否, true/false, 1/0); multi-valued fields as sets (any of ``；;,，、`` or new lines separate items).
A value that cannot be read as its type is compared as normalised text. No Django imports.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

MULTI_SEPARATOR = "；"
_SPLIT_RE = re.compile(r"[；;,，、\n\r]+")
_SPACE_RE = re.compile(r"\s+")
_DATE_RES = (
    re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"),
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"),
    re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"),
    re.compile(r"([0-9]{4})\.([0-9]{1,2})\.([0-9]{1,2})"),
    re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日"),
)
_MIDNIGHT_RE = re.compile(r"[ T]00:00(:00(\.0+)?)?")
_TRUE = frozenset({"是", "true", "1", "yes", "y", "t", "有"})
_FALSE = frozenset({"否", "false", "0", "no", "n", "f", "无"})
IDENTIFIER_VALIDATORS = frozenset({"resident_id", "uscc", "org_code", "region_code", "regex"})


def text(value: object) -> str | None:
    """NFKC, trimmed, inner whitespace collapsed; ``None`` for empty."""
    if value is None:
        return None
    s = _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()
    return s or None


def _date(s: str) -> str:
    if len(s) > 10 and _MIDNIGHT_RE.fullmatch(s[10:]):
        s = s[:10]
    for rx in _DATE_RES:
        m = rx.fullmatch(s)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            except ValueError:
                return s
    return s


def _datetime(s: str) -> str:
    try:
        value = dt.datetime.fromisoformat(s.replace("/", "-"))
    except ValueError:
        return s
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat()


def _number(s: str) -> str:
    try:
        d = Decimal(s.replace(",", ""))
    except InvalidOperation:
        return s
    if not d.is_finite():
        return s
    if d == 0:
        return "0"
    out = format(d.normalize(), "f")
    return out


def _boolean(s: str) -> str:
    low = s.lower()
    if low in _TRUE:
        return "true"
    if low in _FALSE:
        return "false"
    return s


def normalise(value: object, *, data_type: str = "string", validator: str = "", multi: bool = False) -> str | None:
    """The comparable form of ``value``; ``None`` when missing (a missing value never disagrees)."""
    s = text(value)
    if s is None:
        return None
    if multi:
        items = {normalise(part, data_type=data_type, validator=validator) for part in _SPLIT_RE.split(s)}
        kept = sorted(i for i in items if i)
        return MULTI_SEPARATOR.join(kept) or None
    if validator in IDENTIFIER_VALIDATORS:
        return s.upper()
    if data_type == "date":
        return _date(s)
    if data_type == "datetime":
        return _datetime(s)
    if data_type in ("integer", "decimal"):
        return _number(s)
    if data_type == "boolean":
        return _boolean(s)
    return s


def join_multi(values: list[str | None]) -> str | None:
    """A multi-valued field's stored form: the distinct non-empty items (each trimmed), sorted, joined."""
    items: set[str] = set()
    for v in values:
        t = text(v)
        if t:
            items.update(p.strip() for p in _SPLIT_RE.split(t) if p.strip())
    return MULTI_SEPARATOR.join(sorted(items)) or None
