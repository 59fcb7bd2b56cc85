"""Row filters (行过滤条件): which records of a resource a grant may see (DESIGN.md §3 "Row filters").

A row filter is a small declarative language, never SQL. It is enforced in one place — :meth:`RowFilter.matches`
— for query, verify, file and subscription delivery alike: a record outside the filter answers exactly like a
missing one, and a record that leaves the filter reaches subscribers as a deletion (the callers do that; this
module only answers "inside or not"). :meth:`RowFilter.to_django_q` gives the database a prefilter that never
drops a record :meth:`~RowFilter.matches` would keep, so ``matches`` stays the one authoritative check.

Two equivalent forms, both accepted by :func:`parse` and produced by :meth:`RowFilter.to_json` and
:meth:`RowFilter.to_text`:

JSON (stored on the grant)::

    {"all": [{"field": "household_region", "op": "in", "value": ["445102", "445103"]},
             {"not": {"field": "deceased", "op": "eq", "value": "true"}}]}

    node       := {"all": [node, ...]} | {"any": [node, ...]} | {"not": node} | comparison
    comparison := {"field": column, "op": op, "value": scalar}          op in eq ne prefix gt gte lt lte
                | {"field": column, "op": "in" | "not_in", "value": [scalar, ...]}
                | {"field": column, "op": "is_null" | "not_null"}

Text (for people)::

    household_region in ("445102", "445103") and not deceased = true

    filter     := [or_expr] EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" or_expr ")" | comparison
    comparison := field ("=" | "==" | "!=" | "<>" | ">" | ">=" | "<" | "<=" | "prefix") value
                | field ["not"] "in" "(" value ("," value)* ")"
                | field "is" ["not"] "null"
    field      := identifier | `back-quoted name` (a back-quote inside is doubled)
    value      := "string" | 'string' | number | true | false

Keywords are case-insensitive; ``not`` binds tighter than ``and``, which binds tighter than ``or``. Strings take
the escapes ``\\" \\' \\\\ \\n \\r \\t \\uXXXX \\UXXXXXXXX``.

Why a hand-written parser: the grammar is a dozen productions, and every error has to say where it is and which
field it names, in Chinese and English; parser libraries (lark, pyparsing) would add a dependency to the lean data
plane for less control over those messages and over the resource limits that keep hostile input cheap.

Semantics (two-valued, so ``not`` is an exact complement):

- A value that is missing, ``None`` or ``""`` is *null*: ``is_null`` holds, every other comparison fails, and so
  ``ne`` / ``not_in`` / ``not (...)`` hold.
- Values are compared by the column's data type: integers and decimals numerically, dates as ISO ``YYYY-MM-DD``
  strings, date-times as instants (a naive one is China Standard Time, UTC+8), booleans as ``true``/``false``,
  strings and enumeration codes by code point. A stored value that is not in its type's stored form (see
  :mod:`govshare.datasets.validation`: integers without leading zeros, ISO dates, ``true``/``false``) satisfies
  no comparison — and therefore satisfies its negation.
- ``prefix`` applies to string and enumeration columns; ``gt``/``gte``/``lt``/``lte`` to strings, integers,
  decimals, dates and date-times.

This module has no Django imports at module level: it is used by the lean data plane.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeAlias, cast

if TYPE_CHECKING:
    from django.db.models import Q

__all__ = [
    "EMPTY",
    "MAX_DEPTH",
    "MAX_SOURCE_LENGTH",
    "MAX_TERMS",
    "MAX_VALUES",
    "MAX_VALUE_LENGTH",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Node",
    "Not",
    "Op",
    "RowFilter",
    "RowFilterError",
    "combine",
    "parse",
]

#: Limits; callers may pass their own to :func:`parse` (DESIGN.md: "keep every number a setting").
MAX_DEPTH: Final = 8  # nesting of all / any / not above a comparison
MAX_TERMS: Final = 50  # comparisons in one filter
MAX_VALUES: Final = 1000  # values in one in / not_in list
MAX_VALUE_LENGTH: Final = 512  # characters in one value
MAX_SOURCE_LENGTH: Final = 100_000  # characters of text or JSON given to parse()

# The data types of catalog data items (govshare.catalog.choices.DataType, not imported: it needs Django).
STRING, INTEGER, DECIMAL, DATE, DATETIME, BOOLEAN, ENUM = (
    "string", "integer", "decimal", "date", "datetime", "boolean", "enum",
)
DATA_TYPES: Final = frozenset({STRING, INTEGER, DECIMAL, DATE, DATETIME, BOOLEAN, ENUM})
_TYPE_LABELS: Final = {
    STRING: "字符型", INTEGER: "整数型", DECIMAL: "数值型", DATE: "日期型", DATETIME: "日期时间型",
    BOOLEAN: "布尔型", ENUM: "枚举型",
}

_CST: Final = dt.timezone(dt.timedelta(hours=8))  # China Standard Time, for naive date-times


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    PREFIX = "prefix"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


_LIST_OPS: Final = frozenset({Op.IN, Op.NOT_IN})
_NULL_OPS: Final = frozenset({Op.IS_NULL, Op.NOT_NULL})
_ORDER_OPS: Final = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
_ORDERED_TYPES: Final = frozenset({STRING, INTEGER, DECIMAL, DATE, DATETIME})
_PREFIX_TYPES: Final = frozenset({STRING, ENUM})
_OP_LABELS: Final = {
    Op.EQ: "等于", Op.NE: "不等于", Op.IN: "属于", Op.NOT_IN: "不属于", Op.PREFIX: "前缀为", Op.GT: "大于",
    Op.GTE: "大于等于", Op.LT: "小于", Op.LTE: "小于等于", Op.IS_NULL: "为空", Op.NOT_NULL: "不为空",
}


class RowFilterError(ValueError):
    """A row filter that cannot be accepted.

    ``position`` is the 0-based character offset in the text form, ``path`` the place in the JSON form
    (``$.all[1].not``), ``field`` the column concerned; each is ``None`` when it does not apply."""

    def __init__(
        self, zh: str, en: str, *, position: int | None = None, path: str | None = None, field: str | None = None,
    ) -> None:
        self.message_zh = zh
        self.message_en = en
        self.position = position
        self.path = path
        self.field = field
        where_zh = where_en = ""
        if position is not None:
            where_zh, where_en = f"（第 {position + 1} 个字符处）", f" at position {position}"
        elif path is not None:
            where_zh, where_en = f"（位置 {path}）", f" at {path}"
        super().__init__(f"行过滤条件无效{where_zh}: {zh} (invalid row filter{where_en}: {en})")


# ---------------------------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``. ``value`` is the canonical string, a tuple of them for in/not_in, None for null tests."""

    field: str
    op: Op
    value: str | tuple[str, ...] | None
    dtype: str


