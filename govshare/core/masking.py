"""Masking (脱敏) functions, registered by name.

A mask is defined on a data element (DESIGN.md §3, "Masking"), so every grant sees the same masked form of a
value and two grants can never be combined to reveal more. Each mask is ``fn(value: str, **params) -> str``;
:func:`mask` dispatches by kind and passes ``None`` and ``""`` through unchanged.

Guarantees, checked by property tests:

- a hidden character never appears at its position in the output: every hidden code point becomes ``*``
  (``name``, ``id_number``, ``mobile``, ``bank_card``, ``keep_head_tail``), or the hidden part is replaced by
  a fixed run of ``*`` that hides its length too (``address``, ``email``, ``full``);
- ``id_number``, ``mobile``, ``bank_card`` and ``keep_head_tail`` keep the length; the first three keep
  separators (spaces, hyphens) in place and do not count them for head and tail;
- a value too short to hide anything with the requested head and tail is masked completely;
- masking a masked value changes nothing (idempotence), for every kind;
- masks work on code points, so any Unicode text is safe.

``name`` keeps the first character only (``张三丰`` → ``张**``, ``欧阳娜娜`` → ``欧***``): the usual form,
as in the GB/T 35273 examples. A compound surname is therefore not kept whole, which hides slightly more.

This module has no Django imports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = [
    "MASK_CHAR",
    "MASK_CHOICES",
    "MASK_KINDS",
    "MaskError",
    "mask",
    "mask_address",
    "mask_bank_card",
    "mask_email",
    "mask_full",
    "mask_id_number",
    "mask_keep_head_tail",
    "mask_mobile",
    "mask_name",
    "mask_none",
    "register_mask",
]

MASK_CHAR = "*"
_SEPARATORS = frozenset(" -\u3000")


#: A mask: ``fn(value: str, **params) -> str``.
MaskFunction = Callable[..., str]
_F = TypeVar("_F", bound=MaskFunction)


class MaskError(ValueError):
    """Unknown mask kind or bad parameters."""


_REGISTRY: dict[str, MaskFunction] = {}
_LABELS: dict[str, str] = {}

#: kind -> Chinese label, in registration order (read-only view of the registry).
MASK_KINDS: Mapping[str, str] = MappingProxyType(_LABELS)


def register_mask(kind: str, label: str) -> Callable[[_F], _F]:
    """Register the decorated function as the mask called ``kind``, labelled ``label`` in the UI."""

    def deco(fn: _F) -> _F:
        if kind in _REGISTRY:
            raise MaskError(f"脱敏方式 {kind} 已注册 (mask kind already registered)")
        _REGISTRY[kind] = fn
        _LABELS[kind] = label
        return fn

    return deco


def mask(kind: str, value: str | None, params: Mapping[str, Any] | None = None) -> str | None:
    """Mask ``value`` with the mask called ``kind``. ``None`` and ``""`` pass through unchanged."""
    fn = _REGISTRY.get(kind)
    if fn is None:
        raise MaskError(f"未知的脱敏方式 {kind!r} (unknown mask kind)")
    if value is None or value == "":
        return value
    try:
        return fn(value, **dict(params or {}))
    except TypeError as exc:
        raise MaskError(f"脱敏参数无效 (bad mask parameters for {kind}): {exc}") from None


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MaskError(f"参数 {name} 必须是非负整数 ({name} must be a non-negative integer)")
    return value


def _keep(value: str, head: int, tail: int, separators: frozenset[str]) -> str:
    """Replace every significant character except the first ``head`` and last ``tail`` with ``*``.

    Separators keep their place and are not counted. If nothing would be hidden, hide everything."""
    head, tail = _count(head, "keep_head"), _count(tail, "keep_tail")
    positions = [i for i, c in enumerate(value) if c not in separators]
    n = len(positions)
    if head + tail >= n:
        head = tail = 0
    hidden = set(positions[head : n - tail])
    return "".join(MASK_CHAR if i in hidden else c for i, c in enumerate(value))


@register_mask("none", "不脱敏")
def mask_none(value: str) -> str:
    return value


@register_mask("full", "全部隐藏")
def mask_full(value: str, *, width: int = 6) -> str:
    """A fixed run of ``width`` (default 6) ``*``, hiding the length as well."""
    return MASK_CHAR * max(1, _count(width, "width"))


@register_mask("keep_head_tail", "保留首尾")
def mask_keep_head_tail(value: str, *, keep_head: int = 1, keep_tail: int = 1) -> str:
    """Keep ``keep_head`` leading and ``keep_tail`` trailing characters; ``*`` for each other one."""
    return _keep(value, keep_head, keep_tail, frozenset())


@register_mask("name", "姓名")
def mask_name(value: str) -> str:
    """``张三`` → ``张*``, ``张三丰`` → ``张**``; a one-character value is hidden completely."""
    if len(value) <= 1:
        return MASK_CHAR * len(value)
    return value[0] + MASK_CHAR * (len(value) - 1)


@register_mask("id_number", "证件号码")
def mask_id_number(value: str, *, keep_head: int = 1, keep_tail: int = 1) -> str:
    """Default first 1 + last 1 (``4****************X``); ``keep_head=6, keep_tail=4`` hides the birth
    date and sequence only."""
    return _keep(value, keep_head, keep_tail, _SEPARATORS)


_CN_MOBILE_PREFIX = re.compile(r"(?:\+|00)?86[ -]?(?=[0-9*]{3}[ -]?[0-9*]{4}[ -]?[0-9*]{4}$)")


@register_mask("mobile", "手机号码")
def mask_mobile(value: str, *, keep_head: int = 3, keep_tail: int = 4) -> str:
    """``13812341234`` → ``138****1234``; a ``+86``/``0086``/``86`` prefix is kept as is. Other numbers
    keep 3 + 4 significant characters when long enough."""
    m = _CN_MOBILE_PREFIX.match(value)
    prefix = m.group(0) if m else ""
    return prefix + _keep(value[len(prefix) :], keep_head, keep_tail, _SEPARATORS)


@register_mask("bank_card", "银行卡号")
def mask_bank_card(value: str, *, keep_head: int = 6, keep_tail: int = 4) -> str:
    """First 6 (the issuer BIN) + last 4; spaces and hyphens stay in place."""
    return _keep(value, keep_head, keep_tail, _SEPARATORS)


@register_mask("email", "电子邮箱")
def mask_email(value: str) -> str:
    """``zhangsan@example.gov.cn`` → ``z***@example.gov.cn``; the local part's length is hidden.

    A one-character local part is hidden completely (``***@x.cn``). Without ``@``, the whole value is
    treated as a local part."""
    local, at, domain = value.rpartition("@")
    if not at:
        local, domain = value, ""
    if local and set(local) == {MASK_CHAR}:
        masked_local = local  # already masked: nothing left to hide
    elif len(local) <= 1:
        masked_local = MASK_CHAR * 3
    else:
        masked_local = local[0] + MASK_CHAR * 3
    return masked_local + at + domain


# ---- address -------------------------------------------------------------------------------------

_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
# Longest first: suffixes that end an administrative unit's name.
_PROVINCE_SUFFIXES = ("特别行政区", "自治区", "省")
_PREFECTURE_SUFFIXES = ("自治州", "地区", "盟", "市")
_COUNTY_SUFFIXES = ("自治县", "自治旗", "林区", "特区", "新区", "区", "县", "旗", "市")
_ALL_SUFFIXES = (*_PROVINCE_SUFFIXES, *_PREFECTURE_SUFFIXES, *_COUNTY_SUFFIXES)
_SUFFIX_CHARS = frozenset("省区市县旗盟州")
# A suffix character followed by one of these may continue the name: 沙市区, 津市市, 辉县市, 社旗县.
_EXTENDING_CHARS = frozenset("区市县旗")
# A candidate unit containing one of these is a street or a building, not an administrative unit.
_NOT_IN_UNIT = (
    *"0123456789０１２３４５６７８９",
    *"巷弄号组栋幢室 ,，、#(（",
    "单元",
    "街道",
    "大道",
    "大街",
)
# ... and so is one with 路 or 街 inside, unless a suffix follows at once (让胡路区, 上街区, 路南区).
_STREET_CHARS = frozenset("路街")
# A candidate followed by one of these may be part of a word such as 市场, 红旗路, 县前街: it is
# accepted only if an administrative unit starts right there (唐山市路南区).
_NOT_AFTER_UNIT = frozenset("场路街巷弄号")
# Endings that look like a 区 or a 市 but are not administrative units.
_FALSE_ENDINGS = ("小区", "社区", "校区", "景区", "厂区", "片区", "超市", "夜市")
_MAX_UNIT_LEN = 16
_ADDRESS_MASK = MASK_CHAR * 4


def _looks_like_street(segment: str) -> bool:
    if any(token in segment for token in _NOT_IN_UNIT):
        return True
    return any(
        c in _STREET_CHARS and (i + 1 == len(segment) or segment[i + 1] not in _SUFFIX_CHARS)
        for i, c in enumerate(segment)
        if i > 0
    )


def _next_unit(text: str, start: int, suffixes: tuple[str, ...], depth: int = 0) -> tuple[int, str] | None:
    """Find an administrative unit ending in one of ``suffixes`` that starts at ``start``:
    (end index, matched suffix), or None. The longest plausible candidate wins (沙市区 over 沙市)."""
    best: tuple[int, str] | None = None
    limit = min(len(text), start + _MAX_UNIT_LEN)
    for end in range(start + 2, limit + 1):
        if text[end - 1] not in _SUFFIX_CHARS:
            continue
        segment = text[start:end]
        if _looks_like_street(segment):
            break
        following = text[end] if end < len(text) else ""
        if following in _NOT_AFTER_UNIT and (depth > 0 or _next_unit(text, end, _ALL_SUFFIXES, 1) is None):
            continue
        if segment.endswith(_FALSE_ENDINGS):
            continue
        suffix = next((s for s in suffixes if segment.endswith(s) and len(segment) > len(s)), None)
        if suffix is None:
            continue
        best = (end, suffix)
        if following not in _EXTENDING_CHARS:
            break
    return best


def _address_prefix(value: str) -> int:
    """Length of the administrative prefix (province, prefecture, county) at the start of ``value``."""
    pos = 0
    level = 0  # 0 nothing yet, 1 province, 2 prefecture, 3 county
    for name in _MUNICIPALITIES:
        if value.startswith(name):
            pos = len(name) + (1 if value[len(name) : len(name) + 1] == "市" else 0)
            level = 2  # a municipality's districts come next
            break
    while level < 3:
        allowed = (_ALL_SUFFIXES, _PREFECTURE_SUFFIXES + _COUNTY_SUFFIXES, _COUNTY_SUFFIXES)[level]
        found = _next_unit(value, pos, allowed)
        if found is None:
            break
        pos, suffix = found
        if level == 0 and suffix in _PROVINCE_SUFFIXES:
            level = 1
        elif level <= 1 and suffix in _PREFECTURE_SUFFIXES:
            # A 市 right after the province is taken as prefecture-level; a 省直辖县级市 (仙桃市) with no
            # county after it is then simply the last unit kept, which is what we want.
            level = 2
        else:
            level = 3
    return pos


@register_mask("address", "地址")
def mask_address(value: str, *, fallback_keep: int = 6) -> str:
    """Keep the address up to and including the county-level unit (区/县/县级市/旗), then ``****``.

    ``广东省潮州市湘桥区西新街道枫春路12号`` → ``广东省潮州市湘桥区****``. When no county-level unit is
    recognised, the recognised province/prefecture prefix is kept (``广东省东莞市****``). When nothing is
    recognised, at most ``fallback_keep`` leading characters are kept, but never a digit, and at least 4
    characters are hidden (``枫春路12号…`` → ``枫春路****``), so a house number cannot leak.

    This is a heuristic on the text, checked against every GB/T 2260 county name: unusual names only
    shorten what is kept. A value that is nothing but an administrative prefix is returned unchanged.
    """
    keep = _address_prefix(value)
    if keep == 0:
        keep = max(0, min(_count(fallback_keep, "fallback_keep"), len(value) - len(_ADDRESS_MASK)))
        digit = next((i for i, c in enumerate(value[:keep]) if c.isdigit()), None)
        if digit is not None:
            keep = digit
    if keep >= len(value):
        return value
    return value[:keep] + _ADDRESS_MASK


#: (kind, label) pairs for form and model choices.
MASK_CHOICES: list[tuple[str, str]] = list(MASK_KINDS.items())
