"""Configured rules' parameters (质量规则参数): validation and the regular-expression guard. Pure functions.

Regular expressions from rules are guarded (:func:`check_pattern`): a length limit, a compile check, no
back-references, and no variable repetition nested inside another variable repetition or around an
alternation (the shapes that make a backtracking matcher take exponential time).
"""

from __future__ import annotations

import datetime as dt
import re

# Python 3.11+: the regular-expression parser is re._parser (sre_parse is a deprecated alias of it).
import re._constants as _sre_c
import re._parser as _sre_p
from collections.abc import Iterable, Mapping
from typing import Any

from govshare.quality.choices import IdentifierKind, RuleKind

PATTERN_MAX_LENGTH = 200
ENUM_MAX_VALUES = 500
DATA_TYPES = ("string", "integer", "decimal", "date", "datetime", "boolean", "enum")


class RuleError(ValueError):
    """A rule's configuration is unusable. ``field`` names the offending parameter."""

    def __init__(self, message: str, *, field: str = "params") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# ---------------------------------------------------------------------------------------------
# Regular-expression guard
# ---------------------------------------------------------------------------------------------

_REPEATS = {_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT}
if hasattr(_sre_c, "POSSESSIVE_REPEAT"):
    _REPEATS.add(_sre_c.POSSESSIVE_REPEAT)


def _walk_pattern(items: Any, inside_variable: bool) -> None:
    for op, av in items:
        if op in _REPEATS:
            lo, hi, sub = av
            variable = lo != hi
            if variable and inside_variable:
                raise RuleError("正则表达式含有嵌套的可变重复，可能导致回溯爆炸 (nested variable repetition is not "
                                "allowed: it can take exponential time)", field="params.regex")
            _walk_pattern(sub, inside_variable or variable)
        elif op == _sre_c.BRANCH:
            if inside_variable:
                raise RuleError("正则表达式在可变重复中含有分支 (|)，请改用字符类 (alternation inside a variable "
                                "repetition is not allowed: use a character class)", field="params.regex")
            for branch in av[1]:
                _walk_pattern(branch, inside_variable)
        elif op in (_sre_c.GROUPREF, _sre_c.GROUPREF_EXISTS):
            raise RuleError("正则表达式不允许反向引用 (back-references are not allowed)", field="params.regex")
        elif op == _sre_c.SUBPATTERN:
            _walk_pattern(av[-1], inside_variable)
        elif op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            _walk_pattern(av[1], inside_variable)
        elif hasattr(_sre_c, "ATOMIC_GROUP") and op == _sre_c.ATOMIC_GROUP:
            _walk_pattern(av, inside_variable)


def check_pattern(pattern: Any) -> re.Pattern[str]:
    """Compile a rule's regular expression after the guard checks (see the module docstring)."""
    if not isinstance(pattern, str) or not pattern:
        raise RuleError("须给出正则表达式 (a regular expression is required)", field="params.regex")
    if len(pattern) > PATTERN_MAX_LENGTH:
        raise RuleError(f"正则表达式超过 {PATTERN_MAX_LENGTH} 个字符 (longer than {PATTERN_MAX_LENGTH} characters)",
                        field="params.regex")
    try:
        compiled = re.compile(pattern)
        _walk_pattern(_sre_p.parse(pattern), False)
    except re.error as exc:
        raise RuleError(f"正则表达式无效 (invalid regular expression): {exc}", field="params.regex") from None
    except RecursionError:
        raise RuleError("正则表达式嵌套过深 (nested too deeply)", field="params.regex") from None
    return compiled


# ---------------------------------------------------------------------------------------------
# Parameter validation (for configured rules)
# ---------------------------------------------------------------------------------------------


def _int_param(params: Mapping[str, Any], name: str) -> int | None:
    v = params.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1_000_000:
        raise RuleError(f"{name} 须为 0 到 1000000 之间的整数 (must be an integer 0–1000000)", field=f"params.{name}")
    return v


