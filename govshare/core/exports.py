"""Spreadsheet-safe cells for every CSV/XLSX export (formula injection, DESIGN.md §4 "Interfaces").

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return, which some spreadsheets skip
before evaluating) gets a leading apostrophe; ``unneutralise`` undoes it on import.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any, *, numeric: bool = False, prefixes: tuple[str, ...] = FORMULA_PREFIXES) -> Any:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run as a formula.

    Non-text values pass through unchanged; with ``numeric``, text that is a number (``-12.5``) stays as is."""
    if not isinstance(value, str) or not value.startswith(prefixes):
        return value
    if numeric:
        try:
            Decimal(value)
            return value
        except (InvalidOperation, ValueError):
            pass
    return "'" + value


def neutralise_text(value: Any) -> str:
    """``neutralise`` for exports that write every cell as text (``None`` becomes the empty string)."""
    return str(neutralise("" if value is None else str(value)))


def unneutralise(value: str) -> str:
    """Undo ``neutralise``: drop the apostrophe before a formula prefix."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value
