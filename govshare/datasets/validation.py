"""Row validation against a resource's data items (信息项).

Every column gets one precompiled checker (a closure) built from its data item and data element: type,
length in characters, enumeration and the element's validator. A checker takes a raw value as it comes
from a parser (``str`` from CSV/JSON, ``int``/``float``/``bool``/``datetime`` from XLSX or JSON) and
returns the stored, normalised form (always a string: integers without leading zeros, ISO 8601 dates
and times, ``true``/``false``) or ``None`` for an empty value; it raises :class:`CellError` with a reason
in Chinese and English. Required-ness and the key are handled by :class:`RowValidator`.

The checkers are built once per upload so that validating a row is a handful of function calls: the
demo loads 100k people through the same path.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from govshare.catalog.choices import DataType, Validator
from govshare.catalog.models import DataElement, Resource
from govshare.core.errors import ValidationFailed
from govshare.core.identifiers import (
    IdentifierError,
    validate_org_code,
    validate_region_code,
    validate_resident_id,
    validate_uscc,
)

KEY_MAX_LENGTH = 128  # DatasetRecord.key
# Excel keeps 15 significant digits: a longer number typed into a General cell has lost digits.
EXCEL_DIGITS = 15
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"})

Checker = Callable[[Any], "str | None"]


class CellError(ValueError):
    """One value failed its checks; ``reason`` is shown to the user (Chinese with English)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Column:
    """One data item of the published version, with what its data element adds."""

    column_name: str
    name: str
    data_type: str
    length: int | None
    required: bool
    is_key: bool
    element_code: str
    element_name: str = ""
    validator: str = ""
    pattern: str = ""
    enum_values: tuple[Any, ...] = ()
    level: int = 1  # sensitivity L1-L4: the item's, never below its data element's (L4 is sealed at rest)


def columns_for(resource: Resource) -> list[Column]:
    """Columns of the resource's *published* version (the working copy may be a revision in progress)."""
    version = resource.published_version
    if version is None:
        raise ValidationFailed("资源尚未发布，不能挂接 (the resource has no published version)", field="resource")
    items: list[dict[str, Any]] = list(version.snapshot.get("items", []))
    elements = {e.code: e for e in DataElement.objects.filter(code__in=[i["element_code"] for i in items])}
    out: list[Column] = []
    for item in items:
        el = elements.get(item["element_code"])
        out.append(Column(
            column_name=str(item["column_name"]), name=str(item["name"]), data_type=str(item["data_type"]),
            length=item.get("length"), required=bool(item.get("required")) or bool(item.get("is_key")),
            is_key=bool(item.get("is_key")), element_code=str(item["element_code"]),
            element_name=el.name if el else "", validator=el.validator if el else "",
            pattern=el.format if el else "", enum_values=tuple(el.enum_values or ()) if el else (),
            level=max(int(item.get("sensitivity") or 1), int(el.sensitivity or 1) if el else 1),
        ))
    return out


# ---------------------------------------------------------------------------------------------
# Value converters: raw value -> normalised string (or None when empty). Raise CellError.
# ---------------------------------------------------------------------------------------------


def _check_text(s: str) -> str:
    if "\x00" in s:
        raise CellError("含有空字符 NUL (contains a NUL character)")
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise CellError("含有无效的 Unicode 字符 (contains invalid Unicode)") from None
    return s


def _number_text(v: int | float) -> str:
    if isinstance(v, int):
        return str(v)
    if v != v or v in (float("inf"), float("-inf")):
        raise CellError("不是有限数值 (not a finite number)")
    if not v.is_integer():
        return repr(v)
    if abs(v) >= 10**EXCEL_DIGITS:
        # A float this large comes from a spreadsheet cell typed as a number: digits are already lost.
        raise CellError(f"超过{EXCEL_DIGITS}位的数字在 Excel 中会丢失精度，请将该列设为文本格式 "
                        f"(numbers over {EXCEL_DIGITS} digits lose precision in Excel; format the column as text)")
    return str(int(v))