@dataclass(frozen=True, slots=True)
class AllOf:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    term: Node


Node: TypeAlias = "Comparison | AllOf | AnyOf | Not"
Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


def _always(record: Record) -> bool:
    return True


def _comparisons(node: Node | None) -> Iterator[Comparison]:
    if node is None:
        return
    if isinstance(node, Comparison):
        yield node
    elif isinstance(node, Not):
        yield from _comparisons(node.term)
    else:
        for t in node.terms:
            yield from _comparisons(t)


@dataclass(frozen=True)
class RowFilter:
    """A parsed, validated row filter. ``root is None`` is the empty filter, which matches every record.

    Build one with :func:`parse`; equal filters compare equal (the compiled predicate is not compared). Callers
    answer for a record outside the filter exactly as for a missing record, and send subscribers a deletion when
    a changed record stops matching."""

    root: Node | None = None
    _predicate: Predicate = field(init=False, repr=False, compare=False, hash=False)
    _fields: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_predicate", _compile(self.root) if self.root is not None else _always)
        object.__setattr__(self, "_fields", frozenset(c.field for c in _comparisons(self.root)))

    @property
    def is_empty(self) -> bool:
        return self.root is None

    @property
    def fields(self) -> frozenset[str]:
        """The columns the filter reads."""
        return self._fields

    def matches(self, record: Record) -> bool:
        """Whether ``record`` (column → stored string or ``None``) is inside the filter. The authoritative check."""
        return self._predicate(record)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``{}`` for the empty filter); :func:`parse` gives back an equal filter."""
        return {} if self.root is None else _node_json(self.root)

    def to_text(self) -> str:
        """The text form (``""`` for the empty filter); :func:`parse` gives back an equal filter."""
        return "" if self.root is None else _node_text(self.root)

    def __str__(self) -> str:
        return self.to_text()

    def to_django_q(self, prefix: str = "data__") -> Q:
        """A ``Q`` over a JSONField (``prefix`` + column) selecting a superset of the matching records.

        Comparisons the database cannot decide exactly in the platform's semantics (numeric order, decimal and
        date-time equality, unusual column names) become "any record", so the prefilter may keep extra records
        but never loses one, as long as values are stored as JSON strings (as :mod:`govshare.datasets` stores
        them). Apply :meth:`matches` to what it returns."""
        from django.db.models import Q

        q = None if self.root is None else _QBuilder(prefix).node(self.root, True)
        return Q() if q is None else q


EMPTY: Final = RowFilter()


def combine(a: RowFilter, b: RowFilter) -> RowFilter:
    """Both filters must hold (AND), e.g. a grant's filter and a request's. Limits are not re-applied (each part
    was validated on its own), so the result is for use, not for storing and parsing again."""
    if a.root is None:
        return b
    if b.root is None:
        return a
    return RowFilter(AllOf((a.root, b.root)))


# ---------------------------------------------------------------------------------------------------------------
# Values: canonical forms of filter values (with errors) and readers of stored values (outside the form: _INVALID)
# ---------------------------------------------------------------------------------------------------------------

_INVALID: Final = object()  # a stored value that is not in its column type's stored form

_INT_IN_RE = re.compile(r"[+-]?[0-9]{1,30}")
_INT_STORED_RE = re.compile(r"0|-?[1-9][0-9]{0,39}")
_DEC_RE = re.compile(r"[+-]?[0-9]{1,40}(?:\.[0-9]{1,40})?")
_DEC_STORED_RE = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TRUE_WORDS: Final = frozenset({"true", "1", "是", "yes", "y", "t"})
_FALSE_WORDS: Final = frozenset({"false", "0", "否", "no", "n", "f"})


class _ValueProblem(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def _check_text(s: str) -> str:
    if not s:
        raise _ValueProblem(
            "值不能为空字符串，判断空值请用 is null", 'a value cannot be "", use is null for empty values',
        )
    if len(s) > MAX_VALUE_LENGTH:
        raise _ValueProblem(
            f"值超过 {MAX_VALUE_LENGTH} 个字符", f"a value is longer than {MAX_VALUE_LENGTH} characters",
        )
    for ch in s:
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            raise _ValueProblem("值含有空字符或无效的 Unicode 代理字符", "a value contains NUL or a lone surrogate")
    return s


def _canonical(value: object, dtype: str) -> str:
    """The canonical string of a filter value for a column of type ``dtype``; raises :class:`_ValueProblem`."""
    label = _TYPE_LABELS[dtype]
    mismatch = _ValueProblem(f"值 {value!r} 不是{label}", f"{value!r} is not a valid {dtype} value")
    if isinstance(value, bool):
        if dtype == BOOLEAN:
            return "true" if value else "false"
        raise mismatch
    if isinstance(value, int) and abs(value) >= 10**30:
        raise mismatch
    if dtype in (STRING, ENUM):
        if isinstance(value, int):
            return str(value)
        if not isinstance(value, str):
            raise mismatch
        return _check_text(value)
    if dtype == INTEGER:
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str) and _INT_IN_RE.fullmatch(value):
            return str(int(value))
        raise mismatch
    if dtype == DECIMAL:
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and value == value and abs(value) != float("inf"):
            value = repr(value)
            if not _DEC_RE.fullmatch(value):
                raise mismatch
        if isinstance(value, str) and _DEC_RE.fullmatch(value):
            return format(Decimal(value), "f")
        raise mismatch
    if not isinstance(value, str) or len(value) > 64:
        raise mismatch
    if dtype == DATE:
        if not _DATE_RE.fullmatch(value):
            raise _ValueProblem(f"日期 {value!r} 应为 YYYY-MM-DD", f"date {value!r} must be YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise mismatch from None
    if dtype == DATETIME:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _ValueProblem(
                f"日期时间 {value!r} 应为 ISO 8601 格式", f"date-time {value!r} must be ISO 8601",
            ) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=_CST)).isoformat()
    # BOOLEAN
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return "true"
    if word in _FALSE_WORDS:
        return "false"
    raise mismatch


def _stored_text(raw: object) -> str | None:
    """A stored value as text, ``None`` when null. Stored values are strings; other scalars are read as theirs."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw or None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | Decimal):
        return str(raw) if isinstance(raw, int) else format(raw, "f")
    if isinstance(raw, dt.date | dt.datetime):
        return raw.isoformat()
    return repr(raw)


