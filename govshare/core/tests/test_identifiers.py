"""Identifier validators: GB 11643, GB 32100, GB 11714, GB/T 2260."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govshare.core.identifiers import (
    USCC_ALPHABET,
    IdentifierError,
    format_org_code,
    is_valid_org_code,
    is_valid_region_code,
    is_valid_resident_id,
    is_valid_uscc,
    make_org_code,
    make_resident_id,
    make_uscc,
    region_level,
    resident_id_area_code,
    resident_id_birth_date,
    resident_id_check_char,
    resident_id_gender,
    uscc_check_char,
    uscc_org_code,
    uscc_parts,
    validate_org_code,
    validate_region_code,
    validate_resident_id,
    validate_uscc,
)

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
VECTORS_FILE = SHARED_DATA / "id-checksums" / "cn_id_test_vectors.json"


def _vectors() -> dict[str, Any]:
    if not VECTORS_FILE.exists():
        pytest.skip(f"test vectors not found at {VECTORS_FILE}")
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return data


def _reason(fn: Any, value: str) -> str:
    with pytest.raises(IdentifierError) as info:
        fn(value)
    assert isinstance(info.value, ValueError)
    return str(info.value.code)


# ---- independent oracle for the checksums (written from the standard's description) -------------


def _mod11_2(body17: str) -> str:
    # ISO 7064 MOD 11-2: weights are 2^(18-i) mod 11.
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body17))
    return "10X98765432"[total % 11]


def _mod31(body17: str) -> str:
    # GB 32100: weights are 3^i mod 31.
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


# ---- 身份证号 --------------------------------------------------------------------------------------


def test_resident_id_vectors_valid() -> None:
    for value in _vectors()["ric_valid"]:
        assert validate_resident_id(value) == value.upper(), value
        assert resident_id_check_char(value[:17]) == _mod11_2(value[:17]) == value[17]


def test_resident_id_vectors_invalid() -> None:
    vectors = _vectors()["ric_invalid"]
    assert _reason(validate_resident_id, "36042619910102009X") == "checksum"
    assert _reason(validate_resident_id, "T60426199101010078") == "format"
    assert _reason(validate_resident_id, "360426199113010079") == "birth_date"
    # python-stdnum also rejects these on the area code; by design we do not (see the module docstring):
    # their checksums and dates are fine.
    for value, why in vectors.items():
        if "area code" in why or "county" in why:
            assert is_valid_resident_id(value), value


def test_resident_id_lower_x_normalised() -> None:
    assert validate_resident_id("44011320141005001x") == "44011320141005001X"
    assert validate_resident_id(" 44011320141005001X ") == "44011320141005001X"
    # full-width digits typed with a Chinese IME
    assert validate_resident_id("４４０１１３２０１４１００５００１ｘ") == "44011320141005001X"


def test_resident_id_abolished_area_code_passes() -> None:
    # 潮安县 445121 became 潮安区 445103 in 2013: IDs issued under the old code stay valid.
    value = "445121198001011239"
    assert _mod11_2(value[:17]) == value[17]
    assert validate_resident_id(value) == value
    assert resident_id_area_code(value) == "445121"
    assert make_resident_id("445121", dt.date(1980, 1, 1), 123) == value


def test_resident_id_parts() -> None:
    assert resident_id_birth_date("44011320141005001X") == dt.date(2014, 10, 5)
    assert resident_id_gender("360426199101010071") == "male"  # 7 odd
    female = make_resident_id("445102", dt.date(1990, 6, 1), 2)
    assert resident_id_gender(female) == "female"
    with pytest.raises(IdentifierError):
        resident_id_birth_date("36042619910102009X")


@pytest.mark.parametrize(
    "birth",
    ["19990229", "19900001", "19901301", "19900132", "19000230", "18991231", "00000000"],
)
def test_resident_id_impossible_birth_dates(birth: str) -> None:
    body = f"445102{birth}123"
    value = body + _mod11_2(body)
    assert _reason(validate_resident_id, value) == "birth_date"


def test_resident_id_birth_date_limits() -> None:
    leap = "445102" + "20000229" + "123"
    assert is_valid_resident_id(leap + _mod11_2(leap))
    first = "445102" + "19000101" + "123"
    assert is_valid_resident_id(first + _mod11_2(first))
    today = dt.date(2025, 6, 1)
    born_today = make_resident_id("445102", today, 5)
    tomorrow = make_resident_id("445102", today + dt.timedelta(days=1), 5)
    assert validate_resident_id(born_today, today=today) == born_today
    assert _reason(lambda v: validate_resident_id(v, today=today), tomorrow) == "birth_date"


def test_resident_id_format_errors() -> None:
    assert _reason(validate_resident_id, "") == "empty"
    assert _reason(validate_resident_id, "44510219800101123") == "length"
    assert _reason(validate_resident_id, "4451021980010112399") == "length"
    with pytest.raises(IdentifierError) as err:
        validate_resident_id("445102800101123")
    assert "15" in err.value.message and err.value.code == "length"  # legacy 15-digit: refused, said so
    assert _reason(validate_resident_id, "4451021980X101123X") == "format"
    assert _reason(validate_resident_id, "44510219800101123Y") == "format"
    # non-ASCII digits are not digits here
    assert _reason(validate_resident_id, "٤٤٥١٠٢١٩٨٠٠١٠١١٢٣٩") == "format"


def test_resident_id_messages_are_bilingual() -> None:
    with pytest.raises(IdentifierError) as info:
        validate_resident_id("445121198001011230")
    assert str(info.value) == "校验位错误 (bad check digit)"


ric_bodies = st.builds(
    lambda area, birth, seq: (area, birth, seq),
    st.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31)),
    st.integers(0, 999),
)


@given(ric_bodies)
def test_generated_resident_ids_validate(parts: tuple[str, dt.date, int]) -> None:
    area, birth, seq = parts
    value = make_resident_id(area, birth, seq)
    assert validate_resident_id(value) == value
    assert value[17] == _mod11_2(value[:17])
    assert resident_id_birth_date(value) == birth
    assert resident_id_gender(value) == ("male" if seq % 2 else "female")


@given(ric_bodies, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_single_substitution_in_resident_id_is_rejected(
    parts: tuple[str, dt.date, int], pos: int, new: str
) -> None:
    value = make_resident_id(*parts)
    if value[pos] == new:
        new = "X" if new != "X" else "0"
    changed = value[:pos] + new + value[pos + 1 :]
    if changed == value:
        return
    assert not is_valid_resident_id(changed)


# ---- 统一社会信用代码 -------------------------------------------------------------------------------


def test_uscc_vectors_valid() -> None:
    v = _vectors()
    for value in v["uscc_valid_found_online"] + v["uscc_valid_other"]:
        assert validate_uscc(value) == value, value
        assert uscc_check_char(value[:17]) == _mod31(value[:17]) == value[17]


def test_uscc_vectors_invalid() -> None:
    v = _vectors()["uscc_invalid"]
    assert set(v) == {"91110000600037341N", "A1110000600037341L", "9111000060003IOZSV", "12345"}
    assert _reason(validate_uscc, "91110000600037341N") == "checksum"
    # Rejected by stdnum for the leading A (which GB 32100 allows); here it fails on its checksum.
    assert _reason(validate_uscc, "A1110000600037341L") == "checksum"
    assert _reason(validate_uscc, "9111000060003IOZSV") == "format"
    assert _reason(validate_uscc, "12345") == "length"


def test_uscc_letter_department_codes() -> None:
    assert validate_uscc("N2445102MF0000001Y") == "N2445102MF0000001Y"
    assert validate_uscc("n2445102mf0000001y") == "N2445102MF0000001Y"
    for dept in "ANY123456789":
        value = make_uscc(dept, "1", "445102", "MA4UXX01")
        assert validate_uscc(value) == value
    for dept in "0BCDEX":
        body = dept + "1445102MA4UXX01X"
        value = body + _mod31(body)
        assert _reason(validate_uscc, value) == "format", dept


def test_uscc_region_part_must_be_digits() -> None:
    body = "91A45102MA4UXX01X"
    assert _reason(validate_uscc, body + _mod31(body)) == "format"


def test_uscc_parts_and_org_code() -> None:
    value = "9144030071526726XG"
    parts = uscc_parts(value)
    assert (parts.department, parts.kind, parts.region) == ("9", "1", "440300")
    assert parts.org_code == uscc_org_code(value) == "71526726X"
    assert parts.check == "G"
    assert is_valid_org_code(parts.org_code)


def test_embedded_org_codes_of_real_usccs_are_valid() -> None:
    # Not enforced by validate_uscc, but true for every real vector: a useful sanity check.
    for value in _vectors()["uscc_valid_found_online"]:
        assert is_valid_org_code(value[8:17]), value


def test_make_uscc() -> None:
    value = make_uscc("9", "1", "445100", "MA4UXX01")
    assert value == "91445100MA4UXX01XG"
    assert value[8:17] == make_org_code("MA4UXX01")
    with pytest.raises(IdentifierError):
        make_uscc("9", "1", "445100", "MA4UOX01")  # O is not in the USCC alphabet
    with pytest.raises(IdentifierError):
        make_uscc("Z", "1", "445100", "MA4UXX01")


uscc_inputs = st.tuples(
    st.sampled_from("123456789ANY"),
    st.sampled_from(USCC_ALPHABET),
    st.from_regex(r"[0-9]{6}", fullmatch=True),
    st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8),
)


@given(uscc_inputs)
def test_generated_usccs_validate(parts: tuple[str, str, str, str]) -> None:
    value = make_uscc(*parts)
    assert validate_uscc(value) == value
    assert value[17] == _mod31(value[:17])
    assert is_valid_org_code(uscc_org_code(value))


@given(uscc_inputs, st.integers(0, 17), st.sampled_from(USCC_ALPHABET))
def test_single_substitution_in_uscc_is_rejected(parts: tuple[str, str, str, str], pos: int, new: str) -> None:
    value = make_uscc(*parts)
    changed = value[:pos] + new + value[pos + 1 :]
    if changed != value:
        assert not is_valid_uscc(changed)


# ---- 组织机构代码 ------------------------------------------------------------------------------------


def test_org_code_examples() -> None:
    assert make_org_code("12345678") == "123456788"
    assert make_org_code("D2143569") == "D2143569X"  # check value 10 -> X
    assert validate_org_code("D2143569-X") == "D2143569X"
    assert validate_org_code("d2143569x") == "D2143569X"
    assert format_org_code("D2143569X") == "D2143569-X"
    assert _reason(validate_org_code, "D2143569-1") == "checksum"
    assert _reason(validate_org_code, "D2143569") == "length"
    assert _reason(validate_org_code, "D214356*-X") == "format"


def test_org_code_check_value_11_is_zero() -> None:
    # Find a body whose weighted sum is 0 mod 11: "00000000" -> 11 - 0 = 11 -> "0".
    assert make_org_code("00000000") == "000000000"


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_generated_org_codes_validate(body: str) -> None:
    value = make_org_code(body)
    assert validate_org_code(value) == value
    assert validate_org_code(f"{value[:8]}-{value[8]}") == value


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.integers(0, 8),
    st.sampled_from("0123456789"),
)
def test_single_digit_substitution_in_org_code_is_rejected(body: str, pos: int, new: str) -> None:
    # Caveat: with letters (values 10–35) a substitution that changes a value by 11 is NOT detected by
    # MOD 11 (e.g. 1 -> C); only digit-for-digit substitutions are guaranteed to be caught.
    value = make_org_code(body)
    changed = value[:pos] + new + value[pos + 1 :]
    if changed != value:
        assert not is_valid_org_code(changed)


# ---- 行政区划代码 ------------------------------------------------------------------------------------


def test_region_codes() -> None:
    assert validate_region_code("445100") == "445100"
    assert region_level("445100") == "city"
    assert region_level("440000") == "province"
    assert region_level("445121") == "county"
    assert region_level("429004") == "county"  # 仙桃市, 省直辖县级市
    for ok in ("710000", "810000", "820000", "110101"):
        assert is_valid_region_code(ok)
    assert _reason(validate_region_code, "990000") == "region"
    assert _reason(validate_region_code, "100000") == "region"
    assert _reason(validate_region_code, "440012") == "format"
    assert _reason(validate_region_code, "44510") == "length"
    assert _reason(validate_region_code, "44510X") == "format"


def test_region_code_known_callback() -> None:
    table = {"445100", "445102", "445121"}
    assert validate_region_code("445121", known=table.__contains__) == "445121"
    assert _reason(lambda v: validate_region_code(v, known=table.__contains__), "445199") == "region"


def test_region_codes_from_gb2260_file() -> None:
    tsv = SHARED_DATA / "gb2260" / "cn-GB2260_mca_201904.tsv"
    if not tsv.exists():
        pytest.skip("GB2260 data not found")
    codes = [line.split("\t")[2] for line in tsv.read_text(encoding="utf-8").splitlines()[1:] if line]
    assert len(codes) > 3000
    assert all(is_valid_region_code(c) for c in codes)
