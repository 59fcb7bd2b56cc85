"""Validators and demo-data generators for Chinese identifiers.

- 居民身份证号码 (GB 11643-1999): 18 characters, ISO 7064 MOD 11-2 check character.
  Only the 18-character form is accepted; the 15-digit first-generation number (no check character,
  two-digit year) is rejected with a format error.
- 统一社会信用代码 (GB 32100-2015): 18 characters, MOD 31 check character.
- 组织机构代码 (GB 11714-1997): 8 characters + MOD 11 check character, with or without the hyphen.
- 行政区划代码 (GB/T 2260): 6 digits, structure only unless an existence callback is given.

Every ``validate_*`` returns the normalised value or raises :class:`IdentifierError` (a ``ValueError``)
whose message is Chinese with English in parentheses. Every ``is_valid_*`` returns a bool.

This module has no Django imports on purpose: it is used by data-plane code, importers and tests alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "PROVINCE_CODES",
    "USCC_ALPHABET",
    "USCC_DEPARTMENT_CODES",
    "IdentifierError",
    "UsccParts",
    "format_org_code",
    "is_valid_org_code",
    "is_valid_region_code",
    "is_valid_resident_id",
    "is_valid_uscc",
    "make_org_code",
    "make_resident_id",
    "make_uscc",
    "org_code_check_char",
    "region_level",
    "resident_id_area_code",
    "resident_id_birth_date",
    "resident_id_check_char",
    "resident_id_gender",
    "uscc_check_char",
    "uscc_org_code",
    "uscc_parts",
    "validate_org_code",
    "validate_region_code",
    "validate_resident_id",
    "validate_uscc",
]

_CHINA_TZ = ZoneInfo("Asia/Shanghai")

# Full-width ASCII (as typed with a Chinese IME) is folded to ASCII; nothing else is translated, so
# that e.g. circled or superscript digits are rejected instead of being silently read as digits.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


class IdentifierError(ValueError):
    """An identifier failed validation. ``code`` is a stable machine-readable reason:
    ``empty``, ``length``, ``format``, ``checksum``, ``birth_date``, ``region``."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _clean(value: str) -> str:
    if not isinstance(value, str):
        raise IdentifierError("必须是字符串 (must be a string)", code="format")
    v = value.translate(_FULLWIDTH).strip().upper()
    if not v:
        raise IdentifierError("不能为空 (empty)", code="empty")
    return v


# --------------------------------------------------------------------------------------------------
# 居民身份证号码 GB 11643
# --------------------------------------------------------------------------------------------------

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"
_RIC_RE = re.compile(r"[0-9]{17}[0-9X]")
_MIN_BIRTH = dt.date(1900, 1, 1)


def resident_id_check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise IdentifierError("前17位必须是数字 (first 17 characters must be digits)", code="format")
    total = sum(int(c) * w for c, w in zip(body17, _RIC_WEIGHTS, strict=True))
    return _RIC_CHECK[total % 11]


def _china_today() -> dt.date:
    return dt.datetime.now(_CHINA_TZ).date()


def validate_resident_id(value: str, *, today: dt.date | None = None) -> str:
    """Validate a 居民身份证号码 and return it with a lower-case ``x`` upper-cased.

    Rejects only on format, check character or an impossible birth date (not a calendar date, before
    1900-01-01, or after ``today`` in China). The area code is NOT checked against the region table:
    codes change (潮安县 445121 became 潮安区 445103) while the ID numbers issued under them stay valid,
    and numbers beginning with 9 are issued to foreign permanent residents (2023 format).
    """
    v = _clean(value)
    if len(v) == 15 and v.isascii() and v.isdigit():
        raise IdentifierError(
            "不支持15位旧版身份证号，请使用18位号码 (15-digit legacy numbers are not accepted)", code="length"
        )
    if len(v) != 18:
        raise IdentifierError(f"长度应为18位，实为{len(v)}位 (must be 18 characters)", code="length")
    if not _RIC_RE.fullmatch(v):
        raise IdentifierError(
            "格式错误：前17位应为数字，末位为数字或X (format: 17 digits then a digit or X)", code="format"
        )
    try:
        birth = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise IdentifierError(
            f"出生日期 {v[6:14]} 不是有效日期 (birth date is not a valid date)", code="birth_date"
        ) from None
    if birth < _MIN_BIRTH:
        raise IdentifierError(f"出生日期 {birth} 早于1900年 (birth date before 1900)", code="birth_date")
    if birth > (today or _china_today()):
        raise IdentifierError(f"出生日期 {birth} 晚于今天 (birth date in the future)", code="birth_date")
    if resident_id_check_char(v[:17]) != v[17]:
        raise IdentifierError("校验位错误 (bad check digit)", code="checksum")
    return v