def _reader(dtype: str) -> Callable[[str], object]:
    """A function from stored text to a comparable key for ``dtype``, or ``_INVALID``."""
    if dtype in (STRING, ENUM):
        return lambda s: s
    if dtype == INTEGER:
        return lambda s: int(s) if _INT_STORED_RE.fullmatch(s) else _INVALID
    if dtype == DECIMAL:
        return lambda s: Decimal(s) if _DEC_STORED_RE.fullmatch(s) else _INVALID
    if dtype == DATE:
        return _read_date
    if dtype == DATETIME:
        return _read_datetime
    return lambda s: True if s == "true" else False if s == "false" else _INVALID


def _read_date(s: str) -> object:
    if not _DATE_RE.fullmatch(s):
        return _INVALID
    try:
        dt.date.fromisoformat(s)
    except ValueError:
        return _INVALID
    return s  # ISO dates order as strings


def _read_datetime(s: str) -> object:
    if len(s) > 64:
        return _INVALID
    try:
        moment = dt.datetime.fromisoformat(s)
    except ValueError:
        return _INVALID
    return moment if moment.tzinfo else moment.replace(tzinfo=_CST)


# ---------------------------------------------------------------------------------------------------------------
# matches(): the tree compiled to closures once per filter
# ---------------------------------------------------------------------------------------------------------------


