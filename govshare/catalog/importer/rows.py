"""Turn one source row (any layout) into the arguments of ``services.create_resource``.

Each conversion counts which source field fed which resource field (``mapped``) and which fields fell
back to a default (``defaulted``); a value that cannot be mapped raises :class:`RowError` naming the
source column, so the rejection report speaks the file's own language.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from govshare.catalog.choices import OpenType, Secrecy, ShareMode, ShareType
from govshare.catalog.importer import layout
from govshare.catalog.importer.mapping import (
    ValueProblem,
    clean,
    fold,
    header_key,
    is_blank,
    is_placeholder,
    map_data_type,
    map_open_type,
    map_secrecy,
    map_share_modes,
    map_share_type,
    normalise_formats,
    normalise_update_cycle,
    parse_bool,
    parse_date,
    parse_int,
    parse_sensitivity,
    split_list,
    table,
)
from govshare.catalog.services import ItemSpec, ResourceFields

_CANONICAL = {target: header for header, target, _ in layout.RESOURCE_COLUMNS if target}
ITEM_HEADERS = {target: header for header, target, _ in layout.ITEM_COLUMNS}
MAX_NAME = 200


class RowError(Exception):
    def __init__(self, sheet: str, row: int, field: str, reason: str, value: Any = "") -> None:
        super().__init__(reason)
        self.sheet = sheet
        self.row = row
        self.field = field
        self.reason = reason
        self.value = "" if value is None else clean(value)[:100]


@dataclass
class Columns:
    """Which headers of the file feed which field (in mapping-table order), and which feed nothing."""

    sources: dict[str, list[str]]
    unmapped: list[str]

    def label(self, target: str, canonical: dict[str, str] = _CANONICAL) -> str:
        present = self.sources.get(target)
        return present[0] if present else canonical.get(target, target)


def resolve_columns(headers: Sequence[str], groups: dict[str, tuple[str, ...]]) -> Columns:
    by_key: dict[str, str] = {}
    for h in headers:
        by_key.setdefault(header_key(h), h)
    sources: dict[str, list[str]] = {}
    used: set[str] = set()
    for target, aliases in groups.items():
        for alias in aliases:
            found = by_key.get(header_key(alias))
            if found is not None and found not in used:
                sources.setdefault(target, []).append(found)
                used.add(found)
    info = table().informational
    unmapped = [h for h in headers if h not in used and header_key(h) not in info]
    return Columns(sources=sources, unmapped=unmapped)


@dataclass
class RowPlan:
    sheet: str
    row: int
    code: str
    name: str
    provider_name: str
    provider_uscc: str
    source_department_name: str
    fields: ResourceFields
    published_on: dt.date | None
    mapped: Counter[tuple[str, str]]
    defaulted: Counter[str]
    items: list[tuple[int, int, ItemSpec]] = field(default_factory=list)  # (position, row, spec)

    def item_specs(self) -> list[ItemSpec]:
        return [spec for _, _, spec in sorted(self.items, key=lambda t: (t[0], t[1]))]

    def item_rows(self) -> list[int]:
        return [row for _, row, _ in sorted(self.items, key=lambda t: (t[0], t[1]))]


class _Row:
    """Accessors over one row's values that record what was mapped and what was defaulted."""

    def __init__(self, sheet: str, row: int, values: dict[str, Any], columns: Columns) -> None:
        self.sheet, self.row, self.values, self.columns = sheet, row, values, columns
        self.mapped: Counter[tuple[str, str]] = Counter()
        self.defaulted: Counter[str] = Counter()

    def raw(self, target: str, *, placeholders_blank: bool = False) -> tuple[str, Any]:
        """The first non-blank source value for ``target``: ``(source header, value)`` or ``("", None)``."""
        blank = is_placeholder if placeholders_blank else is_blank
        for header in self.columns.sources.get(target, []):
            value = self.values.get(header)
            if not blank(value):
                self.mapped[(header, target)] += 1
                return header, value
        return "", None

    def text(self, target: str, *, placeholders_blank: bool = False) -> str:
        _, value = self.raw(target, placeholders_blank=placeholders_blank)
        if value is None:
            return ""
        if isinstance(value, list):
            return "、".join(clean(v) for v in value if not is_blank(v))
        return str(value).strip()

    def many(self, target: str) -> list[str]:
        """Every source of a list field, merged (标签 + 数据领域)."""
        out: list[str] = []
        for header in self.columns.sources.get(target, []):
            value = self.values.get(header)
            if not is_placeholder(value):
                self.mapped[(header, target)] += 1
                out += [t for t in split_list(value) if t not in out and fold(t) not in table().placeholders]
        return out

    def error(self, target: str, reason: str, value: Any = "") -> RowError:
        return RowError(self.sheet, self.row, self.columns.label(target), reason, value)


