"""Pure arithmetic of the statistics: review-time histograms, their percentiles, ratios.

Review times are whole working days (``core.calendar.working_days_between``: the day of submission is not
counted, a decision on the same day takes 0). A histogram ``{"3": 2, "5": 1}`` (working days → decisions) is
exact and can be merged across departments and days, so the median of a region or of thirty days is the
true median of the underlying decisions, not an average of medians.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def histogram(values: Iterable[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(int(v))] = out.get(str(int(v)), 0) + 1
    return out


def merge(hists: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for h in hists:
        for k, n in h.items():
            out[k] = out.get(k, 0) + int(n)
    return out


def _sorted(hist: Mapping[str, int]) -> list[tuple[int, int]]:
    return sorted((int(k), int(n)) for k, n in hist.items() if int(n) > 0)


def count(hist: Mapping[str, int]) -> int:
    return sum(int(n) for n in hist.values())


def _nth(pairs: list[tuple[int, int]], index: int) -> int:
    """The ``index``-th smallest value (0-based) of the expanded histogram."""
    seen = 0
    for value, n in pairs:
        seen += n
        if index < seen:
            return value
    raise IndexError(index)


def median(hist: Mapping[str, int]) -> float | None:
    """Like :func:`statistics.median`: the middle value, or the mean of the two middle values."""
    pairs, n = _sorted(hist), count(hist)
    if n == 0:
        return None
    if n % 2:
        return float(_nth(pairs, n // 2))
    return (_nth(pairs, n // 2 - 1) + _nth(pairs, n // 2)) / 2


def p90(hist: Mapping[str, int]) -> float | None:
    """The 90th percentile by the nearest-rank method: the smallest value with at least 90 % of the decisions
    at or below it."""
    pairs, n = _sorted(hist), count(hist)
    if n == 0:
        return None
    return float(_nth(pairs, max(1, math.ceil(0.9 * n)) - 1))


def ratio(part: int, whole: int) -> float:
    """Percent with one decimal; 0 when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else 0.0