def _compile(node: Node) -> Predicate:
    if isinstance(node, Comparison):
        return _compile_comparison(node)
    if isinstance(node, Not):
        inner = _compile(node.term)
        return lambda r: not inner(r)
    parts = tuple(_compile(t) for t in node.terms)
    if isinstance(node, AllOf):

        def conjunction(r: Record) -> bool:
            for part in parts:
                if not part(r):
                    return False
            return True

        return conjunction

    def disjunction(r: Record) -> bool:
        for part in parts:
            if part(r):
                return True
        return False

    return disjunction


def _compile_comparison(c: Comparison) -> Predicate:
    name, op = c.field, c.op
    if op is Op.IS_NULL:
        return lambda r: _stored_text(r.get(name)) is None
    if op is Op.NOT_NULL:
        return lambda r: _stored_text(r.get(name)) is not None
    read = _reader(c.dtype)
    if op is Op.PREFIX:
        start = str(c.value)

        def prefix(r: Record) -> bool:
            s = _stored_text(r.get(name))
            return s is not None and s.startswith(start)

        return prefix
    if op in _LIST_OPS:
        assert isinstance(c.value, tuple)
        wanted = frozenset(read(v) for v in c.value)

        def member(r: Record) -> bool:
            s = _stored_text(r.get(name))
            return s is not None and read(s) in wanted

        return member if op is Op.IN else (lambda r: not member(r))
    target: Any = read(str(c.value))
    test: Callable[[Any], bool] = {
        Op.EQ: lambda k: k == target, Op.NE: lambda k: k == target,
        Op.GT: lambda k: k > target, Op.GTE: lambda k: k >= target,
        Op.LT: lambda k: k < target, Op.LTE: lambda k: k <= target,
    }[op]

    def compare(r: Record) -> bool:
        s = _stored_text(r.get(name))
        if s is None:
            return False
        key = read(s)
        return key is not _INVALID and test(key)

    return compare if op is not Op.NE else (lambda r: not compare(r))


# ---------------------------------------------------------------------------------------------------------------
# The JSON form
# ---------------------------------------------------------------------------------------------------------------


def _node_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Comparison):
        out: dict[str, Any] = {"field": node.field, "op": node.op.value}
        if node.op in _LIST_OPS:
            out["value"] = list(node.value or ())
        elif node.op not in _NULL_OPS:
            out["value"] = node.value
        return out
    if isinstance(node, Not):
        return {"not": _node_json(node.term)}
    key = "all" if isinstance(node, AllOf) else "any"
    return {key: [_node_json(t) for t in node.terms]}


class _Limits:
    def __init__(self, fields: Mapping[str, str], max_depth: int, max_terms: int, max_values: int) -> None:
        self.fields = fields
        self.max_depth = max_depth
        self.max_terms = max_terms
        self.max_values = max_values
        self.terms = 0

    def depth_error(self, **where: Any) -> NoReturn:
        raise RowFilterError(
            f"嵌套超过 {self.max_depth} 层", f"nested deeper than {self.max_depth} levels", **where,
        )

    def count_term(self, **where: Any) -> None:
        self.terms += 1
        if self.terms > self.max_terms:
            raise RowFilterError(
                f"条件超过 {self.max_terms} 个", f"more than {self.max_terms} comparisons", **where,
            )

    def column(self, name: object, **where: Any) -> tuple[str, str]:
        if not isinstance(name, str) or not name:
            raise RowFilterError("缺少字段名", "a comparison needs a field name", **where)
        dtype = self.fields.get(name)
        if dtype is None:
            shown = name if len(name) <= 64 else name[:64] + "…"
            raise RowFilterError(
                f"未知字段 {shown!r}（不是本资源可过滤的信息项）",
                f"unknown field {shown!r} (not a filterable item of this resource)", field=shown, **where,
            )
        return name, dtype

    def comparison(self, name: str, dtype: str, op: Op, values: Sequence[object] | None, **where: Any) -> Comparison:
        """Check ``op`` against the column type and canonicalise the value(s)."""
        zh_op = _OP_LABELS[op]
        if (op in _ORDER_OPS and dtype not in _ORDERED_TYPES) or (op is Op.PREFIX and dtype not in _PREFIX_TYPES):
            raise RowFilterError(
                f"字段 {name} 为{_TYPE_LABELS[dtype]}，不能使用“{zh_op}”比较",
                f"field {name!r} is of type {dtype} and does not support {op.value}", field=name, **where,
            )
        if op in _NULL_OPS:
            return Comparison(name, op, None, dtype)
        assert values is not None
        if op in _LIST_OPS:
            if not values:
                raise RowFilterError(
                    f"字段 {name} 的取值列表为空", f"{op.value} on {name!r} needs at least one value", field=name,
                    **where,
                )
            if len(values) > self.max_values:
                raise RowFilterError(
                    f"字段 {name} 的取值超过 {self.max_values} 个",
                    f"{op.value} on {name!r} has more than {self.max_values} values", field=name, **where,
                )
        try:
            canonical = tuple(_canonical(v, dtype) for v in values)
        except _ValueProblem as exc:
            raise RowFilterError(f"字段 {name}: {exc.zh}", f"field {name!r}: {exc.en}", field=name, **where) from None
        if op in _LIST_OPS:
            return Comparison(name, op, canonical, dtype)
        return Comparison(name, op, canonical[0], dtype)


