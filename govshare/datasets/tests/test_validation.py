"""Checkers and parsers without the database: unit cases and properties."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from govshare.core.identifiers import IdentifierError, make_resident_id, validate_resident_id
from govshare.datasets.parsers import HeaderMap, detect_encoding, dict_rows, open_table
from govshare.datasets.validation import CellError, Column, RowValidator, build_checker

TODAY = dt.date(2026, 11, 22)


def col(data_type: str = "string", **kw: Any) -> Column:
    base: dict[str, Any] = {"column_name": "c", "name": "列", "data_type": data_type, "length": None,
                            "required": False, "is_key": False, "element_code": "E"}
    return Column(**{**base, **kw})


def check(c: Column, raw: Any) -> str | None:
    return build_checker(c, today=TODAY)(raw)


@pytest.mark.parametrize(("data_type", "raw", "stored"), [
    ("integer", " 0042 ", "42"), ("integer", 7, "7"), ("integer", 7.0, "7"), ("integer", "1,234", "1234"),
    ("decimal", "1.50", "1.50"), ("decimal", 2.5, "2.5"), ("decimal", "-0.001", "-0.001"),
    ("date", "2024-01-31", "2024-01-31"), ("date", "20240131", "2024-01-31"), ("date", "2024/1/5", "2024-01-05"),
    ("date", "2024年1月5日", "2024-01-05"), ("date", "2024-01-31 00:00:00", "2024-01-31"),
    ("date", dt.date(2024, 1, 31), "2024-01-31"), ("date", dt.datetime(2024, 1, 31), "2024-01-31"),
    ("datetime", "2024-01-31 08:30", "2024-01-31T08:30:00+08:00"),
    ("datetime", "2024-01-31T08:30:00Z", "2024-01-31T08:30:00+00:00"),
    ("datetime", "20240131083000", "2024-01-31T08:30:00+08:00"),
    ("datetime", "2024/1/31 08:30:00", "2024-01-31T08:30:00+08:00"),
    ("boolean", "是", "true"), ("boolean", "否", "false"), ("boolean", "TRUE", "true"), ("boolean", "0", "false"),
    ("boolean", True, "true"), ("boolean", 1, "true"),
    ("string", "  x  ", "x"), ("string", "", None), ("string", "   ", None), ("string", None, None),
    ("string", 12345, "12345"),
])
def test_normalisation(data_type: str, raw: Any, stored: str | None) -> None:
    assert check(col(data_type), raw) == stored


@pytest.mark.parametrize(("data_type", "raw", "words"), [
    ("integer", "1.5", "整数"), ("integer", "abc", "整数"), ("integer", True, "整数"),
    ("decimal", "NaN", "有限"), ("decimal", "1e", "数值"),
    ("date", "2023-02-29", "有效日期"), ("date", "31/01/2024", "YYYY-MM-DD"),
    ("date", dt.datetime(2024, 1, 31, 8), "时间"),
    ("datetime", "yesterday", "ISO 8601"), ("boolean", "maybe", "是/否"),
    ("string", "a\x00b", "NUL"), ("string", "\ud800", "Unicode"), ("string", "#N/A", "Excel"),
    ("string", {"a": 1}, "嵌套"), ("string", 1.2e17, "文本格式"),
])
def test_bad_values(data_type: str, raw: Any, words: str) -> None:
    with pytest.raises(CellError) as exc:
        check(col(data_type), raw)
    assert words in exc.value.reason


def test_length_counts_characters_not_bytes() -> None:
    c = col(length=4)
    assert check(c, "欧阳娜娜") == "欧阳娜娜"
    with pytest.raises(CellError, match="超过 4"):
        check(c, "欧阳娜娜娜")


def test_enum_accepts_codes_and_labels() -> None:
    c = col("enum", length=1, enum_values=("男", "女", "未知", {"code": "9", "name": "未说明"}))
    assert check(c, "未知") == "未知"  # the enumeration decides, not the declared length
    assert check(c, "未说明") == "9"
    with pytest.raises(CellError, match="取值范围"):
        check(c, "其他")


@pytest.mark.parametrize(("validator", "good", "bad", "pattern"), [
    ("uscc", "91350100M000100Y43", "91350100M000100Y44", ""),
    ("org_code", "D2143569-X", "D2143569-1", ""),
    ("region_code", "445102", "995102", ""),
    ("mobile", "13800138000", "12800138000", ""),
    ("regex", "AB-12", "ab-12", r"[A-Z]{2}-[0-9]{2}"),
])
def test_element_validators(validator: str, good: str, bad: str, pattern: str) -> None:
    c = col(validator=validator, pattern=pattern)
    assert check(c, good) is not None
    with pytest.raises(CellError):
        check(c, bad)


def test_resident_id_reasons_and_normalisation() -> None:
    c = col(validator="resident_id")
    good = make_resident_id("445121", dt.date(1980, 5, 6), 11)  # 潮安县: retired area code, still valid
    assert check(c, good) == good
    x = next(make_resident_id("445102", dt.date(1990, 1, d), 1) for d in range(1, 29)
             if make_resident_id("445102", dt.date(1990, 1, d), 1).endswith("X"))
    assert check(c, x.lower()) == x
    with pytest.raises(CellError, match=r"身份证号.*校验位"):
        check(c, good[:-1] + ("0" if good[-1] != "0" else "1"))
    with pytest.raises(CellError, match="晚于今天"):
        check(c, make_resident_id("445102", dt.date(2027, 1, 1), 1))


@settings(max_examples=400)
@given(st.one_of(
    st.builds(lambda d, n: make_resident_id("445102", d, n),
              st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)), st.integers(0, 999)),
    st.text(alphabet="0123456789Xx ", min_size=16, max_size=19),
    st.builds(lambda d, n, pos, ch: (lambda s: s[:pos] + ch + s[pos + 1:])(make_resident_id("445102", d, n)),
              st.dates(dt.date(1900, 1, 1), dt.date(2026, 1, 1)), st.integers(0, 999), st.integers(0, 17),
              st.sampled_from("0123456789X")),
))
def test_fast_resident_id_path_agrees_with_the_core_validator(value: str) -> None:
    c = col(validator="resident_id")
    try:
        expected: str | None = validate_resident_id(value, today=TODAY)
    except IdentifierError:
        expected = None
    try:
        got = check(c, value)
    except CellError:
        got = None
    assert got == expected


def test_row_validator_reports_every_column() -> None:
    cols = [col(column_name="k", is_key=True, required=True), col(column_name="n", required=True),
            col("date", column_name="d")]
    v = RowValidator(cols, today=TODAY)
    assert v.validate(["a", "b", "2024-01-01"]) == ({"k": "a", "n": "b", "d": "2024-01-01"}, [])
    data, problems = v.validate(["a", "", "bad"])
    assert data == {"k": "a", "n": None, "d": None}
    assert [(p.index, p.reason[:2]) for p in problems] == [(1, "必填"), (2, "日期")]


# ---------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------

NAMES = [col(column_name="k", name="主键", is_key=True, required=True), col(column_name="n", name="名称")]
# Text that survives a CSV round trip unchanged once stripped: no NUL, no lone surrogates.
CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CELL, CELL), min_size=1, max_size=8), st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_csv_round_trip(rows: list[tuple[str, str]], encoding: str) -> None:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["主键", "n"])
    w.writerows(rows)
    text = buf.getvalue()
    data = text.encode(encoding)
    if encoding == "gb18030":
        # UTF-8 is tried first: GB18030 bytes that happen to be valid UTF-8 too (e.g. a lone 茅, C3 A9,
        # reads as é) are read as UTF-8. Real files with Chinese headers practically never are.
        assume(data == text.encode() or not _valid_utf8(data))
    table = open_table(io.BytesIO(data), "t.csv", NAMES)
    assert table.problems == []
    got = [(n, values) for n, values, _ in table.rows]
    expected = [(i + 2, [a, b]) for i, (a, b) in enumerate(rows) if a or b]
    assert got == expected


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=30))
def test_gbk_text_is_read_as_gb18030(text: str) -> None:
    # With a Chinese header detection is certain: 名称 in GBK is C3 FB B3 C6, and FB after C3 is not UTF-8.
    assert detect_encoding(io.BytesIO(f"名称\n{text}\n".encode("gbk"))) == "gb18030"
    assert detect_encoding(io.BytesIO(f"名称\n{text}\n".encode())) == "utf-8"


def test_dict_rows_map_chinese_names_and_report_unknown_keys_once() -> None:
    rows = list(dict_rows([{"主键": "a", "名称": "x"}, {"k": "b", "extra": 1}, {"k": "c", "extra": 2}],
                          HeaderMap(NAMES)))
    assert [(n, v) for n, v, _ in rows] == [(1, ["a", "x"]), (2, ["b", None]), (3, ["c", None])]
    assert rows[1][2] is not None and rows[1][2][0]["column"] == "extra" and rows[2][2] is None


def test_tab_separated_text() -> None:
    table = open_table(io.BytesIO("主键\t名称\na\tb\n".encode()), "t.txt", NAMES)
    assert [v for _, v, _ in table.rows] == [["a", "b"]]
