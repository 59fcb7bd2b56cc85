"""Normalisation before cross-checks: formatting differences are not disagreements."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from govshare.baselibs.normalize import join_multi, normalise


def test_formatting_is_not_a_difference() -> None:
    assert normalise("陈６号 ") == normalise("陈6号")
    assert normalise("广东省  潮州市\u3000湘桥区") == "广东省 潮州市 湘桥区"
    assert normalise("44510219800101001x", validator="resident_id") == "44510219800101001X"
    assert normalise("2020/1/2", data_type="date") == normalise("20200102", data_type="date") == "2020-01-02"
    assert normalise("2020年1月2日", data_type="date") == "2020-01-02"
    assert normalise("100.00", data_type="decimal") == normalise("100", data_type="decimal") == "100"
    assert normalise("0.0", data_type="decimal") == "0"
    assert normalise("是", data_type="boolean") == normalise("TRUE", data_type="boolean") == "true"
    assert normalise("B；A;A，C", multi=True) == "A；B；C"
    assert normalise("  ") is None and normalise(None) is None and normalise("；", multi=True) is None
    assert normalise("not a date", data_type="date") == "not a date"
    assert normalise("abc", data_type="decimal") == "abc"
    both = "潮处〔2024〕1号；潮处〔2024〕2号"
    assert join_multi(["潮处〔2024〕2号", None, both]) == both
    assert join_multi([None, " "]) is None


KINDS = st.sampled_from([("string", ""), ("date", ""), ("decimal", ""), ("boolean", ""), ("string", "uscc")])


@given(st.text(max_size=30), KINDS, st.booleans())
def test_normalise_is_idempotent(value: str, kind: tuple[str, str], multi: bool) -> None:
    once = normalise(value, data_type=kind[0], validator=kind[1], multi=multi)
    assert normalise(once, data_type=kind[0], validator=kind[1], multi=multi) == once


@given(st.text(alphabet="0123456789ABCXYZ陈林号路", min_size=1, max_size=20))
def test_full_width_forms_normalise_alike(value: str) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() else c for c in value)
    assert normalise(wide) == normalise(value)