def _from_json(obj: object, path: str, depth: int, lim: _Limits) -> Node:
    if not isinstance(obj, Mapping):
        raise RowFilterError("每个条件应为 JSON 对象", "each condition must be a JSON object", path=path)
    keys = set(obj)
    logical = keys & {"all", "any", "not"}
    if logical:
        if len(keys) != 1:
            raise RowFilterError(
                "all / any / not 必须单独成为一个对象", "all / any / not must be the only key of its object", path=path,
            )
        if depth >= lim.max_depth:
            lim.depth_error(path=path)
        (key,) = logical
        inner = obj[key]
        if key == "not":
            return Not(_from_json(inner, f"{path}.not", depth + 1, lim))
        if not isinstance(inner, list) or not inner:
            raise RowFilterError(f"{key} 需要一个非空的条件列表", f"{key} needs a non-empty list", path=path)
        terms = tuple(_from_json(t, f"{path}.{key}[{i}]", depth + 1, lim) for i, t in enumerate(inner))
        if len(terms) == 1:
            return terms[0]
        return AllOf(terms) if key == "all" else AnyOf(terms)
    extra = keys - {"field", "op", "value"}
    if extra:
        shown = ", ".join(sorted(str(k)[:32] for k in extra))
        raise RowFilterError(f"不认识的键 {shown}", f"unknown keys {shown}", path=path)
    lim.count_term(path=path)
    name, dtype = lim.column(obj.get("field"), path=path)
    raw_op = obj.get("op")
    try:
        op = Op(raw_op) if isinstance(raw_op, str) else None
    except ValueError:
        op = None
    if op is None:
        shown = str(raw_op)[:32]
        raise RowFilterError(
            f"字段 {name} 的比较方式 {shown!r} 无效，可用: {', '.join(o.value for o in Op)}",
            f"bad op {shown!r} for {name!r}; use one of {', '.join(o.value for o in Op)}", path=path, field=name,
        )
    value = obj.get("value")
    if op in _NULL_OPS:
        if value is not None:
            raise RowFilterError(
                f"字段 {name}: {op.value} 不带取值", f"{op.value} on {name!r} takes no value", path=path, field=name,
            )
        return lim.comparison(name, dtype, op, None, path=path)
    if op in _LIST_OPS:
        if not isinstance(value, list):
            raise RowFilterError(
                f"字段 {name}: {op.value} 需要取值列表", f"{op.value} on {name!r} needs a list of values", path=path,
                field=name,
            )
        return lim.comparison(name, dtype, op, value, path=path)
    if value is None or isinstance(value, list | dict):
        raise RowFilterError(
            f"字段 {name}: {op.value} 需要一个取值", f"{op.value} on {name!r} needs one value", path=path, field=name,
        )
    return lim.comparison(name, dtype, op, [value], path=path)


# ---------------------------------------------------------------------------------------------------------------
# The text form
# ---------------------------------------------------------------------------------------------------------------

_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "is", "null", "prefix", "true", "false"})
_IDENT_RE = re.compile(r"[^\W\d]\w*")
_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?![\w.])")
_SPACE_RE = re.compile(r"\s+")
_SYMBOL_OPS: Final = {
    "=": Op.EQ, "==": Op.EQ, "!=": Op.NE, "<>": Op.NE, ">": Op.GT, ">=": Op.GTE, "<": Op.LT, "<=": Op.LTE,
}
_TEXT_OPS: Final = {
    Op.EQ: "=", Op.NE: "!=", Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<=", Op.PREFIX: "prefix",
}
_SIMPLE_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word, field (back-quoted), string, number, symbol, eof
    text: str  # the identifier / decoded string / number / symbol
    pos: int

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "word" and self.text.lower() in _KEYWORDS else None


