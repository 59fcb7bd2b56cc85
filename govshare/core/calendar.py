"""Chinese working-day calendar for deadlines (DESIGN.md §3, "Working days").

Rules:

- a working day is a Monday–Friday that is not a statutory holiday (法定节假日), or a make-up working day
  (调休上班日, a Saturday or Sunday the State Council notice turns into a working day);
- the day of receipt is not counted (民法典 §201), and a submission on a non-working day counts from the
  next working day: both come down to counting N working days strictly after the receipt date;
- the deadline is the end of the Nth working day, 23:59:59.999999 Asia/Shanghai;
- a year without data (no ``HolidayYear`` row) counts weekends only, and every result that examined a
  day in such a year is *provisional*; it must be recomputed once that year's notice is entered.

Everything here is pure logic over a :class:`HolidayTable`. Each function takes an optional ``table``;
by default the process-wide table loaded from the database by :func:`get_table` is used. Pass a table
explicitly to avoid one cache check per call in bulk work.

The table cache: the whole table (a few hundred rows) is loaded once per process and re-validated
against a fingerprint of ``HolidayYear`` (one aggregate query) at most every ``HOLIDAY_CACHE_SECONDS``
(default 60), and on every call made inside a transaction, so a rolled-back load is never served.
:func:`invalidate_cache` drops it at once (``load_holiday_year`` calls it).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

__all__ = [
    "EMPTY_TABLE",
    "HOLIDAY",
    "SHANGHAI",
    "WORKDAY",
    "Deadline",
    "HolidayTable",
    "add_working_days",
    "chinese_calendar_supports",
    "end_of_day",
    "get_table",
    "invalidate_cache",
    "is_provisional",
    "is_working_day",
    "local_date",
    "seed_from_chinese_calendar",
    "working_days_between",
    "working_days_left",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
HOLIDAY: Final = "holiday"  # 法定节假日
WORKDAY: Final = "workday"  # 调休上班日
DayRow = tuple[dt.date, str, str]  # (date, kind, name)

_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class HolidayTable:
    """Exceptions to the Monday–Friday week, and the years for which they are known."""

    days: Mapping[dt.date, str] = field(default_factory=lambda: MappingProxyType({}))
    known_years: frozenset[int] = frozenset()

    @classmethod
    def build(cls, rows: Iterable[tuple[dt.date, str]], known_years: Iterable[int]) -> HolidayTable:
        """Build from ``(date, kind)`` pairs (``name`` and further fields ignored)."""
        days: dict[dt.date, str] = {}
        for row in rows:
            d, kind = row[0], row[1]
            if kind not in (HOLIDAY, WORKDAY):
                raise ValueError(f"unknown day kind {kind!r}")
            days[d] = kind
        return cls(days=MappingProxyType(days), known_years=frozenset(known_years))

    def is_known(self, d: dt.date) -> bool:
        """True if ``d`` lies in a year whose holiday arrangement has been entered."""
        return d.year in self.known_years

    def is_working_day(self, d: dt.date) -> bool:
        kind = self.days.get(d)
        if kind == WORKDAY:
            return True
        if kind == HOLIDAY:
            return False
        return d.weekday() < 5


EMPTY_TABLE: Final = HolidayTable()


@dataclass(frozen=True)
class Deadline:
    """``due`` is the end of the last working day (aware, Asia/Shanghai). ``provisional`` means a day in a
    year without holiday data was examined: recompute once that year's notice is entered."""

    due: dt.datetime
    provisional: bool

    @property
    def due_date(self) -> dt.date:
        return self.due.date()


# --------------------------------------------------------------------------------------------------
# Pure logic
# --------------------------------------------------------------------------------------------------


def local_date(value: dt.date | dt.datetime) -> dt.date:
    """The calendar date in China of an aware datetime, or a plain date as is. Naive datetimes are
    refused: their time zone is unknown."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("需要带时区的时间 (naive datetime: pass an aware datetime or a date)")
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def end_of_day(d: dt.date) -> dt.datetime:
    """23:59:59.999999 of ``d`` in Asia/Shanghai."""
    return dt.datetime.combine(d, dt.time.max, tzinfo=SHANGHAI)


def is_working_day(d: dt.date | dt.datetime, *, table: HolidayTable | None = None) -> bool:
    """Whether ``d`` is a working day (for a year without data: whether it is Monday–Friday)."""
    return (table or get_table()).is_working_day(local_date(d))


def add_working_days(
    received_at: dt.date | dt.datetime, n: int, *, table: HolidayTable | None = None
) -> Deadline:
    """Deadline of ``n`` (≥ 1) working days for something received at ``received_at``.

    The receipt day is not counted; the Nth working day strictly after the receipt date is the due day,
    and the deadline is its end. A receipt on a non-working day therefore counts from the next working
    day, as the rules require.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"工作日数必须是正整数 (n must be a positive integer, got {n!r})")
    t = table or get_table()
    d = local_date(received_at)
    counted = 0
    provisional = False
    # Every year has working days, so this ends; the bound only guards against a corrupt table.
    for _ in range(n * 7 + 3700):
        d += _ONE_DAY
        if not t.is_known(d):
            provisional = True
        if t.is_working_day(d):
            counted += 1
            if counted == n:
                return Deadline(due=end_of_day(d), provisional=provisional)
    raise RuntimeError("节假日表异常：找不到足够的工作日 (holiday table has no working days)")