class RowConverter:
    def __init__(self, *, columns: Columns, default_classification: str, classifications: Iterable[str],
                 default_provider: str = "") -> None:
        self.columns = columns
        self.default_classification = default_classification
        self.classifications = set(classifications)
        self.default_provider = default_provider

    def convert(self, sheet: str, row: int, values: dict[str, Any]) -> RowPlan:
        r = _Row(sheet, row, values, self.columns)
        name = clean(r.text("name"))
        if not name:
            raise r.error("name", "信息资源名称不能为空 (name required)")
        if len(name) > MAX_NAME:
            raise r.error("name", f"信息资源名称超过 {MAX_NAME} 字 (name too long)", name)
        provider = clean(r.text("provider"))
        if not provider:
            if not self.default_provider:
                raise r.error("provider", "提供方不能为空 (provider required)")
            provider = self.default_provider
            r.defaulted["provider"] += 1
        fields = ResourceFields(name=name, classification_code=self._classification(r))
        self._sharing(r, fields)
        self._opening(r, fields)
        fields.summary = r.text("summary", placeholders_blank=True)
        _, formats = r.raw("formats", placeholders_blank=True)
        fields.formats = normalise_formats(formats) if formats is not None else []
        _, cycle = r.raw("update_cycle")
        fields.update_cycle, defaulted = normalise_update_cycle(cycle)
        if defaulted:
            r.defaulted["update_cycle"] += 1
        fields.related_codes = r.many("related_codes")
        fields.tags = r.many("tags")
        secrecy = r.text("secrecy", placeholders_blank=True)
        if not secrecy:
            r.defaulted["secrecy"] += 1
        else:
            fields.secrecy = self._map(r, "secrecy", map_secrecy, secrecy)
            if fields.secrecy != Secrecy.NON_SECRET:
                raise r.error("secrecy", "涉密信息资源不得进入共享平台 (classified resources never enter)", secrecy)
        published_on = None
        _, date_value = r.raw("published_on", placeholders_blank=True)
        try:
            published_on = parse_date(date_value)
        except ValueProblem:
            r.defaulted["published_on"] += 1  # unreadable dates are dropped, not fatal
        return RowPlan(
            sheet=sheet, row=row, code=clean(r.text("code")), name=name, provider_name=provider,
            provider_uscc=fold(r.text("provider_uscc", placeholders_blank=True)).upper(),
            source_department_name=clean(r.text("source_department", placeholders_blank=True)),
            fields=fields, published_on=published_on, mapped=r.mapped, defaulted=r.defaulted,
        )

    @staticmethod
    def _map(r: _Row, target: str, fn: Any, value: Any) -> Any:
        try:
            return fn(value)
        except ValueProblem as exc:
            raise r.error(target, str(exc), value) from None

    def _classification(self, r: _Row) -> str:
        value = r.text("classification_code", placeholders_blank=True)
        if not value:
            r.defaulted["classification_code"] += 1
            return self.default_classification
        code = fold(value).upper()
        if code not in self.classifications:
            raise r.error("classification_code", f"未知的资源分类代码 {code} (unknown classification)", value)
        return code

    def _sharing(self, r: _Row, fields: ResourceFields) -> None:
        share_type = r.text("share_type", placeholders_blank=True)
        if share_type:
            fields.share_type = self._map(r, "share_type", map_share_type, share_type)
        else:
            fields.share_type = ShareType.CONDITIONAL
            r.defaulted["share_type"] += 1
        fields.share_condition = r.text("share_condition", placeholders_blank=True)
        fields.no_share_basis = r.text("no_share_basis", placeholders_blank=True)
        _, modes = r.raw("share_modes", placeholders_blank=True)
        if modes is not None:
            fields.share_modes = self._map(r, "share_modes", map_share_modes, modes)
        elif fields.share_type == ShareType.NONE:
            fields.share_modes = []
        else:
            fields.share_modes = [ShareMode.API.value]
            r.defaulted["share_modes"] += 1
        if fields.share_type == ShareType.NONE:
            if not fields.no_share_basis:
                raise r.error("no_share_basis", "不予共享须提供法律、行政法规或政策依据 (legal basis required)")
            fields.share_modes = []

    def _opening(self, r: _Row, fields: ResourceFields) -> None:
        open_type = r.text("open_type", placeholders_blank=True)
        if open_type:
            fields.open_type = self._map(r, "open_type", map_open_type, open_type)
        else:
            fields.open_type = OpenType.NONE
            r.defaulted["open_type"] += 1
        fields.open_condition = r.text("open_condition", placeholders_blank=True)


@dataclass
class ItemRow:
    row: int
    resource_code: str
    position: int
    spec: ItemSpec
    defaulted: Counter[str]


class ItemConverter:
    def __init__(self, *, columns: Columns, elements: dict[str, str], element_names: dict[str, str]) -> None:
        self.columns = columns
        self.elements = elements  # folded code → code
        self.element_names = element_names  # folded name → code

    def label(self, target: str) -> str:
        return self.columns.label(target, ITEM_HEADERS)

    def convert(self, sheet: str, row: int, values: dict[str, Any]) -> ItemRow:
        r = _Row(sheet, row, values, self.columns)

        def fail(target: str, reason: str, value: Any = "") -> RowError:
            return RowError(sheet, row, self.label(target), reason, value)

        def parsed(target: str, fn: Any) -> Any:
            _, value = r.raw(target)
            if value is None:
                return None
            try:
                return fn(value)
            except ValueProblem as exc:
                raise fail(target, str(exc), value) from None

        code = clean(r.text("resource_code"))
        if not code:
            raise fail("resource_code", "信息项须填写所属的信息资源代码 (resource code required)")
        name = clean(r.text("name"))
        if not name:
            raise fail("name", "信息项名称不能为空 (item name required)")
        element_text = fold(r.text("element_code"))
        element = self.elements.get(element_text) if element_text else self.element_names.get(fold(name))
        if element is None:
            what = f"未知的数据元代码 {element_text.upper()}" if element_text else f"没有名为“{name}”的数据元"
            raise fail("element_code", f"{what} (unknown data element)", element_text)
        if not element_text:
            r.defaulted["items.element_code"] += 1
        column = clean(r.text("column_name")).lower() or None
        position = parsed("position", parse_int)
        spec = ItemSpec(
            name=name, element_code=element, column_name=column,
            data_type=parsed("data_type", map_data_type), length=parsed("length", parse_int),
            sensitivity=parsed("sensitivity", parse_sensitivity),
            required=bool(parsed("required", parse_bool)), is_key=bool(parsed("is_key", parse_bool)),
        )
        return ItemRow(row=row, resource_code=code, position=position if position is not None else 10**9,
                       spec=spec, defaulted=r.defaulted)