def _tokens(src: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(src)
    while True:
        m = _SPACE_RE.match(src, i)
        if m:
            i = m.end()
        if i >= n:
            out.append(_Token("eof", "", i))
            return out
        ch = src[i]
        if ch in "\"'":
            text, end = _read_string(src, i)
            out.append(_Token("string", text, i))
            i = end
        elif ch == "`":
            text, end = _read_backquoted(src, i)
            out.append(_Token("field", text, i))
            i = end
        elif m := _NUMBER_RE.match(src, i):
            out.append(_Token("number", m.group(), i))
            i = m.end()
        elif m := _IDENT_RE.match(src, i):
            out.append(_Token("word", m.group(), i))
            i = m.end()
        elif src.startswith((">=", "<=", "!=", "<>", "=="), i):
            out.append(_Token("symbol", src[i : i + 2], i))
            i += 2
        elif ch in "=<>(),":
            out.append(_Token("symbol", ch, i))
            i += 1
        else:
            shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
            raise RowFilterError(f"无法识别的字符 {shown!r}", f"unexpected character {shown!r}", position=i)


def _read_string(src: str, start: int) -> tuple[str, int]:
    quote = src[start]
    parts: list[str] = []
    i, n = start + 1, len(src)
    while i < n:
        ch = src[i]
        if ch == quote:
            return "".join(parts), i + 1
        if ch != "\\":
            parts.append(ch)
            i += 1
            continue
        esc = src[i + 1 : i + 2]
        if esc in _SIMPLE_ESCAPES:
            parts.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in ("u", "U"):
            width = 4 if esc == "u" else 8
            digits = src[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits) or (
                int(digits, 16) > 0x10FFFF
            ):
                raise RowFilterError(f"无效的转义 \\{esc}{digits}", f"bad escape \\{esc}{digits}", position=i)
            parts.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            raise RowFilterError(f"无效的转义 \\{esc}", f"bad escape \\{esc}", position=i)
    raise RowFilterError("字符串缺少结束引号", "unterminated string", position=start)


def _read_backquoted(src: str, start: int) -> tuple[str, int]:
    parts: list[str] = []
    i, n = start + 1, len(src)
    while i < n:
        j = src.find("`", i)
        if j < 0:
            break
        parts.append(src[i:j])
        if src.startswith("``", j):
            parts.append("`")
            i = j + 2
            continue
        return "".join(parts), j + 1
    raise RowFilterError("字段名缺少结束的反引号", "unterminated back-quoted field name", position=start)


class _TextParser:
    """Recursive descent over the token list; nesting is bounded before recursing, so no input overflows the stack."""

    def __init__(self, src: str, lim: _Limits) -> None:
        self.toks = _tokens(src)
        self.i = 0
        self.lim = lim
        self.nesting = 0  # parentheses and "not"s open, bounded so hostile input cannot exhaust the stack

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def advance(self) -> _Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, zh: str, en: str, tok: _Token | None = None, **extra: Any) -> NoReturn:
        t = tok or self.tok
        found = "结尾" if t.kind == "eof" else repr(t.text[:32])
        found_en = "end of input" if t.kind == "eof" else repr(t.text[:32])
        raise RowFilterError(f"{zh}，此处为 {found}", f"{en}, found {found_en}", position=t.pos, **extra)

    def parse(self) -> Node | None:
        if self.tok.kind == "eof":
            return None
        node = self.or_expr()
        if self.tok.kind != "eof":
            self.fail("应为 and、or 或结尾", "expected and, or or the end")
        return node

    def or_expr(self) -> Node:
        terms = [self.and_expr()]
        while self.tok.keyword == "or":
            self.advance()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def and_expr(self) -> Node:
        terms = [self.unary()]
        while self.tok.keyword == "and":
            self.advance()
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def enter(self, tok: _Token) -> None:
        self.nesting += 1
        if self.nesting > 2 * self.lim.max_depth + 2:
            self.lim.depth_error(position=tok.pos)

    def unary(self) -> Node:
        tok = self.tok
        if tok.keyword == "not":
            self.advance()
            self.enter(tok)
            node: Node = Not(self.unary())
            self.nesting -= 1
            return node
        if tok.kind == "symbol" and tok.text == "(":
            self.advance()
            self.enter(tok)
            node = self.or_expr()
            self.nesting -= 1
            if not (self.tok.kind == "symbol" and self.tok.text == ")"):
                self.fail("缺少右括号", "expected ')'")
            self.advance()
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        tok = self.tok
        if tok.kind == "field" or (tok.kind == "word" and tok.keyword is None):
            self.advance()
        elif tok.kind == "word":
            self.fail(
                "应为字段名（与关键字同名的字段请用反引号括起）",
                "expected a field name (back-quote names that are keywords)",
            )
        else:
            self.fail("应为字段名", "expected a field name")
        self.lim.count_term(position=tok.pos)
        name, dtype = self.lim.column(tok.text, position=tok.pos)
        op_tok = self.tok
        if op_tok.kind == "symbol" and op_tok.text in _SYMBOL_OPS:
            self.advance()
            return self.lim.comparison(name, dtype, _SYMBOL_OPS[op_tok.text], [self.value(name)], position=op_tok.pos)
        kw = op_tok.keyword
        if kw == "prefix":
            self.advance()
            return self.lim.comparison(name, dtype, Op.PREFIX, [self.value(name)], position=op_tok.pos)
        if kw == "is":
            self.advance()
            negated = self.tok.keyword == "not"
            if negated:
                self.advance()
            if self.tok.keyword != "null":
                self.fail("is 之后应为 null 或 not null", "expected null or not null after is")
            self.advance()
            return self.lim.comparison(name, dtype, Op.NOT_NULL if negated else Op.IS_NULL, None, position=op_tok.pos)
        if kw in ("in", "not"):
            self.advance()
            if kw == "not":
                if self.tok.keyword != "in":
                    self.fail("not 之后应为 in", "expected in after not")
                self.advance()
            return self.lim.comparison(name, dtype, Op.IN if kw == "in" else Op.NOT_IN, self.value_list(name),
                                       position=op_tok.pos)
        self.fail(
            f"字段 {name} 之后应为比较符 (= != > >= < <= in、not in、prefix、is null)",
            f"expected an operator after {name!r} (= != > >= < <= in, not in, prefix, is null)", field=name,
        )

    def value(self, name: str) -> object:
        tok = self.tok
        if tok.kind in ("string", "number"):
            self.advance()
            return tok.text
        if tok.keyword in ("true", "false"):
            self.advance()
            return tok.keyword == "true"
        if tok.keyword == "null":
            self.fail("判断空值请用 is null / is not null", "use is null / is not null to test for empty values",
                      field=name)
        self.fail(f"字段 {name} 应跟一个取值（字符串请加引号）", f"expected a value for {name!r} (quote strings)",
                  field=name)

    def value_list(self, name: str) -> list[object]:
        if not (self.tok.kind == "symbol" and self.tok.text == "("):
            self.fail("in 之后应为括号括起的取值列表", "expected '(' and a list of values after in", field=name)
        self.advance()
        values = [self.value(name)]
        while self.tok.kind == "symbol" and self.tok.text == ",":
            self.advance()
            values.append(self.value(name))
            if len(values) > self.lim.max_values:
                self.fail(f"取值超过 {self.lim.max_values} 个", f"more than {self.lim.max_values} values", field=name)
        if not (self.tok.kind == "symbol" and self.tok.text == ")"):
            self.fail("取值列表缺少右括号", "expected ',' or ')' in the list of values", field=name)
        self.advance()
        return values