def _days_after(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    d = start
    while d < end:
        d += _ONE_DAY
        yield d


def working_days_between(
    start: dt.date | dt.datetime, end: dt.date | dt.datetime, *, table: HolidayTable | None = None
) -> int:
    """Working days in ``(start, end]``; negative (minus the count in ``(end, start]``) if end < start."""
    t = table or get_table()
    a, b = local_date(start), local_date(end)
    if b < a:
        return -working_days_between(b, a, table=t)
    return sum(1 for d in _days_after(a, b) if t.is_working_day(d))


def is_provisional(
    start: dt.date | dt.datetime, end: dt.date | dt.datetime, *, table: HolidayTable | None = None
) -> bool:
    """Whether any day in ``(start, end]`` (either order) lies in a year without holiday data."""
    t = table or get_table()
    a, b = sorted((local_date(start), local_date(end)))
    if a == b:
        return False
    return any(y not in t.known_years for y in range((a + _ONE_DAY).year, b.year + 1))


def working_days_left(
    now: dt.date | dt.datetime, due: dt.date | dt.datetime, *, table: HolidayTable | None = None
) -> int:
    """Working days from today to the due day, for countdowns: 0 on the due day itself, negative when
    overdue (−1 on the first working day after it). Counted like :func:`add_working_days`, so on the day
    of receipt ``working_days_left(received_at, add_working_days(received_at, n).due) == n``.

    It counts days; whether the deadline has passed is ``now > due``.
    """
    return working_days_between(now, due, table=table)


# --------------------------------------------------------------------------------------------------
# chinese-calendar seeding
# --------------------------------------------------------------------------------------------------

_CHINESE_NAMES: Final = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
_NEW_YEAR = "New Year's Day"


def _chinese_name(english: str | None) -> str:
    if not english:
        return ""
    if english in _CHINESE_NAMES:
        return _CHINESE_NAMES[english]
    import chinese_calendar

    try:
        return str(chinese_calendar.Holiday(english).chinese)
    except ValueError:
        return english


def chinese_calendar_supports(year: int) -> bool:
    """Whether the installed ``chinese-calendar`` has data for ``year`` (it raises NotImplementedError
    for years it does not know, e.g. 2027 in version 1.11)."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _notice_year(d: dt.date, english: str | None) -> int:
    """The year of the notice that announces ``d``: late-December days of a New Year's Day arrangement
    belong to the next year's notice (2018-12-29 workday and 2018-12-30/31 holidays: 2019 notice)."""
    return d.year + 1 if d.month == 12 and english == _NEW_YEAR else d.year


def seed_from_chinese_calendar(years: Iterable[int]) -> list[DayRow]:
    """Rows ``(date, kind, name)`` for ``years``, grouped by notice year (see :func:`_notice_year`), from
    the ``chinese-calendar`` library: every statutory holiday date (weekend days inside a holiday period
    included) and every make-up working day. Years the library does not know yield no rows; check with
    :func:`chinese_calendar_supports`. Names are Chinese (国庆节, 春节 …)."""
    import chinese_calendar

    wanted = {y for y in years if chinese_calendar_supports(y)}
    rows: list[DayRow] = []
    for source, kind in ((chinese_calendar.holidays, HOLIDAY), (chinese_calendar.workdays, WORKDAY)):
        for d, english in source.items():
            if _notice_year(d, english) in wanted:
                rows.append((d, kind, _chinese_name(english)))
    rows.sort()
    return rows


# --------------------------------------------------------------------------------------------------
# Process cache of the database table
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CacheEntry:
    table: HolidayTable
    fingerprint: tuple[Any, ...]
    checked_at: float  # monotonic time of the last verification; -inf: verify before any use


_cache: _CacheEntry | None = None
_lock = threading.Lock()


def invalidate_cache() -> None:
    """Forget the cached table; the next call reloads it from the database."""
    global _cache
    _cache = None


def _fingerprint() -> tuple[Any, ...]:
    from django.db.models import Count, Max, Sum

    from govshare.core.models import HolidayYear

    agg = HolidayYear.objects.aggregate(n=Count("id"), last=Max("loaded_at"), years=Sum("year"))
    return (agg["n"], agg["last"], agg["years"])


def _load() -> HolidayTable:
    from govshare.core.models import HolidayDay, HolidayYear

    return HolidayTable.build(
        HolidayDay.objects.values_list("date", "kind"),
        HolidayYear.objects.values_list("year", flat=True),
    )


def _ttl() -> float:
    from django.conf import settings

    return float(getattr(settings, "GOVSHARE", {}).get("HOLIDAY_CACHE_SECONDS", 60))


def get_table() -> HolidayTable:
    """The holiday table from the database, cached per process (see the module docstring)."""
    global _cache
    from django.db import connection

    in_transaction = connection.in_atomic_block
    entry = _cache
    now = time.monotonic()
    if entry is not None and not in_transaction and now - entry.checked_at < _ttl():
        return entry.table
    with _lock:
        fp = _fingerprint()
        # Inside a transaction the data may still roll back: such an entry is re-verified on next use.
        checked_at = float("-inf") if in_transaction else now
        entry = _cache
        if entry is None or entry.fingerprint != fp:
            # Loaded after the fingerprint was taken, so at least as new: a commit in between only
            # causes one more reload at the next verification.
            table = _load()
        else:
            table = entry.table
        _cache = _CacheEntry(table=table, fingerprint=fp, checked_at=checked_at)
        return table
