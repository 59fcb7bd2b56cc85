"""Working-day calendar, the holiday table service and the ``holidays`` command."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import chinese_calendar
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from govshare.audit.models import AuditEvent
from govshare.core import calendar
from govshare.core.calendar import (
    HOLIDAY,
    SHANGHAI,
    WORKDAY,
    Deadline,
    HolidayTable,
    add_working_days,
    chinese_calendar_supports,
    get_table,
    invalidate_cache,
    is_provisional,
    is_working_day,
    seed_from_chinese_calendar,
    working_days_between,
    working_days_left,
)
from govshare.core.errors import ValidationFailed
from govshare.core.models import HolidayDay, HolidayYear
from govshare.core.models.holidays import HolidayKind
from govshare.organizations.holidays import (
    load_holiday_year,
    parse_holiday_file,
    register_holidays_loaded_handler,
    seed_holidays,
    unregister_holidays_loaded_handler,
)

D = dt.date
UTC = dt.UTC
LIB_YEARS = range(2004, 2027)

# A pure table equal to what `holidays seed` stores: no database needed for the logic tests.
LIB_TABLE = HolidayTable.build(
    ((d, k) for d, k, _ in seed_from_chinese_calendar(LIB_YEARS)), known_years=LIB_YEARS
)

# A hypothetical 2027 arrangement, entered by hand in the tests (not the real notice).
ARRANGEMENT_2027 = [
    (D(2027, 1, 1), HOLIDAY, "元旦"),
    (D(2027, 1, 2), HOLIDAY, "元旦"),
    (D(2027, 1, 3), HOLIDAY, "元旦"),
    (D(2027, 2, 6), HOLIDAY, "春节"),
    *[(D(2027, 2, day), HOLIDAY, "春节") for day in range(7, 14)],
    (D(2027, 2, 14), WORKDAY, "春节"),
]


def at(y: int, mo: int, d: int, h: int = 10, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def eod(y: int, mo: int, d: int) -> dt.datetime:
    return dt.datetime(y, mo, d, 23, 59, 59, 999999, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    invalidate_cache()
    yield
    invalidate_cache()


@pytest.fixture
def lib_years(db: None) -> list[HolidayYear]:
    return seed_holidays(actor=None, years=[2025, 2026])


# ---- chinese-calendar seeding (pure) ----------------------------------------------------------------


def test_seed_rows_2025() -> None:
    rows = seed_from_chinese_calendar([2025])
    by_date = {d: (k, n) for d, k, n in rows}
    assert by_date[D(2025, 10, 1)] == (HOLIDAY, "国庆节")
    assert by_date[D(2025, 10, 6)] == (HOLIDAY, "中秋节")
    assert by_date[D(2025, 10, 4)] == (HOLIDAY, "国庆节")  # a Saturday inside the holiday period
    assert by_date[D(2025, 9, 28)] == (WORKDAY, "国庆节")  # Sunday make-up day
    assert by_date[D(2025, 10, 11)] == (WORKDAY, "国庆节")  # Saturday make-up day
    assert D(2025, 10, 12) not in by_date  # an ordinary Sunday is not stored
    assert all(d.weekday() >= 5 for d, k, _ in rows if k == WORKDAY)
    assert rows == sorted(rows)


def test_seed_unknown_year_is_empty_not_an_error() -> None:
    assert not chinese_calendar_supports(2027)
    assert chinese_calendar_supports(2026)
    assert seed_from_chinese_calendar([2027]) == []
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2027, 1, 4))


def test_seed_groups_new_year_december_days_by_notice_year() -> None:
    # The 2019 notice made 2018-12-29 (Sat) a working day and 2018-12-30/31 holidays.
    rows_2019 = {d: k for d, k, _ in seed_from_chinese_calendar([2019])}
    rows_2018 = {d: k for d, k, _ in seed_from_chinese_calendar([2018])}
    assert rows_2019[D(2018, 12, 29)] == WORKDAY
    assert rows_2019[D(2018, 12, 30)] == rows_2019[D(2018, 12, 31)] == HOLIDAY
    assert D(2018, 12, 29) not in rows_2018


def test_table_agrees_with_chinese_calendar_every_day() -> None:
    d = D(2004, 1, 1)
    while d <= D(2026, 12, 31):
        assert LIB_TABLE.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += dt.timedelta(days=1)


def test_kinds_match_model_choices() -> None:
    assert {HOLIDAY, WORKDAY} == set(HolidayKind.values)


# ---- rules (pure table) ---------------------------------------------------------------------------


def test_national_day_2025() -> None:
    # Oct 1–8 2025 off; Sep 28 (Sun) and Oct 11 (Sat) are make-up working days.
    dl = add_working_days(at(2025, 9, 30), 1, table=LIB_TABLE)
    assert dl == Deadline(due=eod(2025, 10, 9), provisional=False)
    assert dl.due_date == D(2025, 10, 9)
    assert dl.due.tzinfo is not None and dl.due.utcoffset() == dt.timedelta(hours=8)


def test_make_up_saturday_counts() -> None:
    assert is_working_day(D(2025, 10, 11), table=LIB_TABLE)
    assert is_working_day(D(2025, 9, 28), table=LIB_TABLE)
    assert not is_working_day(D(2025, 10, 12), table=LIB_TABLE)
    assert add_working_days(at(2025, 10, 10), 1, table=LIB_TABLE).due == eod(2025, 10, 11)


def test_receipt_on_a_saturday_before_a_make_up_sunday() -> None:
    # Received on an ordinary Saturday; the next working day is the make-up Sunday.
    assert add_working_days(at(2025, 9, 27), 1, table=LIB_TABLE).due == eod(2025, 9, 28)


def test_submission_on_sunday_counts_from_monday() -> None:
    assert add_working_days(at(2025, 11, 16, 22), 1, table=LIB_TABLE).due == eod(2025, 11, 17)
    assert add_working_days(at(2025, 11, 16), 2, table=LIB_TABLE).due == eod(2025, 11, 18)


def test_day_of_receipt_not_counted() -> None:
    assert add_working_days(at(2025, 11, 17, 0, 1), 1, table=LIB_TABLE).due == eod(2025, 11, 18)
    assert add_working_days(D(2025, 11, 17), 1, table=LIB_TABLE).due == eod(2025, 11, 18)


def test_ten_working_days_across_national_day() -> None:
    # 9/28 (Sun, make-up) 9/29 9/30 | Oct 1–8 off | 10/9 10/10 10/11 (Sat, make-up) 10/13 10/14 10/15 10/16
    dl = add_working_days(at(2025, 9, 26), 10, table=LIB_TABLE)
    assert dl.due == eod(2025, 10, 16)
    assert working_days_between(D(2025, 9, 26), D(2025, 10, 16), table=LIB_TABLE) == 10


def test_spring_festival_2026() -> None:
    # Feb 15–23 2026 off; Feb 14 (Sat) and Feb 28 (Sat) are make-up working days.
    assert add_working_days(at(2026, 2, 13), 1, table=LIB_TABLE).due == eod(2026, 2, 14)
    assert add_working_days(at(2026, 2, 13), 2, table=LIB_TABLE).due == eod(2026, 2, 24)
    assert add_working_days(at(2026, 2, 12), 10, table=LIB_TABLE).due == eod(2026, 3, 4)
    assert not is_working_day(D(2026, 2, 16), table=LIB_TABLE)  # Monday inside the holiday
    assert is_working_day(D(2026, 2, 28), table=LIB_TABLE)


def test_receipt_date_is_taken_in_china_time() -> None:
    # 2025-11-16 17:00 UTC is Monday 01:00 in Shanghai: the receipt day is Monday, due Tuesday.
    received = dt.datetime(2025, 11, 16, 17, 0, tzinfo=UTC)
    assert add_working_days(received, 1, table=LIB_TABLE).due == eod(2025, 11, 18)
    # 15:59 UTC is still Sunday in Shanghai.
    received = dt.datetime(2025, 11, 16, 15, 59, tzinfo=UTC)
    assert add_working_days(received, 1, table=LIB_TABLE).due == eod(2025, 11, 17)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        add_working_days(dt.datetime(2025, 11, 17, 10), 1, table=LIB_TABLE)  # naive
    with pytest.raises(ValueError):
        add_working_days(at(2025, 11, 17), 0, table=LIB_TABLE)
    with pytest.raises(ValueError):
        add_working_days(at(2025, 11, 17), True, table=LIB_TABLE)
    with pytest.raises(TypeError):
        is_working_day("2025-11-17", table=LIB_TABLE)  # type: ignore[arg-type]


def test_unknown_year_counts_weekends_only_and_is_provisional() -> None:
    table_2026 = HolidayTable.build(
        ((d, k) for d, k, _ in seed_from_chinese_calendar([2026])), known_years=[2026]
    )
    dl = add_working_days(at(2026, 12, 30), 5, table=table_2026)
    # Dec 31 (Thu), 2027: Jan 1 (Fri, no data: a weekday), Jan 4, 5, 6
    assert dl == Deadline(due=eod(2027, 1, 6), provisional=True)
    assert add_working_days(at(2026, 12, 29), 2, table=table_2026).provisional is False
    assert is_provisional(D(2026, 12, 30), D(2027, 1, 6), table=table_2026)
    assert not is_provisional(D(2026, 1, 1), D(2026, 12, 31), table=table_2026)


def test_working_days_between_and_left() -> None:
    t = LIB_TABLE
    assert working_days_between(D(2025, 11, 17), D(2025, 11, 17), table=t) == 0
    assert working_days_between(D(2025, 11, 14), D(2025, 11, 17), table=t) == 1  # Fri -> Mon
    assert working_days_between(D(2025, 11, 17), D(2025, 11, 14), table=t) == -1
    assert working_days_between(D(2025, 9, 30), D(2025, 10, 8), table=t) == 0
    received = at(2025, 9, 26)
    due = add_working_days(received, 10, table=t).due
    assert working_days_left(received, due, table=t) == 10
    assert working_days_left(at(2025, 10, 15, 9), due, table=t) == 1
    assert working_days_left(at(2025, 10, 16, 23), due, table=t) == 0  # due today
    assert working_days_left(at(2025, 10, 17, 9), due, table=t) == -1  # one working day overdue
    assert working_days_left(at(2025, 10, 20, 9), due, table=t) == -2  # weekend not counted


received_at = st.datetimes(
    min_value=dt.datetime(2003, 6, 1), max_value=dt.datetime(2028, 6, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(received_at, st.integers(1, 40))
def test_due_is_a_working_day_and_monotonic(received: dt.datetime, n: int) -> None:
    a = add_working_days(received, n, table=LIB_TABLE)
    b = add_working_days(received, n + 1, table=LIB_TABLE)
    assert is_working_day(a.due, table=LIB_TABLE)
    assert a.due < b.due
    assert a.due > received
    assert a.due.time() == dt.time.max
    assert working_days_between(received, a.due, table=LIB_TABLE) == n
    assert a.provisional == is_provisional(received, a.due, table=LIB_TABLE)
    if a.provisional:
        assert b.provisional


@settings(max_examples=200, deadline=None)
@given(received_at, st.integers(1, 20), st.integers(1, 20))
def test_additive(received: dt.datetime, n: int, m: int) -> None:
    first = add_working_days(received, n, table=LIB_TABLE)
    assert add_working_days(first.due, m, table=LIB_TABLE).due == add_working_days(
        received, n + m, table=LIB_TABLE
    ).due


# ---- database table, cache and the service ----------------------------------------------------------


@pytest.mark.django_db
def test_database_table_drives_the_default_calendar(lib_years: list[HolidayYear]) -> None:
    assert [hy.year for hy in lib_years] == [2025, 2026]
    assert all(hy.source == "chinese-calendar" for hy in lib_years)
    assert add_working_days(at(2025, 9, 30), 1) == Deadline(due=eod(2025, 10, 9), provisional=False)
    assert is_working_day(D(2025, 10, 11))
    assert get_table().known_years == frozenset({2025, 2026})


@pytest.mark.django_db
def test_entering_2027_recomputes_the_provisional_deadline(lib_years: list[HolidayYear]) -> None:
    before = add_working_days(at(2026, 12, 30), 5)
    assert before == Deadline(due=eod(2027, 1, 6), provisional=True)
    inside_2027 = add_working_days(at(2027, 2, 5), 1)
    assert inside_2027 == Deadline(due=eod(2027, 2, 8), provisional=True)

    load_holiday_year(
        actor="sys_admin", year=2027, days=ARRANGEMENT_2027, source="manual", notice="国办发明电〔2026〕N号"
    )
    after = add_working_days(at(2026, 12, 30), 5)
    # Dec 31, then Jan 1–3 off: Jan 4, 5, 6, 7
    assert after == Deadline(due=eod(2027, 1, 7), provisional=False)
    assert add_working_days(at(2027, 2, 5), 1) == Deadline(due=eod(2027, 2, 14), provisional=False)


@pytest.mark.django_db
def test_cache_is_not_poisoned_by_a_rolled_back_load(lib_years: list[HolidayYear]) -> None:
    assert add_working_days(at(2026, 12, 30), 5).provisional
    with pytest.raises(RuntimeError), transaction.atomic():
        load_holiday_year(actor=None, year=2027, days=ARRANGEMENT_2027, source="manual")
        assert not add_working_days(at(2026, 12, 30), 5).provisional  # visible inside
        raise RuntimeError("roll back")
    assert add_working_days(at(2026, 12, 30), 5).provisional
    assert 2027 not in get_table().known_years


@pytest.mark.django_db
def test_cache_is_reused_when_nothing_changed(
    lib_years: list[HolidayYear], django_assert_max_num_queries: object
) -> None:
    get_table()
    with django_assert_max_num_queries(1):  # type: ignore[operator]
        first = get_table()  # inside the test transaction: one fingerprint query, no reload
    assert get_table() is first


@pytest.mark.django_db
def test_load_records_audit_event_and_replaces_rows(lib_years: list[HolidayYear]) -> None:
    load_holiday_year(actor=None, year=2027, days=ARRANGEMENT_2027, source="manual", notice="测试文号")
    ev = AuditEvent.objects.filter(action="calendar.holidays_loaded", target_id="2027").get()
    assert ev.target_type == "holiday_year"
    assert ev.data["holidays"] == 11 and ev.data["workdays"] == 1
    assert ev.data["notice"] == "测试文号"
    assert HolidayDay.objects.filter(year=2027).count() == len(ARRANGEMENT_2027)

    hy = load_holiday_year(
        actor=None, year=2027, days=[(D(2027, 1, 1), HOLIDAY, "元旦")], source="manual", notice="更正"
    )
    assert hy.notice == "更正"
    assert list(HolidayDay.objects.filter(year=2027).values_list("date", flat=True)) == [D(2027, 1, 1)]
    assert HolidayYear.objects.filter(year=2027).count() == 1
    assert AuditEvent.objects.filter(action="calendar.holidays_loaded", target_id="2027").count() == 2
    assert not is_working_day(D(2027, 1, 1))
    assert is_working_day(D(2027, 2, 8))


@pytest.mark.django_db
def test_handlers_called_after_commit(django_capture_on_commit_callbacks: object) -> None:
    received: list[int] = []

    def on_loaded(year: int, source: str) -> None:
        received.append(year)

    register_holidays_loaded_handler(on_loaded)
    try:
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            load_holiday_year(actor=None, year=2027, days=ARRANGEMENT_2027, source="manual")
    finally:
        unregister_holidays_loaded_handler(on_loaded)
    assert received == [2027]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days", "fragment"),
    [
        ([(D(2027, 3, 1), WORKDAY, "x")], "周六或周日"),  # make-up day on a Monday
        ([(D(2028, 1, 1), HOLIDAY, "元旦")], "不属于 2027"),
        ([(D(2026, 11, 30), HOLIDAY, "x")], "不属于 2027"),  # only December of the previous year
        ([(D(2027, 1, 1), "rest", "x")], "类型"),
        ([(D(2027, 1, 1), HOLIDAY, "元旦"), (D(2027, 1, 1), HOLIDAY, "元旦")], "重复"),
        ([], "至少"),
    ],
)
def test_load_rejects_bad_days_and_writes_nothing(days: list[tuple[dt.date, str, str]], fragment: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        load_holiday_year(actor=None, year=2027, days=days, source="manual")
    assert fragment in info.value.message
    assert not HolidayYear.objects.exists() and not HolidayDay.objects.exists()
    assert not AuditEvent.objects.filter(action="calendar.holidays_loaded").exists()


@pytest.mark.django_db
def test_load_rejects_bad_year_and_source() -> None:
    with pytest.raises(ValidationFailed):
        load_holiday_year(actor=None, year=1800, days=ARRANGEMENT_2027, source="manual")
    with pytest.raises(ValidationFailed):
        load_holiday_year(actor=None, year=2027, days=ARRANGEMENT_2027, source="guess")


@pytest.mark.django_db
def test_holidays_on_weekends_are_allowed_and_december_of_previous_year() -> None:
    days = [(D(2026, 12, 26), WORKDAY, "元旦"), (D(2027, 1, 2), HOLIDAY, "元旦")]  # Sat, Sat
    load_holiday_year(actor=None, year=2027, days=days, source="manual")
    assert HolidayDay.objects.get(date=D(2026, 12, 26)).year == 2027
    assert is_working_day(D(2026, 12, 26))


@pytest.mark.django_db
def test_date_owned_by_another_year_is_refused() -> None:
    load_holiday_year(actor=None, year=2026, days=[(D(2026, 12, 26), WORKDAY, "x")], source="manual")
    with pytest.raises(ValidationFailed) as info:
        load_holiday_year(actor=None, year=2027, days=[(D(2026, 12, 26), WORKDAY, "元旦")], source="manual")
    assert "2026" in info.value.message
    assert HolidayDay.objects.get(date=D(2026, 12, 26)).year == 2026


@pytest.mark.django_db
def test_seed_skips_unknown_and_existing_years() -> None:
    load_holiday_year(actor=None, year=2026, days=[(D(2026, 1, 1), HOLIDAY, "元旦")], source="manual")
    loaded = seed_holidays(actor=None, years=[2018, 2019, 2026, 2027])
    assert [hy.year for hy in loaded] == [2018, 2019]
    assert HolidayDay.objects.filter(year=2026).count() == 1  # the manual entry is kept
    assert HolidayDay.objects.get(date=D(2018, 12, 29)).year == 2019
    again = seed_holidays(actor=None, years=[2026], overwrite=True)
    assert [hy.year for hy in again] == [2026]
    assert HolidayYear.objects.get(year=2026).source == "chinese-calendar"
    assert HolidayDay.objects.filter(year=2026).count() == len(seed_from_chinese_calendar([2026]))


def test_cache_ttl_outside_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(calendar, "_fingerprint", lambda: calls.append("fp") or (0, None, None))
    monkeypatch.setattr(calendar, "_load", lambda: calls.append("load") or LIB_TABLE)
    assert get_table() is LIB_TABLE
    assert get_table() is LIB_TABLE
    assert calls == ["fp", "load"]  # second call served from the cache
    invalidate_cache()
    get_table()
    assert calls == ["fp", "load", "fp", "load"]


# ---- file parsing and the command ----------------------------------------------------------------------


CSV_2027 = "date,kind,name\n" + "".join(f"{d.isoformat()},{k},{n}\n" for d, k, n in ARRANGEMENT_2027)


def test_parse_csv_and_json() -> None:
    rows = parse_holiday_file(CSV_2027.encode("utf-8-sig"), filename="2027.csv")
    assert [(r.date, r.kind, r.name) for r in rows] == ARRANGEMENT_2027
    assert rows[0].line == 2
    text = json.dumps(
        [{"date": "2027-01-01", "kind": "法定节假日", "name": "元旦"}, ["2027/2/14", "上班", "春节"]],
        ensure_ascii=False,
        indent=1,
    )
    rows = parse_holiday_file(text.encode(), filename="x.json")
    assert [(r.date, r.kind, r.name) for r in rows] == [
        (D(2027, 1, 1), HOLIDAY, "元旦"),
        (D(2027, 2, 14), WORKDAY, "春节"),
    ]
    assert [r.line for r in rows] == [2, 7]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n", 2),
        ("2027-01-01,holiday,元旦\n\n2027-01-02,休息,x\n", 3),
        ("date,kind,name\n2027-01-01\n", 2),
        ('[\n {"date": "2027-01-01", "kind": "holiday"},\n {"date": "2027-01-02"}\n]', 3),
        ('[\n {"date": "2027-01-01", "kind": "holiday"},\n oops\n]', 3),
    ],
)
def test_parse_errors_name_the_line(content: str, line: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_holiday_file(content.encode())
    assert info.value.message.startswith(f"第{line}行")
    assert info.value.details["errors"][0]["line"] == line


@pytest.mark.django_db
def test_command_load_show_and_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "2027.csv"
    f.write_text(CSV_2027, encoding="utf-8")
    call_command("holidays", "load", str(f), "--year", "2027", "--notice", "国办发明电〔2026〕N号")
    out = capsys.readouterr().out
    assert "已载入 2027" in out and "法定节假日 11 天" in out
    assert HolidayYear.objects.get(year=2027).notice == "国办发明电〔2026〕N号"

    call_command("holidays", "show", "2027")
    out = capsys.readouterr().out
    assert "2027-02-14 周日  调休上班日  春节" in out
    call_command("holidays", "show", "2030")
    assert "没有节假日数据" in capsys.readouterr().out

    call_command("holidays", "seed", "--years", "2025-2027")
    out = capsys.readouterr().out
    assert "2025–2026" in out and "2027" in out
    assert set(HolidayYear.objects.values_list("year", flat=True)) == {2025, 2026, 2027}
    assert HolidayYear.objects.get(year=2027).source == "manual"


@pytest.mark.django_db
def test_command_load_bad_input_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("date,kind,name\n2027-01-01,holiday,元旦\n2027-03-01,workday,调休\n", encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("holidays", "load", str(f), "--year", "2027")
    assert "第3行" in str(info.value) and "周六或周日" in str(info.value)
    assert not HolidayYear.objects.exists() and not HolidayDay.objects.exists()

    f.write_text("2027-01-01,holiday,元旦\n2027-02-30,holiday,x\n", encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("holidays", "load", str(f), "--year", "2027")
    assert "第2行" in str(info.value)
    assert not HolidayDay.objects.exists()
