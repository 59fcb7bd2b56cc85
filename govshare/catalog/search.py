"""Catalog search text (placeholder until the search module lands)."""

from __future__ import annotations

from govshare.catalog.models import Resource


def build_search_text(resource: Resource, item_names: list[str]) -> str:
    return " ".join([resource.name, resource.summary, *item_names])


def sync_search_index(resource: Resource) -> None:
    return None