def is_valid_resident_id(value: str, *, today: dt.date | None = None) -> bool:
    try:
        validate_resident_id(value, today=today)
    except IdentifierError:
        return False
    return True


def resident_id_birth_date(value: str) -> dt.date:
    """Birth date encoded in a (valid) 身份证号."""
    v = validate_resident_id(value)
    return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def resident_id_gender(value: str) -> Literal["male", "female"]:
    """Gender encoded in the 17th digit (odd: male 男, even: female 女)."""
    v = validate_resident_id(value)
    return "male" if int(v[16]) % 2 == 1 else "female"


def resident_id_area_code(value: str) -> str:
    """The 6-digit area code (address at first registration; may no longer exist)."""
    return validate_resident_id(value)[:6]


def make_resident_id(area6: str, birth: dt.date, seq3: int) -> str:
    """Build a checksum-correct 身份证号 for demo data. ``seq3`` is 0–999; odd is male."""
    if len(area6) != 6 or not area6.isascii() or not area6.isdigit():
        raise IdentifierError("地区码必须是6位数字 (area code must be 6 digits)", code="format")
    if not 0 <= seq3 <= 999:
        raise IdentifierError("顺序码必须在0–999之间 (sequence must be 0–999)", code="format")
    if not 1900 <= birth.year <= 9999:
        raise IdentifierError("出生年份超出范围 (birth year out of range)", code="birth_date")
    body = f"{area6}{birth:%Y%m%d}{seq3:03d}"
    return body + resident_id_check_char(body)


# --------------------------------------------------------------------------------------------------
# 组织机构代码 GB 11714
# --------------------------------------------------------------------------------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_RE = re.compile(r"[0-9A-Z]{8}")
_ORG_RE = re.compile(r"([0-9A-Z]{8})-?([0-9X])")


