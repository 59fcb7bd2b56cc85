"""Masking (脱敏): examples from DESIGN.md §3 and properties."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from govshare.core.masking import MASK_CHOICES, MASK_KINDS, MaskError, mask, register_mask

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"

ALL_KINDS = ["name", "id_number", "mobile", "address", "bank_card", "email", "keep_head_tail", "full", "none"]
LENGTH_PRESERVING = ["id_number", "mobile", "bank_card", "keep_head_tail"]
SEPARATORS = " -\u3000"


def m(kind: str, value: str, **params: object) -> str:
    out = mask(kind, value, params)
    assert out is not None
    return out


def test_kinds_registered_with_chinese_labels() -> None:
    assert list(MASK_KINDS) == [
        "none", "full", "keep_head_tail", "name", "id_number", "mobile", "bank_card", "email", "address",
    ]
    assert set(MASK_KINDS) == set(ALL_KINDS)
    assert MASK_KINDS["name"] == "姓名"
    assert MASK_KINDS["address"] == "地址"
    assert dict(MASK_CHOICES) == dict(MASK_KINDS)
    with pytest.raises(TypeError):
        MASK_KINDS["x"] = "y"  # type: ignore[index]


def test_unknown_kind_and_bad_params() -> None:
    with pytest.raises(MaskError):
        mask("nope", "x")
    with pytest.raises(MaskError):
        mask("nope", None)  # unknown kinds are reported even for empty values
    with pytest.raises(MaskError):
        mask("id_number", "445102198001011234", {"keep_head": -1})
    with pytest.raises(MaskError):
        mask("id_number", "445102198001011234", {"keep_head": "6"})
    with pytest.raises(MaskError):
        mask("name", "张三", {"keep_head": 1})
    with pytest.raises(MaskError):
        register_mask("name", "again")(lambda v: v)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_none_and_empty_pass_through(kind: str) -> None:
    assert mask(kind, None) is None
    assert mask(kind, "") == ""


def test_design_examples() -> None:
    assert m("name", "张三丰") == "张**"
    assert m("name", "张三") == "张*"
    assert m("name", "欧阳娜娜") == "欧***"  # first character only, also for compound surnames
    assert m("name", "张") == "*"
    assert m("id_number", "44512119800101123X") == "4****************X"
    assert m("id_number", "44512119800101123X", keep_head=6, keep_tail=4) == "445121********123X"
    assert m("mobile", "13812341234") == "138****1234"
    assert m("mobile", "+86 13812341234") == "+86 138****1234"
    assert m("mobile", "138-1234-1234") == "138-****-1234"
    assert m("bank_card", "6222021234567890123") == "622202*********0123"
    assert m("bank_card", "6222 0212 3456 7890") == "6222 02** **** 7890"
    assert m("email", "zhangsan@example.gov.cn") == "z***@example.gov.cn"
    assert m("email", "a@example.cn") == "***@example.cn"
    assert m("email", "no-at-sign") == "n***"
    assert m("email", "z***@example.gov.cn") == "z***@example.gov.cn"
    assert m("email", "***@example.cn") == "***@example.cn"
    assert m("keep_head_tail", "ABCDEFG", keep_head=2, keep_tail=2) == "AB***FG"
    assert m("full", "secret text") == "******"
    assert m("full", "x", width=3) == "***"
    assert m("none", "plain") == "plain"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("广东省潮州市湘桥区西新街道枫春路12号", "广东省潮州市湘桥区****"),
        ("广东省潮州市枫溪区如意路1号", "广东省潮州市枫溪区****"),
        ("广东省江门市台山市台城街道环市路", "广东省江门市台山市****"),
        ("广东省东莞市南城街道鸿福路106号", "广东省东莞市****"),  # no county level: prefecture kept
        ("北京市朝阳区建国路1号", "北京市朝阳区****"),
        ("北京朝阳区建国路1号", "北京朝阳区****"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区****"),
        ("重庆市石柱土家族自治县南宾镇", "重庆市石柱土家族自治县****"),
        ("内蒙古自治区呼伦贝尔市鄂温克族自治旗巴彦托海镇", "内蒙古自治区呼伦贝尔市鄂温克族自治旗****"),
        ("新疆维吾尔自治区阿勒泰地区布尔津县友谊路", "新疆维吾尔自治区阿勒泰地区布尔津县****"),
        ("湖北省荆州市沙市区北京路", "湖北省荆州市沙市区****"),
        ("湖南省常德市津市市人民路", "湖南省常德市津市市****"),
        ("河北省唐山市路南区新华道", "河北省唐山市路南区****"),
        ("北京市朝阳区市场路8号", "北京市朝阳区****"),
        ("广东省潮州市红旗路1号", "广东省潮州市****"),  # 红旗 is a road, not a 旗
        ("广东省潮州市华润超市", "广东省潮州市****"),
        ("湖北省仙桃市干河街道", "湖北省仙桃市****"),
        ("香港特别行政区中西区皇后大道中", "香港特别行政区中西区****"),
        ("枫春路12号华侨新村3栋", "枫春路****"),  # nothing recognised: never keeps a house number
        ("abcdefghijkl", "abcdef****"),
        ("abc", "****"),
        ("广东省潮州市湘桥区", "广东省潮州市湘桥区"),  # nothing to hide
    ],
)
def test_address_examples(value: str, expected: str) -> None:
    assert m("address", value) == expected


def _gb2260_county_paths() -> list[str]:
    """province + prefecture + county names for every county in the 2019 民政部 file."""
    tsv = SHARED_DATA / "gb2260" / "cn-GB2260_mca_201904.tsv"
    if not tsv.exists():
        pytest.skip("GB2260 data not found")
    with tsv.open(encoding="utf-8") as f:
        names = {row["Code"]: row["Name"] for row in csv.DictReader(f, delimiter="\t")}
    skip = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
    out = []
    for code, name in names.items():
        if code.endswith("00"):
            continue
        prefecture = names.get(code[:4] + "00", "")
        out.append(names[code[:2] + "0000"] + ("" if prefecture in skip else prefecture) + name)
    return out


def test_address_keeps_every_real_county() -> None:
    paths = _gb2260_county_paths()
    assert len(paths) > 2800
    wrong = [p for p in paths if m("address", p + "人民路12号") != p + "****"]
    assert wrong == []


def test_address_never_keeps_street_after_county() -> None:
    for path in _gb2260_county_paths()[:400]:
        for street in ("西新街道枫春路12号", "红旗路1号", "市场路8号", "城南镇新村3组", "华润超市2楼"):
            assert m("address", path + street) == path + "****"


# ---- properties ------------------------------------------------------------------------------------

any_text = st.text(min_size=1)
digits = st.text(alphabet="0123456789", min_size=1, max_size=30)
with_separators = st.text(alphabet="0123456789X -", min_size=1, max_size=30)
address_text = st.text(
    alphabet="广东省潮州市湘桥区县旗盟自治州地路街道号巷场超12西新枫春镇村* ", min_size=1, max_size=30
)


def _significant(value: str) -> list[int]:
    return [i for i, c in enumerate(value) if c not in SEPARATORS]


@given(st.sampled_from(ALL_KINDS), any_text)
def test_unicode_safe_and_idempotent(kind: str, value: str) -> None:
    once = m(kind, value)
    assert isinstance(once, str)
    assert m(kind, once) == once


@given(address_text)
def test_address_idempotent_and_prefix(value: str) -> None:
    once = m("address", value)
    assert m("address", once) == once
    if once != value:
        kept = once[:-4]
        assert once.endswith("****")
        assert value.startswith(kept) and len(kept) < len(value)


@given(st.sampled_from(LENGTH_PRESERVING), st.one_of(any_text, with_separators))
def test_length_preserved_and_hidden_positions_starred(kind: str, value: str) -> None:
    out = m(kind, value)
    assert len(out) == len(value)
    for a, b in zip(value, out, strict=True):
        assert b in (a, "*")


@given(with_separators, st.integers(0, 8), st.integers(0, 8))
def test_id_number_keeps_exactly_head_and_tail(value: str, head: int, tail: int) -> None:
    out = m("id_number", value, keep_head=head, keep_tail=tail)
    pos = _significant(value)
    if head + tail >= len(pos):
        kept: set[int] = set()
    else:
        kept = set(pos[:head]) | set(pos[len(pos) - tail :])
    for i, (a, b) in enumerate(zip(value, out, strict=True)):
        if i in kept or a in SEPARATORS:
            assert b == a
        else:
            assert b == "*"  # the hidden character is gone from its position


@given(digits)
def test_bank_card_hides_all_but_6_and_4(value: str) -> None:
    out = m("bank_card", value)
    if len(value) <= 10:
        assert out == "*" * len(value)
    else:
        assert out == value[:6] + "*" * (len(value) - 10) + value[-4:]


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_form(value: str) -> None:
    out = m("mobile", value)
    assert out == value[:3] + "****" + value[-4:]


@given(st.text(min_size=2))
def test_name_keeps_only_first_character(value: str) -> None:
    out = m("name", value)
    assert out == value[0] + "*" * (len(value) - 1)


@given(any_text)
def test_full_reveals_nothing(value: str) -> None:
    out = m("full", value)
    assert set(out) == {"*"}
    assert len(out) == 6


@given(st.emails())
def test_email_hides_local_part(value: str) -> None:
    local, _, domain = value.rpartition("@")
    out = m("email", value)
    assert out.endswith("@" + domain)
    masked_local = out[: -len(domain) - 1]
    if set(local) == {"*"}:
        assert masked_local == local  # already masked
        return
    assert masked_local in ("***", local[0] + "***")
    assume(len(local) > 1)
    assert masked_local == local[0] + "***"