def _depth(node: Node) -> int:
    if isinstance(node, Comparison):
        return 0
    if isinstance(node, Not):
        return 1 + _depth(node.term)
    return 1 + max(_depth(t) for t in node.terms)


def _field_text(name: str) -> str:
    if _IDENT_RE.fullmatch(name) and name.lower() not in _KEYWORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


def _string_text(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value_text(value: str, dtype: str) -> str:
    return value if dtype in (INTEGER, DECIMAL, BOOLEAN) else _string_text(value)


def _node_text(node: Node) -> str:
    if isinstance(node, Comparison):
        name = _field_text(node.field)
        if node.op is Op.IS_NULL:
            return f"{name} is null"
        if node.op is Op.NOT_NULL:
            return f"{name} is not null"
        if node.op in _LIST_OPS:
            assert isinstance(node.value, tuple)
            values = ", ".join(_value_text(v, node.dtype) for v in node.value)
            return f"{name} {'in' if node.op is Op.IN else 'not in'} ({values})"
        return f"{name} {_TEXT_OPS[node.op]} {_value_text(str(node.value), node.dtype)}"
    if isinstance(node, Not):
        inner = _node_text(node.term)
        return f"not ({inner})" if isinstance(node.term, AllOf | AnyOf) else f"not {inner}"
    joiner = " and " if isinstance(node, AllOf) else " or "
    return joiner.join(f"({_node_text(t)})" if isinstance(t, AllOf | AnyOf) else _node_text(t) for t in node.terms)


# ---------------------------------------------------------------------------------------------------------------
# parse()
# ---------------------------------------------------------------------------------------------------------------


def parse(
    spec: str | Mapping[str, Any] | RowFilter | None,
    *,
    allowed_fields: Mapping[str, str],
    max_depth: int = MAX_DEPTH,
    max_terms: int = MAX_TERMS,
    max_values: int = MAX_VALUES,
) -> RowFilter:
    """Parse and validate a row filter given as text, as JSON text (starting with ``{``), as a decoded JSON object,
    or as a :class:`RowFilter` (re-validated). ``None``, ``""`` and ``{}`` give :data:`EMPTY`.

    ``allowed_fields`` maps each filterable column to its data type (``string``, ``integer``, ``decimal``,
    ``date``, ``datetime``, ``boolean``, ``enum``). Raises :class:`RowFilterError` for anything else."""
    bad_types = {t for t in allowed_fields.values() if t not in DATA_TYPES}
    if bad_types:
        raise ValueError(f"unknown data types in allowed_fields: {sorted(bad_types)}")
    lim = _Limits(allowed_fields, max_depth, max_terms, max_values)
    if spec is None:
        return EMPTY
    if isinstance(spec, RowFilter):
        spec = spec.to_json()
    if isinstance(spec, str):
        if len(spec) > MAX_SOURCE_LENGTH:
            raise RowFilterError(
                f"过滤条件超过 {MAX_SOURCE_LENGTH} 个字符", f"the filter is longer than {MAX_SOURCE_LENGTH} characters",
            )
        text = spec.strip()
        if not text.startswith("{"):
            return _finish(_TextParser(spec, lim).parse(), lim)
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RowFilterError("JSON 格式错误", f"malformed JSON: {str(exc)[:80]}") from None
        spec = decoded
    if not isinstance(spec, Mapping):
        raise RowFilterError("过滤条件应为文本或 JSON 对象", "a row filter must be text or a JSON object", path="$")
    if not spec:
        return EMPTY
    return _finish(_from_json(spec, "$", 0, lim), lim)


def _finish(root: Node | None, lim: _Limits) -> RowFilter:
    if root is None:
        return EMPTY
    if _depth(root) > lim.max_depth:
        lim.depth_error()
    return RowFilter(root)


# ---------------------------------------------------------------------------------------------------------------
# The database prefilter
# ---------------------------------------------------------------------------------------------------------------

# Column names that are safe as a JSON key in a Django lookup path: no "__" (a path separator), not an integer (an
# array index on PostgreSQL), plain ASCII.
_Q_SAFE_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
# Types whose stored form is canonical, so string equality in the database is equality in matches().
_Q_EQUALITY_TYPES: Final = frozenset({STRING, ENUM, INTEGER, DATE, BOOLEAN})


class _QBuilder:
    """Translates the tree into Q objects over the key's *text* (``KT``: ``->>`` on PostgreSQL, ``JSON_EXTRACT``
    on SQLite), which compares strings as strings (key lookups such as ``data__k="x"`` compare JSON values)."""

    def __init__(self, prefix: str) -> None:
        from django.db.models import Q
        from django.db.models.fields.json import KT
        from django.db.models.lookups import Exact, In, IsNull, StartsWith

        self.prefix = prefix
        self.Q, self.KT, self.Exact, self.In, self.IsNull, self.StartsWith = Q, KT, Exact, In, IsNull, StartsWith

    def node(self, node: Node, positive: bool) -> Q | None:
        """A Q selecting a superset of the records where ``node`` is ``positive``; ``None`` means every record."""
        if isinstance(node, Comparison):
            return self.comparison(node, positive)
        if isinstance(node, Not):
            return self.node(node.term, not positive)
        parts = [self.node(t, positive) for t in node.terms]
        if isinstance(node, AllOf) == positive:  # a conjunction (not(any) = all(not)): drop unknown parts
            known = [p for p in parts if p is not None]
            return functools.reduce(operator.and_, known) if known else None
        if any(p is None for p in parts):  # a disjunction with an unknown part can be anything
            return None
        return functools.reduce(operator.or_, cast("list[Q]", parts))

    def comparison(self, c: Comparison, positive: bool) -> Q | None:
        if not _Q_SAFE_FIELD.fullmatch(c.field):
            return None
        text = self.KT(self.prefix + c.field)
        # Records where the key is null: missing, JSON null or "". Django's KT renders JSON null as SQL NULL on
        # PostgreSQL but as the text 'null' on SQLite, so the positive test also admits the string "null" (a
        # superset), and the negative test also admits JSON null on SQLite (a superset again). IS NULL never
        # yields SQL NULL itself, so the negation is safe.
        empty = self.Q(self.IsNull(text, True)) | self.Q(self.Exact(text, ""))
        null = empty | self.Q(self.Exact(text, "null"))
        op = c.op
        if op in _NULL_OPS:
            return null if (op is Op.IS_NULL) == positive else ~empty
        if op is Op.PREFIX:
            # SQLite's LIKE ignores ASCII case, so this is only a superset: usable in the positive sense only.
            return self.Q(self.StartsWith(text, c.value)) if positive else None
        if op in _ORDER_OPS or c.dtype not in _Q_EQUALITY_TYPES:
            return None  # numeric / instant order and equality are left to matches()
        if op in _LIST_OPS:
            assert isinstance(c.value, tuple)
            hit = self.Q(self.In(text, list(c.value)))
        else:
            hit = self.Q(self.Exact(text, c.value))
        # NOT over a missing key is SQL NULL, not true: keep nulls explicitly in the negated sense.
        return hit if (op in (Op.EQ, Op.IN)) == positive else null | ~hit