def _org_char_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character for an 8-character body (digits and A–Z, A=10 … Z=35)."""
    if not _ORG_BODY_RE.fullmatch(body8):
        raise IdentifierError(
            "组织机构代码本体应为8位数字或大写字母 (body must be 8 digits or capital letters)", code="format"
        )
    total = sum(_org_char_value(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


def validate_org_code(value: str) -> str:
    """Validate a 组织机构代码 (``12345678-9`` or ``123456789``); return the 9 characters without hyphen."""
    v = _clean(value)
    m = _ORG_RE.fullmatch(v)
    if m is None:
        compact = v.replace("-", "")
        if len(compact) != 9:
            raise IdentifierError(f"长度应为9位，实为{len(compact)}位 (must be 9 characters)", code="length")
        raise IdentifierError(
            "格式错误：8位数字或大写字母加1位校验码 (format: 8 digits/letters, hyphen optional, check char)",
            code="format",
        )
    body, check = m.group(1), m.group(2)
    if org_code_check_char(body) != check:
        raise IdentifierError("校验位错误 (bad check digit)", code="checksum")
    return body + check


def is_valid_org_code(value: str) -> bool:
    try:
        validate_org_code(value)
    except IdentifierError:
        return False
    return True


def format_org_code(value: str) -> str:
    """Display form ``12345678-9``."""
    v = validate_org_code(value)
    return f"{v[:8]}-{v[8]}"


def make_org_code(body8: str) -> str:
    """Append the check character to an 8-character body (no hyphen)."""
    body = _clean(body8)
    return body + org_code_check_char(body)


# --------------------------------------------------------------------------------------------------
# 统一社会信用代码 GB 32100
# --------------------------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# 登记管理部门码: 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 市场监管(工商),
# A 中央军委改革和编制办公室, N 农业农村, Y 其他.
USCC_DEPARTMENT_CODES = "123456789ANY"
_USCC_CHAR = f"[{USCC_ALPHABET}]"
_USCC_RE = re.compile(rf"[{USCC_DEPARTMENT_CODES}]{_USCC_CHAR}[0-9]{{6}}{_USCC_CHAR}{{10}}")


@dataclass(frozen=True, slots=True)
class UsccParts:
    """The segments of a 统一社会信用代码."""

    department: str  # 登记管理部门码 (1 char)
    kind: str  # 机构类别码 (1 char)
    region: str  # 登记管理机关行政区划码 (6 digits)
    org_code: str  # 主体标识码 = 组织机构代码 (9 chars, not checked separately)
    check: str  # 校验码 (1 char)


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character for the first 17 characters."""
    if len(body17) != 17 or any(c not in _USCC_VALUE for c in body17):
        raise IdentifierError(
            f"只能包含字符 {USCC_ALPHABET} (only these characters are allowed)", code="format"
        )
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Validate a 统一社会信用代码; return it upper-cased.

    The first character may be a digit 1–9 or A/N/Y (GB 32100 registration authorities; python-stdnum
    wrongly rejects the letters). Characters 3–8 must be digits (a region code). The embedded
    组织机构代码 (characters 9–17) is not checked separately: see :func:`uscc_org_code`.
    """
    v = _clean(value)
    if len(v) != 18:
        raise IdentifierError(f"长度应为18位，实为{len(v)}位 (must be 18 characters)", code="length")
    bad = sorted({c for c in v if c not in _USCC_VALUE})
    if bad:
        raise IdentifierError(
            f"含有不允许的字符 {''.join(bad)}（不用 I、O、S、V、Z）(characters not allowed: {''.join(bad)})",
            code="format",
        )
    if v[0] not in USCC_DEPARTMENT_CODES:
        raise IdentifierError(
            f"登记管理部门码 {v[0]} 无效，应为1–9或A、N、Y (registration authority must be 1–9, A, N or Y)",
            code="format",
        )
    if not _USCC_RE.fullmatch(v):
        raise IdentifierError("第3–8位应为行政区划码数字 (characters 3–8 must be digits)", code="format")
    if uscc_check_char(v[:17]) != v[17]:
        raise IdentifierError("校验位错误 (bad check digit)", code="checksum")
    return v


def is_valid_uscc(value: str) -> bool:
    try:
        validate_uscc(value)
    except IdentifierError:
        return False
    return True


def uscc_parts(value: str) -> UsccParts:
    v = validate_uscc(value)
    return UsccParts(department=v[0], kind=v[1], region=v[2:8], org_code=v[8:17], check=v[17])


def uscc_org_code(value: str) -> str:
    """The 9-character 组织机构代码 embedded in a 统一社会信用代码 (characters 9–17)."""
    return validate_uscc(value)[8:17]


def make_uscc(dept_code: str, kind_code: str, region6: str, org_body8: str) -> str:
    """Build a 统一社会信用代码 for demo data: computes the 组织机构代码 check character, then the
    USCC check character. ``org_body8`` must avoid I, O, S, V, Z (not in the USCC alphabet)."""
    dept, kind, region, body = (_clean(x) for x in (dept_code, kind_code, region6, org_body8))
    if len(dept) != 1 or dept not in USCC_DEPARTMENT_CODES:
        raise IdentifierError("登记管理部门码应为1–9或A、N、Y (department code)", code="format")
    if len(kind) != 1 or kind not in _USCC_VALUE:
        raise IdentifierError("机构类别码应为1位 (kind code must be one character)", code="format")
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise IdentifierError("行政区划码必须是6位数字 (region code must be 6 digits)", code="format")
    body17 = dept + kind + region + make_org_code(body)
    return validate_uscc(body17 + uscc_check_char(body17))


# --------------------------------------------------------------------------------------------------
# 行政区划代码 GB/T 2260
# --------------------------------------------------------------------------------------------------

PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)
_REGION_RE = re.compile(r"[0-9]{6}")


def validate_region_code(value: str, *, known: Callable[[str], bool] | None = None) -> str:
    """Validate a 6-digit 行政区划代码.

    Structure: a GB/T 2260 province code (11–65, 71 台湾, 81 香港, 82 澳门) and, for a province-level code
    (``XX00..``), a zero county part. ``known``, when given, is asked whether the code exists (e.g. in
    the region table); pass one that accepts retired codes when validating historical data.
    """
    v = _clean(value)
    if len(v) != 6:
        raise IdentifierError(f"长度应为6位，实为{len(v)}位 (must be 6 digits)", code="length")
    if not _REGION_RE.fullmatch(v):
        raise IdentifierError("必须是6位数字 (must be 6 digits)", code="format")
    if v[:2] not in PROVINCE_CODES:
        raise IdentifierError(f"省级代码 {v[:2]} 不存在 (no such province code)", code="region")
    if v[2:4] == "00" and v[4:] != "00":
        raise IdentifierError("省级代码后四位应为0000 (province-level code must end in 0000)", code="format")
    if known is not None and not known(v):
        raise IdentifierError(f"行政区划代码 {v} 不存在 (unknown region code)", code="region")
    return v


def is_valid_region_code(value: str, *, known: Callable[[str], bool] | None = None) -> bool:
    try:
        validate_region_code(value, known=known)
    except IdentifierError:
        return False
    return True


def region_level(value: str) -> Literal["province", "city", "county"]:
    """Level implied by the code's shape: ``XX0000`` province, ``XXXX00`` city (地级), else county."""
    v = validate_region_code(value)
    if v[2:] == "0000":
        return "province"
    if v[4:] == "00":
        return "city"
    return "county"
