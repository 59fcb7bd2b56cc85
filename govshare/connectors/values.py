"""Typed values stored as JSON: the watermark (highest incremental value applied) and a pull's keyset cursor.

A value keeps the type the source driver gave it, so it goes back to the source as the same type and is
compared there natively (a PostgreSQL ``timestamptz`` as an aware datetime, a MySQL ``DATETIME`` as a
naive one, a SQLite text timestamp as text in the source's own layout): ``{"type": ..., "value": "..."}``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

TYPES = ("int", "decimal", "float", "datetime", "date", "str")


def encode(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "int", "value": str(int(value))}
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "str", "value": bytes(value).decode("utf-8", "replace")}
    return {"type": "str", "value": str(value)}


def decode(stored: Any) -> Any:
    """The value of :func:`encode`'s output; ``None`` for an empty or malformed one."""
    if not isinstance(stored, dict) or stored.get("type") not in TYPES or not isinstance(stored.get("value"), str):
        return None
    kind, text = stored["type"], stored["value"]
    try:
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return Decimal(text)
        if kind == "float":
            return float(text)
        if kind == "datetime":
            return dt.datetime.fromisoformat(text)
        if kind == "date":
            return dt.date.fromisoformat(text)
    except (ValueError, InvalidOperation):
        return None
    return text


def _minus_text_time(text: str, seconds: int) -> str | None:
    """A text timestamp minus ``seconds``, written back in the same layout (``T`` or space, fraction, zone)."""
    stripped = text.strip()
    if len(stripped) < 10:
        return None
    zulu = stripped.endswith(("Z", "z"))
    try:
        if len(stripped) == 10:
            day = dt.date.fromisoformat(stripped)
            return (day - dt.timedelta(days=-(-seconds // 86400))).isoformat()
        parsed = dt.datetime.fromisoformat(stripped[:-1] + "+00:00" if zulu else stripped)
    except ValueError:
        return None
    sep = stripped[10]
    timespec = "microseconds" if "." in stripped[11:] else "seconds"
    out = (parsed - dt.timedelta(seconds=seconds)).isoformat(sep=sep, timespec=timespec)
    return out[:-6] + stripped[-1] if zulu else out


def minus_overlap(value: Any, *, incremental_type: str, seconds: int, count: int) -> Any:
    """The lower bound of the next pull: the watermark minus the overlap window.

    Timestamps (datetime, date, text timestamps) go back ``seconds``; numbers go back ``count`` units, or
    ``seconds`` when the column is declared a timestamp (epoch seconds). A text value that is not a
    timestamp cannot be moved and is returned as it is (the reconciliation still catches late rows)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=seconds)
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=-(-seconds // 86400))
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        step = seconds if incremental_type == "timestamp" else count
        if isinstance(value, Decimal):
            return value - Decimal(step)
        return value - step
    if isinstance(value, str):
        moved = _minus_text_time(value, seconds)
        return value if moved is None else moved
    return value


def later(a: Any, b: Any) -> bool:
    """Whether ``a`` is greater than ``b`` (``b`` ``None`` counts as lowest); values of different kinds that
    cannot be compared count as not greater."""
    if a is None:
        return False
    if b is None:
        return True
    try:
        return bool(a > b)
    except TypeError:
        return False
