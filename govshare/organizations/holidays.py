"""Maintaining the holiday table (节假日安排), the only writer of ``HolidayYear`` / ``HolidayDay``.

``sys_admin`` enters each year from the State Council notice (国务院办公厅关于部分节假日安排的通知);
years 2004–2026 can be seeded from the ``chinese-calendar`` library. Loading a year replaces that year's
rows atomically, records an audit event, drops the working-day cache and, after commit, sends
:func:`register_holidays_loaded_handler` handlers so that apps holding provisional deadlines can recompute them.

A notice for year Y may also cover late-December days of year Y-1 (the New Year's Day arrangement: the
2019 notice made 2018-12-29 a working day), so dates in December of Y-1 are accepted for Y.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.audit.services import record_event
from govshare.core import calendar
from govshare.core.errors import ValidationFailed
from govshare.core.models import HolidayDay, HolidayYear
from govshare.core.models.holidays import HolidayKind, HolidaySource

__all__ = [
    "ParsedDay",
    "load_holiday_year",
    "parse_holiday_file",
    "register_holidays_loaded_handler",
    "seed_holidays",
    "supported_seed_years",
]

# Explicit after-commit hook (not a Django signal): apps holding provisional deadlines register a
# handler ``(year, source)`` to recompute them when a year's arrangement is (re)loaded.
HolidaysLoadedHandler = Callable[[int, str], None]
_loaded_handlers: list[HolidaysLoadedHandler] = []


def register_holidays_loaded_handler(handler: HolidaysLoadedHandler) -> None:
    if handler not in _loaded_handlers:
        _loaded_handlers.append(handler)


def unregister_holidays_loaded_handler(handler: HolidaysLoadedHandler) -> None:
    if handler in _loaded_handlers:
        _loaded_handlers.remove(handler)


def _notify_loaded(year: int, source: str) -> None:
    for handler in list(_loaded_handlers):
        handler(year, source)

MIN_YEAR, MAX_YEAR = 1990, 2200
_NAME_MAX = HolidayDay._meta.get_field("name").max_length or 100
_NOTICE_MAX = HolidayYear._meta.get_field("notice").max_length or 200
_WEEKDAYS = "一二三四五六日"


def _weekday_zh(d: dt.date) -> str:
    return "周" + _WEEKDAYS[d.weekday()]


def _check_days(year: int, days: Sequence[tuple[dt.date, str, str]]) -> list[dict[str, Any]]:
    """Problems with ``days`` for ``year``, each ``{"index", "date", "message"}`` (index 0-based)."""
    errors: list[dict[str, Any]] = []
    seen: dict[dt.date, int] = {}

    def err(i: int, d: object, msg: str) -> None:
        errors.append({"index": i, "date": str(d), "message": msg})

    for i, row in enumerate(days):
        try:
            d, kind, name = row
        except (TypeError, ValueError):
            err(i, "", "每行应为 (日期, 类型, 名称) (each row must be (date, kind, name))")
            continue
        if not isinstance(d, dt.date) or isinstance(d, dt.datetime):
            err(i, d, "日期无效 (not a date)")
            continue
        if kind not in HolidayKind.values:
            err(i, d, f"类型 {kind!r} 无效，应为 holiday 或 workday (kind must be holiday or workday)")
        if not isinstance(name, str) or len(name) > _NAME_MAX:
            err(i, d, f"名称应为不超过{_NAME_MAX}字的文本 (name must be text of at most {_NAME_MAX} chars)")
        if not (d.year == year or (d.year == year - 1 and d.month == 12)):
            err(
                i, d,
                f"日期不属于 {year} 年的安排（只允许 {year} 年及 {year - 1} 年12月）"
                f"(date outside the {year} arrangement: only {year} and December {year - 1})",
            )
        if kind == HolidayKind.WORKDAY and d.weekday() < 5:
            err(
                i, d,
                f"调休上班日必须是周六或周日，{d} 是{_weekday_zh(d)} "
                "(a make-up working day must be a Saturday or Sunday)",
            )
        if d in seen:
            err(i, d, f"日期重复（与第{seen[d] + 1}项相同）(duplicate date, same as item {seen[d] + 1})")
        else:
            seen[d] = i
    return errors


def load_holiday_year(
    *,
    actor: Any,
    year: int,
    days: Sequence[tuple[dt.date, str, str]],
    source: str,
    notice: str = "",
) -> HolidayYear:
    """Replace ``year``'s arrangement with ``days`` (``(date, "holiday" | "workday", name)``).

    List every statutory holiday date (weekend days inside a holiday period included) and every 调休
    make-up working day; ordinary weekends are not listed. Raises ``ValidationFailed`` (writing
    nothing) with ``details["errors"]`` = ``[{"index", "date", "message"}]`` for bad input.
    """
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed(f"年份无效：{year} (year must be {MIN_YEAR}–{MAX_YEAR})", field="year")
    if source not in HolidaySource.values:
        raise ValidationFailed(
            f"来源无效：{source} (source must be one of {', '.join(HolidaySource.values)})", field="source"
        )
    notice = (notice or "").strip()
    if len(notice) > _NOTICE_MAX:
        raise ValidationFailed(f"文号过长（最多{_NOTICE_MAX}字）(notice too long)", field="notice")
    if not days:
        raise ValidationFailed(
            f"{year} 年的安排至少应有一天 (an arrangement needs at least one day)", field="days"
        )
    errors = _check_days(year, days)
    if errors:
        first = errors[0]
        raise ValidationFailed(
            f"第{first['index'] + 1}项 {first['date']}：{first['message']}"
            + (f"（共{len(errors)}处错误）" if len(errors) > 1 else ""),
            field="days",
            errors=errors,
        )

    rows = [(d, kind, name.strip()) for d, kind, name in days]
    dates = [d for d, _, _ in rows]
    with transaction.atomic():
        others = HolidayDay.objects.filter(date__in=dates).exclude(year=year).order_by("date")
        clash = list(others.values_list("date", "year"))
        if clash:
            index = {d: i for i, d in enumerate(dates)}
            errs = [
                {
                    "index": index[d],
                    "date": str(d),
                    "message": f"该日期已属于 {y} 年的安排，请先修改 {y} 年 (date already belongs to {y})",
                }
                for d, y in clash
            ]
            raise ValidationFailed(f"{errs[0]['date']}：{errs[0]['message']}", field="days", errors=errs)

        previous = HolidayYear.objects.filter(year=year).first()
        replaced, _ = HolidayDay.objects.filter(year=year).delete()
        HolidayDay.objects.bulk_create(
            [HolidayDay(date=d, kind=kind, name=name, year=year) for d, kind, name in rows]
        )
        hy, _ = HolidayYear.objects.update_or_create(
            year=year, defaults={"source": source, "notice": notice, "loaded_at": timezone.now()}
        )
        record_event(
            actor=actor,
            action="calendar.holidays_loaded",
            target_type="holiday_year",
            target_id=str(year),
            data={
                "year": year,
                "source": source,
                "notice": notice,
                "holidays": sum(1 for _, k, _ in rows if k == HolidayKind.HOLIDAY),
                "workdays": sum(1 for _, k, _ in rows if k == HolidayKind.WORKDAY),
                "first": str(min(dates)),
                "last": str(max(dates)),
                "replaced_days": replaced,
                "previous_source": previous.source if previous else None,
                "previous_notice": previous.notice if previous else None,
            },
        )
        calendar.invalidate_cache()
        transaction.on_commit(calendar.invalidate_cache)
        transaction.on_commit(lambda: _notify_loaded(year, source))
    return hy


def supported_seed_years() -> list[int]:
    """Years the installed ``chinese-calendar`` knows (2004–2026 for version 1.11)."""
    return [y for y in range(2000, dt.date.today().year + 3) if calendar.chinese_calendar_supports(y)]


def seed_holidays(*, actor: Any, years: Iterable[int], overwrite: bool = False) -> list[HolidayYear]:
    """Load ``years`` from ``chinese-calendar``. Years the library does not know are skipped, and so are
    years already in the table unless ``overwrite`` (a manual entry is never replaced silently).
    Returns the years loaded."""
    wanted = sorted(set(years))
    loaded: list[HolidayYear] = []
    with transaction.atomic():
        existing = set(HolidayYear.objects.filter(year__in=wanted).values_list("year", flat=True))
        for year in wanted:
            if (year in existing and not overwrite) or not calendar.chinese_calendar_supports(year):
                continue
            rows = calendar.seed_from_chinese_calendar([year])
            if not rows:
                continue
            loaded.append(
                load_holiday_year(actor=actor, year=year, days=rows, source=HolidaySource.CHINESE_CALENDAR)
            )
    return loaded


# --------------------------------------------------------------------------------------------------
# File input (CSV ``date,kind,name`` or JSON), used by the ``holidays load`` command and the admin UI
# --------------------------------------------------------------------------------------------------

_KIND_WORDS = {
    "holiday": HolidayKind.HOLIDAY,
    "法定节假日": HolidayKind.HOLIDAY,
    "节假日": HolidayKind.HOLIDAY,
    "放假": HolidayKind.HOLIDAY,
    "休": HolidayKind.HOLIDAY,
    "workday": HolidayKind.WORKDAY,
    "调休上班日": HolidayKind.WORKDAY,
    "调休上班": HolidayKind.WORKDAY,
    "上班": HolidayKind.WORKDAY,
    "班": HolidayKind.WORKDAY,
}
_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class ParsedDay:
    date: dt.date
    kind: str
    name: str
    line: int  # 1-based line in the file where the entry starts


def _bad(line: int, message: str) -> ValidationFailed:
    errors = [{"line": line, "message": message}]
    return ValidationFailed(f"第{line}行：{message}", field="file", errors=errors)


def _parse_date(text: str, line: int) -> dt.date:
    m = _DATE_RE.fullmatch(text.strip())
    if m is None:
        raise _bad(line, f"日期格式无效：{text!r}，应为 YYYY-MM-DD (bad date, expected YYYY-MM-DD)")
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return dt.date(y, mo, d)
    except ValueError:
        raise _bad(line, f"日期不存在：{text!r} (no such date)") from None


def _parse_kind(text: str, line: int) -> str:
    kind = _KIND_WORDS.get(text.strip().lower())
    if kind is None:
        raise _bad(
            line,
            f"类型无效：{text!r}，应为 holiday/法定节假日 或 workday/调休上班日 "
            "(kind must be holiday or workday)",
        )
    return str(kind)


def _parse_csv(text: str) -> list[ParsedDay]:
    out: list[ParsedDay] = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not out and cells[0].lower() in ("date", "日期"):
            continue  # header
        if len(cells) < 2 or len(cells) > 3:
            raise _bad(line, f"应有2或3列（日期,类型,名称），实有{len(cells)}列 (expected date,kind[,name])")
        name = cells[2] if len(cells) == 3 else ""
        out.append(ParsedDay(_parse_date(cells[0], line), _parse_kind(cells[1], line), name, line))
    return out


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _json_items(text: str) -> list[tuple[Any, int]]:
    """The elements of a top-level JSON array with the line each starts on."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise _bad(text.count("\n", 0, pos) + 1, "JSON 应为数组 (JSON must be a list)")
    pos = _skip_ws(text, pos + 1)
    items: list[tuple[Any, int]] = []
    if text.startswith("]", pos):
        return items
    while True:
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise _bad(exc.lineno, f"JSON 语法错误：{exc.msg} (JSON syntax error)") from None
        items.append((obj, line))
        pos = _skip_ws(text, pos)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
            continue
        if text.startswith("]", pos):
            if text[pos + 1 :].strip():
                raise _bad(text.count("\n", 0, pos) + 1, "数组之后还有内容 (extra data after the list)")
            return items
        raise _bad(text.count("\n", 0, pos) + 1, "应为 , 或 ] (expected , or ])")


