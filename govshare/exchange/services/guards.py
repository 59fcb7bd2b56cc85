"""Inference guards (DESIGN.md §3): a grant must not let a masked value be rebuilt from plain ones, and
``verify_only`` is refused on low-entropy items (a yes/no oracle over few values leaks the value)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from govshare.catalog.choices import DataType
from govshare.catalog.models import DataItem
from govshare.exchange.choices import ItemMode

LOW_ENTROPY_TYPES = frozenset({DataType.BOOLEAN, DataType.ENUM})


@dataclass(frozen=True)
class Violation:
    code: str  # "correlation" or "low_entropy_verify"
    column: str
    message: str
    related: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "column": self.column, "message": self.message, "related": list(self.related)}


def check(items: Sequence[DataItem], modes: Mapping[str, str]) -> list[Violation]:
    """Violations of the guards for ``modes`` (column → mode) over the resource's ``items``."""
    by_column = {i.column_name: i for i in items}
    plain_elements = {by_column[c].element_id: c for c, m in modes.items() if m == ItemMode.PLAIN and c in by_column}
    out: list[Violation] = []
    for column, mode in sorted(modes.items()):
        item = by_column.get(column)
        if item is None:
            continue
        element = item.element
        if mode in (ItemMode.MASKED, ItemMode.VERIFY_ONLY):
            related = sorted(plain_elements[e.pk] for e in element.correlated_with.all() if e.pk in plain_elements)
            if related:
                out.append(Violation(
                    "correlation", column,
                    f"明文信息项 {', '.join(related)} 可推算出受保护的 {item.name} (plain items can rebuild {column})",
                    tuple(related)))
        if mode == ItemMode.VERIFY_ONLY and (element.low_entropy or item.data_type in LOW_ENTROPY_TYPES):
            out.append(Violation(
                "low_entropy_verify", column,
                f"{item.name} 取值很少，仅核验会被枚举 (verify_only refused on a low-entropy item)"))
    return out
