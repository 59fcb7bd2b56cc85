"""``holidays``: maintain the working-day holiday table.

    holidays load FILE --year 2027 [--notice "国办发明电〔2026〕N号"]
    holidays seed [--years 2004-2026] [--overwrite]
    holidays show 2027
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from govshare.core import calendar
from govshare.core.errors import ValidationFailed
from govshare.core.models import HolidayDay, HolidayYear
from govshare.core.models.holidays import HolidayKind, HolidaySource
from govshare.organizations.holidays import (
    load_holiday_year,
    parse_holiday_file,
    seed_holidays,
    supported_seed_years,
)

_WEEKDAYS = "一二三四五六日"


def _years(text: str) -> list[int]:
    """``2004-2026``, ``2025,2026`` or ``2026``."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{4})\s*-\s*(\d{4})|(\d{4})", part)
        if m is None:
            raise argparse.ArgumentTypeError(f"年份格式无效：{part!r}，如 2004-2026 或 2025,2026 (bad years)")
        if m.group(3):
            years.add(int(m.group(3)))
        else:
            a, b = int(m.group(1)), int(m.group(2))
            if a > b:
                raise argparse.ArgumentTypeError(f"年份范围颠倒：{part} (range reversed)")
            years.update(range(a, b + 1))
    return sorted(years)


class Command(BaseCommand):
    help = "节假日安排：载入、从 chinese-calendar 初始化、查看 (load, seed or show the holiday table)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        p_load = sub.add_parser(
            "load",
            help="从文件载入一年的安排，替换该年已有数据 (load one year from a file, replacing it)",
        )
        p_load.add_argument("file", type=Path, help="CSV (date,kind,name; UTF-8) or JSON list")
        p_load.add_argument("--year", type=int, required=True, help="通知所属年份 (the notice's year)")
        p_load.add_argument("--notice", default="", help="文号，如 国办发明电〔2026〕N号 (notice number)")

        p_seed = sub.add_parser(
            "seed",
            help="从 chinese-calendar 库初始化 (seed from the chinese-calendar library)",
        )
        p_seed.add_argument(
            "--years", type=_years, default=None, help="如 2004-2026；默认为库支持的全部年份 (default: all)"
        )
        p_seed.add_argument(
            "--overwrite", action="store_true", help="覆盖已有年份，包括人工录入的 (replace existing years)"
        )

        p_show = sub.add_parser(
            "show",
            help="查看一年的安排 (show one year)",
        )
        p_show.add_argument("year", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "load":
            self._load(options["file"], options["year"], options["notice"])
        elif action == "seed":
            self._seed(options["years"], options["overwrite"])
        elif action == "show":
            self._show(options["year"])
        else:  # pragma: no cover - argparse enforces the choices
            raise CommandError(f"unknown action {action}")

    def _load(self, path: Path, year: int, notice: str) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"无法读取文件 {path}：{exc.strerror} (cannot read file)") from None
        try:
            parsed = parse_holiday_file(data, filename=path.name)
        except ValidationFailed as exc:
            raise CommandError(f"{path}: {exc.message}；未写入任何数据 (nothing written)") from None
        try:
            hy = load_holiday_year(
                actor=None,
                year=year,
                days=[(p.date, p.kind, p.name) for p in parsed],
                source=HolidaySource.MANUAL,
                notice=notice,
            )
        except ValidationFailed as exc:
            errors = exc.details.get("errors") or []
            lines = []
            for e in errors:
                i = e.get("index")
                where = f"第{parsed[i].line}行" if isinstance(i, int) and 0 <= i < len(parsed) else ""
                lines.append(f"{path}: {where}{' ' if where else ''}{e.get('date', '')}：{e['message']}")
            msg = "\n".join(lines) if lines else f"{path}: {exc.message}"
            raise CommandError(f"{msg}\n未写入任何数据 (nothing written)") from None
        n_h = sum(1 for p in parsed if p.kind == HolidayKind.HOLIDAY)
        n_w = len(parsed) - n_h
        self.stdout.write(
            self.style.SUCCESS(
                f"已载入 {hy.year} 年节假日安排：法定节假日 {n_h} 天，调休上班日 {n_w} 天"
                f" (loaded {hy.year}: {n_h} holidays, {n_w} make-up working days)"
            )
        )

    def _seed(self, years: list[int] | None, overwrite: bool) -> None:
        supported = supported_seed_years()
        wanted = years if years is not None else supported
        existing = set(HolidayYear.objects.filter(year__in=wanted).values_list("year", flat=True))
        loaded = seed_holidays(actor=None, years=wanted, overwrite=overwrite)
        done = [hy.year for hy in loaded]
        unsupported = [y for y in wanted if y not in supported]
        kept = [y for y in wanted if y in existing and y not in done]
        self.stdout.write(
            self.style.SUCCESS(f"已从 chinese-calendar 载入 {len(done)} 年 (seeded years): {_span(done)}")
        )
        if kept:
            self.stdout.write(f"已有数据，未覆盖 (already present, kept; use --overwrite): {_span(kept)}")
        if unsupported:
            self.stdout.write(
                self.style.WARNING(
                    f"chinese-calendar 没有这些年份的数据，请按国务院办公厅通知用 `holidays load` 录入 "
                    f"(no library data; enter them with `holidays load`): {_span(unsupported)}"
                )
            )

    def _show(self, year: int) -> None:
        hy = HolidayYear.objects.filter(year=year).first()
        if hy is None:
            self.stdout.write(
                self.style.WARNING(
                    f"{year} 年没有节假日数据：只按周末计算，期限标记为临时 "
                    f"(no data for {year}: weekends only, deadlines are provisional)"
                )
            )
            return
        loaded = hy.loaded_at.astimezone(calendar.SHANGHAI).strftime("%Y-%m-%d %H:%M")
        self.stdout.write(
            f"{hy.year} 年  来源 (source): {hy.get_source_display()}  文号 (notice): {hy.notice or '-'}"
            f"  载入时间 (loaded): {loaded}"
        )
        for day in HolidayDay.objects.filter(year=year).order_by("date"):
            self.stdout.write(
                f"{day.date:%Y-%m-%d} 周{_WEEKDAYS[day.date.weekday()]}  {day.get_kind_display()}  {day.name}"
            )
        table = calendar.get_table()
        start, end = dt.date(year - 1, 12, 31), dt.date(year, 12, 31)
        count = calendar.working_days_between(start, end, table=table)
        self.stdout.write(f"全年工作日 (working days in {year}): {count}")


def _span(years: list[int]) -> str:
    """``2004–2006, 2010`` for a sorted list of years."""
    if not years:
        return "-"
    parts: list[str] = []
    start = prev = years[0]
    for y in [*years[1:], None]:
        if y is not None and y == prev + 1:
            prev = y
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if y is not None:
            start = prev = y
    return ", ".join(parts)