def to_text(v: Any) -> str | None:
    """Any raw value as stripped text; ``None`` for empty."""
    if type(v) is str:  # the common case first, cheapest checks first
        s = v.strip()
        if not s:
            return None
        if s.isascii():
            if s[0] == "#" and s in EXCEL_ERRORS:
                raise CellError(f"单元格为 Excel 错误值 {s} (an Excel error value)")
            if "\x00" in s:
                raise CellError("含有空字符 NUL (contains a NUL character)")
            return s
        return _check_text(s)
    if v is None:
        return None
    if isinstance(v, str):  # a str subclass
        return to_text(str(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return _number_text(v)
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dict | list):
        raise CellError("不支持嵌套的对象或数组 (nested objects or arrays are not supported)")
    raise CellError(f"不支持的值类型 {type(v).__name__} (unsupported value type)")


_INT_RE = re.compile(r"[+-]?[0-9]+")


def _to_integer(v: Any) -> str | None:
    if isinstance(v, bool):
        raise CellError("应为整数 (must be an integer)")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = to_text(v)
    if s is None:
        return None
    s = s.replace(",", "") if "," in s else s
    if not _INT_RE.fullmatch(s):
        raise CellError("应为整数 (must be an integer)")
    return str(int(s))


def _to_decimal(v: Any) -> str | None:
    if isinstance(v, bool):
        raise CellError("应为数值 (must be a number)")
    s = repr(v) if isinstance(v, float) else to_text(v)
    if s is None:
        return None
    try:
        d = Decimal(s.replace(",", ""))
    except InvalidOperation:
        raise CellError("应为数值 (must be a number)") from None
    if not d.is_finite():
        raise CellError("应为有限数值 (must be a finite number)")
    return format(d, "f")


_DATE_RES = (
    re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"),
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"),
    re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})"),
    re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日"),
)
_MIDNIGHT = re.compile(r"[ T]00:00(:00(\.0+)?)?")
_DATE_HINT = "日期格式应为 YYYY-MM-DD 或 YYYYMMDD (date must be YYYY-MM-DD or YYYYMMDD)"


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _to_date(v: Any) -> str | None:
    if type(v) is str:  # fast paths: YYYY-MM-DD and YYYYMMDD as they are
        try:
            if len(v) == 10 and _ISO_DATE.fullmatch(v):
                dt.date(int(v[:4]), int(v[5:7]), int(v[8:]))
                return v
            if len(v) == 8 and v.isascii() and v.isdigit():
                return dt.date(int(v[:4]), int(v[4:6]), int(v[6:])).isoformat()
        except ValueError:
            raise CellError(f"{v} 不是有效日期 (not a valid calendar date)") from None
    if isinstance(v, dt.datetime):
        if v.time() != dt.time(0):
            raise CellError("日期不应带时间 (a date must not carry a time of day)")
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = _number_text(v)  # 20240131 typed as a number
    s = to_text(v)
    if s is None:
        return None
    if len(s) > 10 and _MIDNIGHT.fullmatch(s[10:]):
        s = s[:10]  # "2024-01-31 00:00:00", as spreadsheets export dates
    for rx in _DATE_RES:
        m = rx.fullmatch(s)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            except ValueError:
                raise CellError(f"{s} 不是有效日期 (not a valid calendar date)") from None
    raise CellError(_DATE_HINT)


def _zone() -> dt.tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


def _to_datetime_factory() -> Checker:
    zone = _zone()

    def to_datetime(v: Any) -> str | None:
        if isinstance(v, dt.datetime):
            value = v
        elif isinstance(v, dt.date):
            value = dt.datetime.combine(v, dt.time(0))
        else:
            s = to_text(v)
            if s is None:
                return None
            if len(s) == 14 and s.isdigit():  # YYYYMMDDHHMMSS
                s = f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:]}"
            elif len(s) >= 10 and s[4] == "/" and "/" in s[5:8]:
                date_part, _, rest = s.partition(" ")
                y, mo, d = date_part.split("/", 2)
                s = f"{y}-{mo.zfill(2)}-{d.zfill(2)}" + (f"T{rest}" if rest else "")
            try:
                value = dt.datetime.fromisoformat(s)
            except ValueError:
                raise CellError("日期时间格式应为 YYYY-MM-DD HH:MM:SS (datetime must be ISO 8601)") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)  # naive times are local (Asia/Shanghai)
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")

    return to_datetime


_TRUE = frozenset({"是", "true", "1", "yes", "y", "t"})
_FALSE = frozenset({"否", "false", "0", "no", "n", "f"})


