"""Masking of base-library values outside the data plane (API and pages): each field by its data element's mask
(DESIGN.md §3 "Masking"); a field without a data element is masked in full. One module, used by the API and the
pages alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govshare.baselibs.models import BaseLibrary
from govshare.baselibs.services.discrepancies import unseal
from govshare.catalog.models import DataElement
from govshare.core.masking import mask

KeyMask = Callable[[str], str | None]


def key_masks(libraries: list[BaseLibrary]) -> dict[Any, KeyMask]:
    """Per library, the mask of its key's data element (one query for all)."""
    def key_element(lib: BaseLibrary) -> str:
        key = lib.definition.get("key", "")
        return next((f["element"] for f in lib.definition.get("fields", []) if f["column"] == key), "")

    codes = {lib.pk: key_element(lib) for lib in libraries}
    elements = {e.code: e for e in DataElement.objects.filter(code__in=set(codes.values()))}

    def masker(code: str) -> KeyMask:
        el = elements.get(code)
        return lambda v: mask(el.mask_kind or "none", v, el.mask_params) if el else mask("full", v)

    return {pk: masker(code) for pk, code in codes.items()}


class LibraryMasker:
    """Masks a library's values per the data element of each field (DESIGN.md §3, "Masking")."""

    def __init__(self, library: BaseLibrary) -> None:
        fields = library.definition.get("fields", [])
        elements = {e.code: e for e in DataElement.objects.filter(code__in=[f["element"] for f in fields])}
        self.names = {f["column"]: f["name"] for f in fields}
        self.kinds = {f["column"]: elements[f["element"]] for f in fields if f["element"] in elements}
        self.key = library.definition.get("key", "")

    def __call__(self, column: str, value: str | None) -> str | None:
        el = self.kinds.get(column)
        if el is None:
            return mask("full", value)
        return mask(el.mask_kind or "none", value, el.mask_params)

    def token(self, column: str, token: str) -> str | None:
        return self(column, unseal(token))
