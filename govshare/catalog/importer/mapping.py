"""Field-name mapping and value normalisers for catalog import.

The table itself is data (``mapping.json`` next to this module): which source column names feed which
resource field, and which free-text values mean which vocabulary entry. This module only applies it.
Every normaliser is total: it either returns a vocabulary value or raises :class:`ValueProblem` with a
Chinese message (English in parentheses); none of them raises anything else on any input.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from govshare.catalog.choices import (
    DataType,
    OpenType,
    ResourceFormat,
    Secrecy,
    Sensitivity,
    ShareMode,
    ShareType,
    UpdateCycle,
)
from govshare.core.exports import neutralise, unneutralise  # noqa: F401 - used by the exporter/readers

MAPPING_FILE = Path(__file__).resolve().parent / "mapping.json"

# Characters a spreadsheet may read as the start of a formula (CSV/formula injection, OWASP).
LIST_SEPARATORS = re.compile(r"[、,，;；|｜\s]+")
_PARENTHESISED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】")


class ValueProblem(ValueError):
    """A cell value that cannot be mapped; the message is shown to the user as the rejection reason."""


@dataclass(frozen=True)
class Mapping:
    fields: dict[str, tuple[str, ...]]
    item_fields: dict[str, tuple[str, ...]]
    informational: frozenset[str]
    placeholders: frozenset[str]
    open_type: dict[str, str]
    share_type: dict[str, str]
    share_modes: dict[str, str]
    secrecy: dict[str, str]
    cycle_exact: dict[str, str]
    cycle_defaulted: frozenset[str]
    cycle_contains: tuple[tuple[str, tuple[str, ...]], ...]
    formats: dict[str, str]
    data_types: dict[str, str]
    booleans: dict[str, bool]


def fold(text: Any) -> str:
    """Normalise for comparison: NFKC (full-width → ASCII), no whitespace at all, case-folded."""
    if text is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


def clean(text: Any) -> str:
    """Normalise for storage: NFKC for punctuation and digits, whitespace runs collapsed to one space."""
    if text is None:
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    return " ".join(unicodedata.normalize("NFKC", str(text)).split())


def _lookup(table: dict[str, list[str]]) -> dict[str, str]:
    return {fold(alias): value for value, aliases in table.items() for alias in aliases}


@lru_cache(maxsize=1)
def table() -> Mapping:
    doc = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    cycle = doc["update_cycle"]
    return Mapping(
        fields={k: tuple(v) for k, v in doc["fields"].items()},
        item_fields={k: tuple(v) for k, v in doc["item_fields"].items()},
        informational=frozenset(fold(x) for x in doc["informational"]),
        placeholders=frozenset(fold(x) for x in doc["placeholders"]),
        open_type=_lookup(doc["open_type"]),
        share_type=_lookup(doc["share_type"]),
        share_modes=_lookup(doc["share_modes"]),
        secrecy=_lookup(doc["secrecy"]),
        cycle_exact=_lookup(cycle["exact"]),
        cycle_defaulted=frozenset(fold(x) for x in cycle["defaulted"]),
        cycle_contains=tuple((value, tuple(words)) for value, words in cycle["contains"]),
        formats=_lookup(doc["formats"]),
        data_types=_lookup(doc["data_types"]),
        booleans={fold(a): value == "true" for value, aliases in doc["booleans"].items() for a in aliases},
    )


def header_key(header: Any) -> str:
    """Compare column headers without whitespace, width, case or a trailing required-marker ``*``."""
    return fold(header).rstrip("*").lstrip("*")


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list | tuple):
        return all(is_blank(v) for v in value)
    return not str(value).strip()


def is_placeholder(value: Any) -> bool:
    """Blank, or a filler such as 暂无 / 无 / -- that means "no value"."""
    return is_blank(value) or (not isinstance(value, list | tuple) and fold(value) in table().placeholders)


def split_list(value: Any) -> list[str]:
    """A list cell: a JSON list, or text separated by 、 , ; or whitespace. Order kept, repeats dropped."""
    parts: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for part in parts:
        if part is None:
            continue
        for token in LIST_SEPARATORS.split(unicodedata.normalize("NFKC", str(part))):
            token = token.strip()
            if token and token not in out:
                out.append(token)
    return out


_ENGLISH = {"开放类型": "open type", "共享类型": "share type", "涉密属性": "secrecy", "共享方式": "share mode",
            "数据类型": "data type"}


def _choice(value: Any, lookup: dict[str, str], what: str, allowed: Sequence[str]) -> str:
    key = fold(value)
    if key in lookup:
        return lookup[key]
    raise ValueProblem(f"无法识别的{what}“{clean(value)[:40]}”，应为 {'/'.join(allowed)} "
                       f"(unknown {_ENGLISH.get(what, 'value')})")


def map_open_type(value: Any) -> str:
    lookup = dict(table().open_type)
    lookup.update({fold(v): v for v in OpenType.values} | {fold(label): v for v, label in OpenType.choices})
    return _choice(value, lookup, "开放类型", [str(x) for x in OpenType.labels])


def map_share_type(value: Any) -> str:
    lookup = dict(table().share_type)
    lookup.update({fold(v): v for v in ShareType.values} | {fold(label): v for v, label in ShareType.choices})
    return _choice(value, lookup, "共享类型", [str(x) for x in ShareType.labels])


def map_secrecy(value: Any) -> str:
    lookup = dict(table().secrecy)
    lookup.update({fold(v): v for v in Secrecy.values} | {fold(label): v for v, label in Secrecy.choices})
    return _choice(value, lookup, "涉密属性", [str(x) for x in Secrecy.labels])


def map_share_modes(value: Any) -> list[str]:
    lookup = dict(table().share_modes)
    lookup.update({fold(v): v for v in ShareMode.values} | {fold(label): v for v, label in ShareMode.choices})
    modes = [_choice(token, lookup, "共享方式", [str(x) for x in ShareMode.labels]) for token in split_list(value)]
    return [m for m in ShareMode.values if m in modes]


def map_data_type(value: Any) -> str:
    lookup = dict(table().data_types)
    lookup.update({fold(v): v for v in DataType.values} | {fold(label): v for v, label in DataType.choices})
    text = re.sub(r"\(.*\)$", "", fold(value))  # varchar(50) → varchar
    return _choice(text, lookup, "数据类型", [str(x) for x in DataType.labels])


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    key = fold(value)
    if key in table().booleans:
        return table().booleans[key]
    raise ValueProblem(f"应为 是/否: “{clean(value)[:20]}” (expected yes/no)")


def parse_sensitivity(value: Any) -> int:
    """L1–L4, 1–4, or a label such as 较敏感 / L3 较敏感."""
    text = fold(value)
    m = re.match(r"^l?([1-4])(?:$|\D)", text)
    if m:
        return int(m.group(1))
    for level, label in Sensitivity.choices:
        if text and text == fold(str(label).split()[-1]):
            return int(level)
    raise ValueProblem(f"敏感级别须为 L1–L4: “{clean(value)[:20]}” (sensitivity must be L1–L4)")


def parse_int(value: Any) -> int | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueProblem("应为整数 (expected an integer)")
    if isinstance(value, int):
        n = value
    else:
        try:
            f = float(fold(value))
        except ValueError:
            raise ValueProblem(f"应为整数: “{clean(value)[:20]}” (expected an integer)") from None
        if not f.is_integer():
            raise ValueProblem(f"应为整数: “{clean(value)[:20]}” (expected an integer)")
        n = int(f)
    if n < 0 or n > 2_000_000_000:
        raise ValueProblem(f"整数超出范围: {n} (out of range)")
    return n


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value: Any) -> dt.date | None:
    """A date cell or text such as 2023-05-10, 2023/5/10, 2023年5月10日, 20230510 (time parts ignored).
    Unreadable text raises :class:`ValueProblem`; blank gives None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if is_placeholder(value):
        return None
    text = clean(value)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
    raise ValueProblem(f"无法识别的日期“{text[:30]}” (unreadable date)")


