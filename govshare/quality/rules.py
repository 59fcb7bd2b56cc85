"""The quality-rule engine (质量规则引擎): pure functions, no database.

A rule checks one column (信息项) of a record, or — for the cross-field rule — several columns of the same
record. Rules come from two places:

- *built-in* rules derived from each column's data item and data element (数据元): required, type, length,
  enumeration and the element's validator (身份证号 / 统一社会信用代码 / 组织机构代码 checksums, 行政区划代码
  existence, 手机号码 and the element's own regular expression). They need no configuration.
- *configured* rules (:class:`ConfiguredRule`, stored as ``QualityRule``) attached to a data element (they
  apply to every column carrying it) or to one column of one resource. They add to the built-in rules.

:func:`rule_specs` turns both into :class:`RuleSpec` objects for one resource's columns; :func:`compile_rules`
turns those into an :class:`Evaluator` whose :meth:`~Evaluator.evaluate` returns the failures of one record.

Records are the stored, normalised form (``govshare.datasets.validation``): every value a string or ``None``.
Failure messages never contain a value (they may be personal data): they say what is wrong, not what was there.

Regular expressions from rules are guarded (:func:`check_pattern`): a length limit, a compile check, no
back-references, and no variable repetition nested inside another variable repetition or around an
alternation (the shapes that make a backtracking matcher take exponential time); values longer than
:data:`PATTERN_MAX_VALUE` are not matched at all.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from govshare.core.identifiers import (
    IdentifierError,
    validate_org_code,
    validate_region_code,
    validate_resident_id,
    validate_uscc,
)
from govshare.quality.choices import IdentifierKind, RuleKind
from govshare.quality.rule_params import (
    DATA_TYPES,
    PATTERN_MAX_LENGTH,
    RuleError,
    check_pattern,
    enum_codes,
    validate_params,
)

PATTERN_MAX_VALUE = 1000
BUILTIN = "builtin"

__all__ = ["BUILTIN", "PATTERN_MAX_LENGTH", "PATTERN_MAX_VALUE", "ColumnInfo", "ConfiguredRule", "Evaluator",
           "Failure", "Regions", "RuleError", "RuleSpec", "builtin_specs", "check_pattern", "compile_rules",
           "compile_spec", "configured_specs", "gender_of", "resident_id_facts", "rule_specs", "validate_params"]

Row = Mapping[str, Any]


@dataclass(frozen=True)
class ColumnInfo:
    """What the engine needs to know about one column (a published data item and its data element)."""

    column_name: str
    data_type: str = "string"
    length: int | None = None
    required: bool = False
    is_key: bool = False
    element_code: str = ""
    validator: str = ""
    pattern: str = ""
    enum_values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ConfiguredRule:
    """A configured rule as the engine sees it: attached to a data element or to one column."""

    rule_id: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    element_code: str = ""
    column: str = ""
    message: str = ""


@dataclass(frozen=True)
class RuleSpec:
    """One rule applied to one column. ``key`` names the rule in failures: ``builtin:<kind>`` for built-in
    rules, ``rule:<id>`` for configured ones (``rule_id`` then holds the id)."""

    key: str
    kind: str
    column: str
    params: Mapping[str, Any] = field(default_factory=dict)
    rule_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class Failure:
    column: str
    rule_key: str
    kind: str
    message: str
    rule_id: str = ""


# ---------------------------------------------------------------------------------------------
# Specs: built-in and configured rules for one resource's columns
# ---------------------------------------------------------------------------------------------

_LENGTH_TYPES = frozenset({"string", "enum", "integer", "decimal"})
_VALIDATOR_IDENTIFIER = {"resident_id": IdentifierKind.RESIDENT_ID, "uscc": IdentifierKind.USCC,
                         "org_code": IdentifierKind.ORG_CODE}
_MOBILE = r"1[3-9][0-9]{9}"


def builtin_specs(columns: Sequence[ColumnInfo]) -> list[RuleSpec]:
    """Rules every column gets from its data item and data element, without configuration."""
    out: list[RuleSpec] = []
    for c in columns:
        def add(kind: str, params: Mapping[str, Any] | None = None, col: ColumnInfo = c) -> None:
            out.append(RuleSpec(key=f"{BUILTIN}:{kind}", kind=kind, column=col.column_name, params=params or {}))

        if c.required or c.is_key:
            add(RuleKind.REQUIRED)
        if c.data_type in DATA_TYPES and c.data_type not in ("string", "enum"):
            add(RuleKind.TYPE, {"data_type": c.data_type})
        codes = enum_codes(c.enum_values) if c.enum_values else []
        if codes:
            add(RuleKind.ENUMERATION, {"values": codes})
        elif c.length and c.data_type in _LENGTH_TYPES:
            add(RuleKind.LENGTH, {"min": None, "max": c.length})
        if c.validator in _VALIDATOR_IDENTIFIER:
            add(RuleKind.IDENTIFIER, {"identifier": _VALIDATOR_IDENTIFIER[c.validator]})
        elif c.validator == "region_code":
            add(RuleKind.REGION_CODE, {"current_only": False})
        elif c.validator == "mobile":
            add(RuleKind.PATTERN, {"regex": _MOBILE})
        elif c.validator == "regex" and c.pattern:
            try:
                check_pattern(c.pattern)
            except RuleError:
                continue  # an unsafe dictionary pattern is not run here (uploads still validate against it)
            add(RuleKind.PATTERN, {"regex": c.pattern})
    return out


def _resolve(ref: str, columns: Sequence[ColumnInfo]) -> str | None:
    """A cross-field reference: a column name of this resource, else the column carrying that element."""
    for c in columns:
        if c.column_name == ref:
            return c.column_name
    for c in columns:
        if c.element_code and c.element_code == ref:
            return c.column_name
    return None


def configured_specs(rules: Iterable[ConfiguredRule], columns: Sequence[ColumnInfo]) -> list[RuleSpec]:
    """Configured rules resolved against one resource's columns. A rule attached to a data element applies
    to every column carrying it; a cross-field rule whose columns are missing here does not apply."""
    out: list[RuleSpec] = []
    for r in rules:
        if r.column:
            targets = [c for c in columns if c.column_name == r.column]
        elif r.element_code:
            targets = [c for c in columns if c.element_code == r.element_code]
        else:
            targets = []
        for c in targets:
            params: dict[str, Any] = dict(r.params)
            if r.kind == RuleKind.CROSS_FIELD:
                params = {}
                for name in ("birth", "gender"):
                    ref = r.params.get(name)
                    resolved = _resolve(str(ref), columns) if ref else None
                    if resolved and resolved != c.column_name:
                        params[name] = resolved
                if not params:
                    continue
            out.append(RuleSpec(key=f"rule:{r.rule_id}", kind=r.kind, column=c.column_name, params=params,
                                rule_id=r.rule_id, message=r.message))
    return out


def rule_specs(columns: Sequence[ColumnInfo], configured: Iterable[ConfiguredRule] = ()) -> list[RuleSpec]:
    return builtin_specs(columns) + configured_specs(configured, columns)


# ---------------------------------------------------------------------------------------------
# Checks: value (str, never empty) -> reason or None
# ---------------------------------------------------------------------------------------------

ValueCheck = Callable[[str], "str | None"]

_INT_RE = re.compile(r"[+-]?[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _as_date(s: str) -> dt.date | None:
    head = s[:10]
    if not _ISO_DATE.fullmatch(head) or (len(s) > 10 and s[10] not in "T "):
        return None
    try:
        return dt.date.fromisoformat(head)
    except ValueError:
        return None


def _type_check(data_type: str) -> ValueCheck:
    def integer(s: str) -> str | None:
        return None if _INT_RE.fullmatch(s) else "应为整数 (must be an integer)"

    def decimal(s: str) -> str | None:
        try:
            ok = Decimal(s).is_finite()
        except InvalidOperation:
            ok = False
        return None if ok else "应为数值 (must be a number)"

    def date(s: str) -> str | None:
        return None if len(s) == 10 and _as_date(s) else "应为日期 YYYY-MM-DD (must be a date YYYY-MM-DD)"

    def datetime(s: str) -> str | None:
        try:
            dt.datetime.fromisoformat(s)
        except ValueError:
            return "应为日期时间 (must be an ISO 8601 date-time)"
        return None

    def boolean(s: str) -> str | None:
        return None if s in ("true", "false") else "应为 true 或 false (must be a boolean)"

    checks: dict[str, ValueCheck] = {"integer": integer, "decimal": decimal, "date": date,
                                     "datetime": datetime, "boolean": boolean}
    return checks.get(data_type, lambda s: None)


def _length_check(lo: int | None, hi: int | None) -> ValueCheck:
    def check(s: str) -> str | None:
        n = len(s)
        if hi is not None and n > hi:
            return f"长度 {n} 超过 {hi} 个字符 (longer than {hi} characters)"
        if lo is not None and n < lo:
            return f"长度 {n} 少于 {lo} 个字符 (shorter than {lo} characters)"
        return None

    return check


def _enum_check(values: Sequence[str]) -> ValueCheck:
    allowed = frozenset(values)
    hint = "、".join(values[:12]) + ("…" if len(values) > 12 else "")

    def check(s: str) -> str | None:
        return None if s in allowed else f"不在取值范围内（{hint}）(not one of the allowed values)"

    return check


def _pattern_check(regex: str) -> ValueCheck:
    rx = check_pattern(regex)

    def check(s: str) -> str | None:
        if len(s) > PATTERN_MAX_VALUE:
            return f"值超过 {PATTERN_MAX_VALUE} 个字符，不做格式匹配 (too long to match the pattern)"
        return None if rx.fullmatch(s) else "不符合规定格式 (does not match the required pattern)"

    return check


# Fixed reasons per IdentifierError code: the library's own messages may quote parts of the value.
_ID_REASONS = {
    "empty": "为空 (empty)",
    "length": "长度不正确 (wrong length)",
    "format": "格式不正确 (wrong format)",
    "checksum": "校验位错误 (bad check digit)",
    "birth_date": "出生日期部分无效 (impossible birth date)",
    "region": "行政区划部分无效 (invalid region part)",
}
_ID_LABELS = {IdentifierKind.RESIDENT_ID: "身份证号", IdentifierKind.USCC: "统一社会信用代码",
              IdentifierKind.ORG_CODE: "组织机构代码"}


_RID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_ASCII_BIAS = 48 * sum(_RID_WEIGHTS)
_RID_CHECK = "10X98765432"
_MIN_BIRTH = dt.date(1900, 1, 1)


def _fast_resident_id(s: str, today: dt.date) -> dt.date | None:
    """The birth date of an already clean, valid 身份证号, or None when the slow path must decide. Accepts only
    what ``validate_resident_id`` accepts unchanged (a property test holds the two together)."""
    if len(s) != 18 or not _RID_SHAPE.fullmatch(s):
        return None
    total = sum(map(operator.mul, s[:17].encode(), _RID_WEIGHTS)) - _RID_ASCII_BIAS
    if _RID_CHECK[total % 11] != s[17]:
        return None
    try:
        birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None
    return birth if _MIN_BIRTH <= birth <= today else None


def _identifier_check(kind: str, today: dt.date) -> ValueCheck:
    validate: Callable[[str], str]
    if kind == IdentifierKind.RESIDENT_ID:
        def validate(s: str) -> str:
            if _fast_resident_id(s, today) is not None:
                return s
            return validate_resident_id(s, today=today)
    elif kind == IdentifierKind.USCC:
        validate = validate_uscc
    else:
        validate = validate_org_code
    label = _ID_LABELS.get(IdentifierKind(kind), kind)

    def check(s: str) -> str | None:
        try:
            validate(s)
        except IdentifierError as exc:
            return f"{label}{_ID_REASONS.get(exc.code, _ID_REASONS['format'])}"
        return None

    return check


def _date_range_check(lo: str | None, hi: str | None, today: dt.date) -> ValueCheck:
    low = today if lo == "today" else dt.date.fromisoformat(lo) if lo else None
    high = today if hi == "today" else dt.date.fromisoformat(hi) if hi else None

    def check(s: str) -> str | None:
        d = _as_date(s)
        if d is None:
            return "不是有效日期 (not a date)"
        if low is not None and d < low:
            return f"早于 {low.isoformat()} (before {low.isoformat()})"
        if high is not None and d > high:
            return f"晚于 {high.isoformat()} (after {high.isoformat()})"
        return None

    return check


@dataclass(frozen=True)
class Regions:
    """The GB/T 2260 region table as the engine sees it: every known code, and which are current."""

    known: frozenset[str] = frozenset()
    current: frozenset[str] = frozenset()


def _region_check(regions: Regions, current_only: bool) -> ValueCheck:
    """Structure always; existence against the region table when it is loaded (an installation without the
    GB/T 2260 table checks the structure only, rather than failing every code)."""
    table = regions.current if current_only else regions.known
    known = table.__contains__ if regions.known else None

    def check(s: str) -> str | None:
        try:
            validate_region_code(s, known=known)
        except IdentifierError as exc:
            if exc.code != "region":
                return f"行政区划代码{_ID_REASONS.get(exc.code, _ID_REASONS['format'])}"
            if current_only and s in regions.known:
                return "行政区划代码已撤销 (the region code is retired)"
            return "行政区划代码不存在 (unknown region code)"
        return None

    return check


# 性别: GB/T 2261.1 codes and the catalog's Chinese values.
_MALE = frozenset({"男", "1", "male", "M"})
_FEMALE = frozenset({"女", "2", "female", "F"})


def resident_id_facts(value: str | None, today: dt.date) -> tuple[dt.date, str] | None:
    """(birth date, "male"/"female") encoded in a valid 身份证号, else None."""
    if not value:
        return None
    birth = _fast_resident_id(value, today)
    if birth is not None:
        return birth, ("male" if int(value[16]) % 2 else "female")
    try:
        v = validate_resident_id(value, today=today)
    except IdentifierError:
        return None
    return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14])), ("male" if int(v[16]) % 2 else "female")


def gender_of(value: str | None) -> str | None:
    if value in _MALE:
        return "male"
    if value in _FEMALE:
        return "female"
    return None  # empty, 未知, 未说明: nothing to compare


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------

RowCheck = Callable[[Row], "list[Failure]"]


def _value_rule(spec: RuleSpec, check: ValueCheck) -> RowCheck:
    column, key, kind, rid, custom = spec.column, spec.key, spec.kind, spec.rule_id, spec.message

    def run(row: Row) -> list[Failure]:
        v = row.get(column)
        if v is None or v == "":
            return []
        reason = check(v if isinstance(v, str) else str(v))
        return [] if reason is None else [Failure(column, key, kind, custom or reason, rid)]

    return run


def _required_rule(spec: RuleSpec) -> RowCheck:
    column, key, rid = spec.column, spec.key, spec.rule_id
    reason = spec.message or "必填项为空 (required value is missing)"

    def run(row: Row) -> list[Failure]:
        v = row.get(column)
        return [Failure(column, key, RuleKind.REQUIRED, reason, rid)] if v is None or v == "" else []

    return run


def _cross_field_rule(spec: RuleSpec, today: dt.date) -> RowCheck:
    id_col, key, rid = spec.column, spec.key, spec.rule_id
    birth_col, gender_col = spec.params.get("birth"), spec.params.get("gender")

    def run(row: Row) -> list[Failure]:
        facts = resident_id_facts(row.get(id_col), today)
        if facts is None:  # no or invalid 身份证号: its own identifier rule reports that
            return []
        out: list[Failure] = []
        if birth_col:
            b = row.get(birth_col)
            if b not in (None, "") and _as_date(str(b)) != facts[0]:
                out.append(Failure(str(birth_col), key, RuleKind.CROSS_FIELD, spec.message or
                                   "出生日期与身份证号不一致 (birth date disagrees with the 身份证号)", rid))
        if gender_col:
            g = gender_of(row.get(gender_col))
            if g is not None and g != facts[1]:
                out.append(Failure(str(gender_col), key, RuleKind.CROSS_FIELD, spec.message or
                                   "性别与身份证号不一致 (gender disagrees with the 身份证号)", rid))
        return out

    return run


def compile_spec(spec: RuleSpec, *, today: dt.date, regions: Regions) -> RowCheck:
    p = spec.params
    kind = spec.kind
    if kind == RuleKind.REQUIRED:
        return _required_rule(spec)
    if kind == RuleKind.CROSS_FIELD:
        return _cross_field_rule(spec, today)
    check: ValueCheck
    if kind == RuleKind.TYPE:
        check = _type_check(str(p.get("data_type", "string")))
    elif kind == RuleKind.LENGTH:
        check = _length_check(p.get("min"), p.get("max"))
    elif kind == RuleKind.ENUMERATION:
        check = _enum_check(list(p.get("values", [])))
    elif kind == RuleKind.PATTERN:
        check = _pattern_check(str(p.get("regex", "")))
    elif kind == RuleKind.IDENTIFIER:
        check = _identifier_check(str(p.get("identifier")), today)
    elif kind == RuleKind.DATE_RANGE:
        check = _date_range_check(p.get("min"), p.get("max"), today)
    elif kind == RuleKind.REGION_CODE:
        check = _region_check(regions, bool(p.get("current_only")))
    else:
        raise RuleError(f"未知的规则类型 {kind} (unknown rule kind)", field="kind")
    return _value_rule(spec, check)


class Evaluator:
    """Compiled rules of one resource. ``evaluate(row)`` lists the row's failures, at most one per (column,
    rule); a configured rule that cannot be compiled any more (e.g. after a guard was tightened) is skipped
    and listed in ``skipped``."""

    def __init__(self, specs: Sequence[RuleSpec], *, today: dt.date, regions: Regions | None = None) -> None:
        self.specs = list(specs)
        self.skipped: list[RuleSpec] = []
        self._checks: list[RowCheck] = []
        for spec in self.specs:
            try:
                self._checks.append(compile_spec(spec, today=today, regions=regions or Regions()))
            except (RuleError, ValueError):
                self.skipped.append(spec)

    def evaluate(self, row: Row) -> list[Failure]:
        out: list[Failure] = []
        seen: set[tuple[str, str]] = set()
        for check in self._checks:
            for f in check(row):
                if (f.column, f.rule_key) not in seen:
                    seen.add((f.column, f.rule_key))
                    out.append(f)
        return out


def compile_rules(columns: Sequence[ColumnInfo], configured: Iterable[ConfiguredRule] = (), *,
                  today: dt.date, regions: Regions | None = None) -> Evaluator:
    return Evaluator(rule_specs(columns, configured), today=today, regions=regions)