def _date_bound(value: Any, name: str) -> str | None:
    """A date bound: ``YYYY-MM-DD`` or ``today`` (evaluated on the day of the run)."""
    if value is None or value == "":
        return None
    if value == "today":
        return "today"
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise RuleError(f"{name} 须为 YYYY-MM-DD 或 today (must be a date or 'today')", field=f"params.{name}")


def enum_codes(values: Iterable[Any]) -> list[str]:
    """Stored codes of an enumeration: strings, ``{"code", "name"}`` objects or pairs (as in the catalog)."""
    out: list[str] = []
    for v in values:
        if isinstance(v, dict):
            code = str(v.get("code", v.get("value", "")))
        elif isinstance(v, list | tuple) and len(v) == 2:
            code = str(v[0])
        else:
            code = str(v)
        if code and code not in out:
            out.append(code)
    return out


_REF_RE = re.compile(r"[A-Za-z0-9_]{1,64}")


def validate_params(kind: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The normalised parameters of a configured rule, or :class:`RuleError`."""
    p = dict(params or {})
    if kind not in RuleKind.values:
        raise RuleError(f"未知的规则类型 {kind} (unknown rule kind)", field="kind")
    if kind == RuleKind.REQUIRED:
        return {}
    if kind == RuleKind.TYPE:
        if p.get("data_type") not in DATA_TYPES:
            raise RuleError(f"data_type 须为 {'、'.join(DATA_TYPES)} 之一", field="params.data_type")
        return {"data_type": p["data_type"]}
    if kind == RuleKind.LENGTH:
        lo, hi = _int_param(p, "min"), _int_param(p, "max")
        if lo is None and hi is None:
            raise RuleError("须给出 min 或 max (min or max is required)", field="params.max")
        if lo is not None and hi is not None and lo > hi:
            raise RuleError("min 不能大于 max (min is greater than max)", field="params.min")
        return {"min": lo, "max": hi}
    if kind == RuleKind.ENUMERATION:
        values = p.get("values")
        if not isinstance(values, list) or not values or len(values) > ENUM_MAX_VALUES:
            raise RuleError(f"values 须为 1 到 {ENUM_MAX_VALUES} 个取值的列表 (a list of allowed values)",
                            field="params.values")
        codes = enum_codes(values)
        if not codes or any(len(c) > 200 for c in codes):
            raise RuleError("取值无效 (invalid values)", field="params.values")
        return {"values": codes}
    if kind == RuleKind.PATTERN:
        check_pattern(p.get("regex"))
        return {"regex": p["regex"]}
    if kind == RuleKind.IDENTIFIER:
        if p.get("identifier") not in IdentifierKind.values:
            raise RuleError(f"identifier 须为 {'、'.join(IdentifierKind.values)} 之一", field="params.identifier")
        return {"identifier": p["identifier"]}
    if kind == RuleKind.DATE_RANGE:
        first, last = _date_bound(p.get("min"), "min"), _date_bound(p.get("max"), "max")
        if first is None and last is None:
            raise RuleError("须给出 min 或 max (min or max is required)", field="params.max")
        if first and last and "today" not in (first, last) and first > last:
            raise RuleError("min 不能晚于 max (min is after max)", field="params.min")
        return {"min": first, "max": last}
    if kind == RuleKind.REGION_CODE:
        return {"current_only": bool(p.get("current_only", False))}
    # cross-field: references to the birth-date and gender columns (a column name or a data-element code)
    out: dict[str, Any] = {}
    for name in ("birth", "gender"):
        ref = p.get(name)
        if ref in (None, ""):
            continue
        if not isinstance(ref, str) or not _REF_RE.fullmatch(ref):
            raise RuleError(f"{name} 须为列名或数据元代码 (a column name or data-element code)", field=f"params.{name}")
        out[name] = ref
    if not out:
        raise RuleError("须给出 birth 或 gender (the birth-date or gender column is required)", field="params.birth")
    return out