def _to_boolean(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    s = to_text(v)
    if s is None:
        return None
    low = s.lower()
    if low in _TRUE:
        return "true"
    if low in _FALSE:
        return "false"
    raise CellError("应为 是/否、true/false 或 1/0 (must be a boolean: 是/否, true/false, 1/0)")


def _enum_table(values: Sequence[Any]) -> dict[str, str]:
    """Accepted spellings → stored code. Values are strings, ``{"code", "name"}`` objects or pairs."""
    table: dict[str, str] = {}
    for v in values:
        if isinstance(v, dict):
            code = str(v.get("code", v.get("value", "")))
            label = str(v.get("name", v.get("label", v.get("text", ""))))
        elif isinstance(v, list | tuple) and len(v) == 2:
            code, label = str(v[0]), str(v[1])
        else:
            code = label = str(v)
        if code:
            table[code] = code
            if label:
                table.setdefault(label, code)
    return table


# ---------------------------------------------------------------------------------------------
# Element validators (数据元校验规则)
# ---------------------------------------------------------------------------------------------

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")


def _identifier(fn: Callable[[str], str], label: str) -> Callable[[str], str]:
    def check(s: str) -> str:
        try:
            return fn(s)
        except IdentifierError as exc:
            raise CellError(f"{label}{exc.message}") from None

    return check


_RID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_ASCII_BIAS = 48 * sum(_RID_WEIGHTS)  # the weighted sum of the digits' ASCII codes minus this
_RID_CHECK = "10X98765432"
_RID_MIN_BIRTH = dt.date(1900, 1, 1)


def _resident_id_checker(today: dt.date) -> Callable[[str], str]:
    """``validate_resident_id`` with a fast path for the common case (an already clean, valid number).

    The fast path only ever *accepts*: 18 ASCII characters ``[0-9]{17}[0-9X]`` (so ``validate_resident_id``
    would normalise it to itself), a real birth date from 1900-01-01 to today, and the right MOD 11-2
    check character — the same rules as :func:`govshare.core.identifiers.validate_resident_id`, whose
    checksum loop is the slowest part of a 100k-row load. Anything else goes to the core validator,
    which decides and words the reason. A property test holds the two to the same answers.
    """
    slow = _identifier(lambda s: validate_resident_id(s, today=today), "身份证号")

    def check(s: str) -> str:
        if len(s) == 18 and _RID_SHAPE.fullmatch(s):
            total = sum(map(operator.mul, s[:17].encode(), _RID_WEIGHTS)) - _RID_ASCII_BIAS
            if _RID_CHECK[total % 11] == s[17]:
                try:
                    birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
                except ValueError:
                    return slow(s)
                if _RID_MIN_BIRTH <= birth <= today:
                    return s
        return slow(s)

    return check


def _validator_for(col: Column, today: dt.date) -> Callable[[str], str] | None:
    kind = col.validator
    if kind == Validator.RESIDENT_ID:
        return _resident_id_checker(today)
    if kind == Validator.USCC:
        return _identifier(validate_uscc, "统一社会信用代码")
    if kind == Validator.ORG_CODE:
        return _identifier(validate_org_code, "组织机构代码")
    if kind == Validator.REGION_CODE:
        return _identifier(validate_region_code, "行政区划代码")  # format only: codes change over time
    if kind == Validator.MOBILE:
        def mobile(s: str) -> str:
            if not _MOBILE_RE.fullmatch(s):
                raise CellError("手机号码应为以1开头的11位数字 (mobile must be 11 digits starting with 1[3-9])")
            return s

        return mobile
    if kind == Validator.REGEX and col.pattern:
        try:
            rx = re.compile(col.pattern)
        except re.error as exc:
            raise ValidationFailed(f"数据元 {col.element_code} 的正则表达式无效 (invalid regular expression): {exc}",
                                   field="items") from exc

        def regex(s: str) -> str:
            if not rx.fullmatch(s):
                raise CellError(f"不符合格式 {col.pattern} (does not match the element's format)")
            return s

        return regex
    return None


# Validators that accept nothing longer than this: a declared length at least as large adds no check.
_VALIDATOR_MAX_LENGTH: dict[str, int] = {Validator.RESIDENT_ID: 18, Validator.USCC: 18, Validator.MOBILE: 11,
                         Validator.REGION_CODE: 6, Validator.ORG_CODE: 9}
_LENGTH_TYPES = frozenset({DataType.STRING, DataType.ENUM, DataType.INTEGER, DataType.DECIMAL})


def build_checker(col: Column, *, today: dt.date | None = None) -> Checker:
    """One closure per column: convert by type, check enumeration, length and the element's validator."""
    dtype = col.data_type
    convert: Checker
    if dtype == DataType.INTEGER:
        convert = _to_integer
    elif dtype == DataType.DECIMAL:
        convert = _to_decimal
    elif dtype == DataType.DATE:
        convert = _to_date
    elif dtype == DataType.DATETIME:
        convert = _to_datetime_factory()
    elif dtype == DataType.BOOLEAN:
        convert = _to_boolean
    else:
        convert = to_text
    enum = _enum_table(col.enum_values) if col.enum_values else None
    enum_hint = "、".join(list(dict.fromkeys(enum.values()))[:12]) if enum else ""
    # An enumeration's allowed values are authoritative (性别 is declared length 1 yet allows 未知).
    length = col.length if col.length and dtype in _LENGTH_TYPES and enum is None else None
    validate = _validator_for(col, today or dt.datetime.now(_zone()).date())
    steps: list[Callable[[str], str]] = []
    if enum is not None:
        def in_enum(s: str) -> str:
            code = enum.get(s)
            if code is None:
                raise CellError(f"不在取值范围内（{enum_hint}）(not one of the allowed values)")
            return code

        steps.append(in_enum)
    if length is not None and _VALIDATOR_MAX_LENGTH.get(col.validator, length + 1) > length:
        steps.append(_max_length(length, "长度 {n} 超过 {limit} 个字符 (longer than {limit} characters)"))
    if validate is not None:
        steps.append(validate)
    bounds = [b for b in (length, _VALIDATOR_MAX_LENGTH.get(col.validator)) if b]
    if col.is_key and (not bounds or min(bounds) > KEY_MAX_LENGTH):
        steps.append(_max_length(KEY_MAX_LENGTH, "主键长度 {n} 超过 {limit} (key longer than {limit} characters)"))
    return _compose(convert, steps)


def _max_length(limit: int, message: str) -> Callable[[str], str]:
    def within(s: str) -> str:
        if len(s) > limit:
            raise CellError(message.format(n=len(s), limit=limit))
        return s

    return within


def _compose(convert: Checker, steps: Sequence[Callable[[str], str]]) -> Checker:
    """One closure per column; the usual shapes (no step, one step) avoid the loop."""
    if not steps:
        return convert
    if len(steps) == 1:
        step = steps[0]

        def check1(raw: Any) -> str | None:
            s = convert(raw)
            return None if s is None else step(s)

        return check1

    def check(raw: Any) -> str | None:
        s = convert(raw)
        if s is None:
            return None
        for f in steps:
            s = f(s)
        return s

    return check


@dataclass(frozen=True)
class CellProblem:
    index: int  # column index
    reason: str


class RowValidator:
    """Validates rows given as value sequences aligned with ``columns``."""

    def __init__(self, columns: Sequence[Column], *, today: dt.date | None = None) -> None:
        self.columns = list(columns)
        keys = [i for i, c in enumerate(self.columns) if c.is_key]
        if len(keys) != 1:
            raise ValidationFailed("挂接需要恰好一个主键信息项 (mounting needs exactly one key item)", field="items")
        self.key_index = keys[0]
        self._plan = [(i, c.column_name, build_checker(c, today=today), c.required)
                      for i, c in enumerate(self.columns)]
        self._names = [c.column_name for c in self.columns]
        self._checks = [check for _, _, check, _ in self._plan]
        self._required = [c.column_name for c in self.columns if c.required]

    def validate(self, values: Sequence[Any]) -> tuple[dict[str, str | None], list[CellProblem]]:
        """(normalised row, problems). The fast path assumes a good row and falls back on any doubt."""
        try:
            data = {name: check(v) for name, check, v in zip(self._names, self._checks, values, strict=True)}
        except (CellError, ValueError):
            return self._validate_slowly(values)
        for name in self._required:
            if data[name] is None:
                return self._validate_slowly(values)
        return data, []

    def _validate_slowly(self, values: Sequence[Any]) -> tuple[dict[str, str | None], list[CellProblem]]:
        data: dict[str, str | None] = {}
        problems: list[CellProblem] = []
        for i, name, check, required in self._plan:
            try:
                v = check(values[i])
            except CellError as exc:
                problems.append(CellProblem(i, exc.reason))
                data[name] = None
                continue
            if v is None and required:
                problems.append(CellProblem(i, "必填项为空 (required value is missing)"))
            data[name] = v
        return data, problems
