"""The platform's own holiday table (DESIGN.md §3, "Working days").

``chinese-calendar`` knows 2004–2026 only; every later year is entered by ``sys_admin`` from the State
Council's yearly notice (国务院办公厅关于部分节假日安排的通知). A year with a :class:`HolidayYear` row is
*known*; deadlines that touch an unknown year count weekends only and are marked provisional.

Only exceptions to the Monday–Friday week are stored: every statutory holiday date (法定节假日, including
the weekend days inside a holiday period) and every make-up working day (调休上班日, always a weekend day).
Write through ``govshare.organizations.holidays.load_holiday_year`` only, which also invalidates the cache
in ``govshare.core.calendar``.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class HolidaySource(models.TextChoices):
    CHINESE_CALENDAR = "chinese-calendar", "chinese-calendar 库 (library)"
    MANUAL = "manual", "人工录入 (entered by hand)"


class HolidayKind(models.TextChoices):
    HOLIDAY = "holiday", "法定节假日"
    WORKDAY = "workday", "调休上班日"


class HolidayYear(models.Model):
    """One year's arrangement, as published in that year's notice."""

    year = models.IntegerField(unique=True)
    source = models.CharField(max_length=32, choices=HolidaySource.choices)
    notice = models.CharField(max_length=200, blank=True, help_text="e.g. 国办发明电〔2025〕7号")
    loaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["year"]
        verbose_name = "节假日年度安排"
        verbose_name_plural = "节假日年度安排"

    def __str__(self) -> str:
        return f"{self.year} ({self.source})"


class HolidayDay(models.Model):
    """One date that differs from the ordinary week.

    ``year`` is the year of the notice the date comes from. It equals ``date.year`` except for late
    December dates of a New Year's Day arrangement, which the *next* year's notice announces (e.g. the
    2019 notice made 2018-12-29 a working day and 2018-12-30/31 holidays).
    """

    date = models.DateField(unique=True)
    kind = models.CharField(max_length=16, choices=HolidayKind.choices)
    name = models.CharField(max_length=100, blank=True, help_text="e.g. 国庆节")
    year = models.IntegerField(db_index=True)

    class Meta:
        ordering = ["date"]
        verbose_name = "节假日/调休日"
        verbose_name_plural = "节假日/调休日"

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".rstrip()