def normalise_update_cycle(value: Any) -> tuple[str, bool]:
    """Map free text onto the fixed vocabulary 实时/每日/每周/每月/每季度/每半年/每年/不定期.

    Returns ``(value, defaulted)``: ``defaulted`` is True when the text gave no usable cycle (blank,
    暂无, 不更新, unrecognised) and 不定期 was assumed. Never raises.
    """
    t = table()
    full = fold(value)
    if not full:
        return UpdateCycle.IRREGULAR.value, True
    # 不定期(更新说明:暂无新业务数据产生) → 不定期: the remark in parentheses is not the cycle.
    main = _PARENTHESISED.sub("", full).strip(":：") or full
    for candidate in (main, full):
        if candidate in t.cycle_exact:
            return t.cycle_exact[candidate], False
        if candidate in UpdateCycle.values:
            return candidate, False
        if candidate in t.cycle_defaulted or candidate in t.placeholders:
            return UpdateCycle.IRREGULAR.value, True
    # Free text: the vocabulary word that appears first wins (每年12月 → 每年, 每日实时 → 每日).
    best: tuple[int, int, str] | None = None
    for rank, (cycle, words) in enumerate(t.cycle_contains):
        for word in words:
            pos = main.find(fold(word))
            if pos >= 0 and (best is None or (pos, rank) < best[:2]):
                best = (pos, rank, cycle)
    if best is not None:
        return best[2], False
    return UpdateCycle.IRREGULAR.value, True


def normalise_formats(value: Any) -> list[str]:
    """Map format text or lists (数据库-sqlServer, xls,csv, ["xml","json"], 电子表格) onto ResourceFormat
    values, in vocabulary order. Unknown tokens become 其他 (other). Never raises."""
    t = table()
    lookup = dict(t.formats)
    lookup.update({fold(v): v for v in ResourceFormat.values}
                  | {fold(label): v for v, label in ResourceFormat.choices})
    found: set[str] = set()
    for token in split_list(value):
        key = fold(token).lstrip(".")
        # 数据库-mysql, 电子表格-xlsx: the part before the dash names the kind; the rest the product.
        head = re.split(r"[-_/:]", key, maxsplit=1)[0] if re.search(r"[-_/:]", key) else key
        kind = lookup.get(key) or lookup.get(head)
        if kind is None:
            tail = key.rsplit(".", 1)[-1]  # a file name such as data.xlsx
            kind = lookup.get(tail, ResourceFormat.OTHER.value)
        found.add(kind)
    return [f for f in ResourceFormat.values if f in found]