def _parse_json(text: str) -> list[ParsedDay]:
    out: list[ParsedDay] = []
    for obj, line in _json_items(text):
        if isinstance(obj, dict):
            unknown = set(obj) - {"date", "kind", "name"}
            if unknown or "date" not in obj or "kind" not in obj:
                raise _bad(line, "每项应为 {\"date\", \"kind\", \"name\"} (each item needs date and kind)")
            d, k, n = obj["date"], obj["kind"], obj.get("name", "")
        elif isinstance(obj, list) and len(obj) in (2, 3):
            d, k, n = obj[0], obj[1], obj[2] if len(obj) == 3 else ""
        else:
            raise _bad(line, "每项应为对象或 [日期, 类型, 名称] (each item must be an object or a list)")
        if not all(isinstance(x, str) for x in (d, k, n)):
            raise _bad(line, "日期、类型、名称应为字符串 (date, kind and name must be strings)")
        out.append(ParsedDay(_parse_date(d, line), _parse_kind(k, line), n.strip(), line))
    return out


def parse_holiday_file(data: bytes, *, filename: str = "") -> list[ParsedDay]:
    """Parse a CSV (``date,kind,name``, UTF-8, optional header) or JSON file (a list of
    ``{"date", "kind", "name"}`` objects or ``[date, kind, name]`` lists). JSON is recognised by the
    ``.json`` extension or a leading ``[``. Raises ``ValidationFailed`` naming the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _bad(line, "文件不是 UTF-8 编码 (file is not UTF-8)") from None
    if filename.lower().endswith(".json") or text.lstrip().startswith("["):
        return _parse_json(text)
    return _parse_csv(text)
