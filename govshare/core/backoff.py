"""Exponential backoff with jitter, for retrying background work (DESIGN.md §4 "Background work").

``delay(attempt, base=1, cap=60)`` gives about 1, 2, 4, 8 … seconds for attempts 1, 2, 3, 4 …, never more
than ``cap``. Jitter spreads the retries of many failing workers so they do not hammer a recovering
database or receiver in lock-step: the answer is drawn uniformly from ``[raw * (1 - jitter), raw]``
("equal jitter" with the default 0.5), so it never drops below half the nominal delay.
"""

from __future__ import annotations

import random

_rng = random.Random()


def nominal(attempt: int, *, base: float, cap: float) -> float:
    """The delay before jitter: ``base * 2 ** (attempt - 1)``, at most ``cap`` (attempt counts from 1)."""
    if base <= 0 or cap <= 0:
        return 0.0
    attempt = max(1, int(attempt))
    # 2 ** 64 overflows nothing in Python, but there is no point computing huge powers.
    if attempt > 64:
        return float(cap)
    return float(min(cap, base * (2 ** (attempt - 1))))


def delay(attempt: int, *, base: float, cap: float, jitter: float = 0.5, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry after one failure)."""
    raw = nominal(attempt, base=base, cap=cap)
    jitter = min(1.0, max(0.0, jitter))
    if raw == 0.0 or jitter == 0.0:
        return raw
    low = raw * (1.0 - jitter)
    return (rng or _rng).uniform(low, raw)
