"""Catalog search (DESIGN.md §4 "Search").

* :mod:`.text` — normalisation, jieba + character n-gram segmentation, the abbreviation table, query parsing;
* :mod:`.backends` — PostgreSQL ``simple`` tsvector / SQLite FTS5 match, rank and index maintenance;
* :mod:`.engine` — ``search_resources``: filters, disjunctive facets, sorting, cursor pagination.

The services call :func:`build_search_text` before saving a resource and :func:`sync_search_index`
after; bulk loads call :func:`rebuild_search_index`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from govshare.catalog.models import DataItem, Resource
from govshare.catalog.search.backends import reload_documents, remove_document, sync_document
from govshare.catalog.search.engine import (
    FACETS,
    SORTS,
    Facet,
    FacetValue,
    SearchResult,
    displayed_fields,
    export_resources,
    search_resources,
)
from govshare.catalog.search.text import build_document, parse_query

__all__ = [
    "FACETS",
    "SORTS",
    "Facet",
    "FacetValue",
    "SearchResult",
    "build_search_text",
    "displayed_fields",
    "export_resources",
    "parse_query",
    "rebuild_search_index",
    "remove_from_search_index",
    "search_resources",
    "sync_search_index",
]


def build_search_text(resource: Resource, item_names: list[str]) -> str:
    """The normalised token document of a resource: its name, its code, and (as body) summary, item
    names, provider and source department, classification name and tags."""
    body = [resource.summary, *item_names]
    if resource.provider_id:
        body.append(resource.provider.name)
    if resource.source_department_id:
        body.append(resource.source_department.name if resource.source_department else "")
    if resource.classification_id:
        body.append(resource.classification.name)
    body.extend(str(t) for t in (resource.tags or []))
    return build_document(name=resource.name, code=resource.code or "", body=body)


def sync_search_index(resource: Resource) -> None:
    """Bring the index entry of ``resource`` (as saved) up to date. Called by the services after each
    write, inside their transaction."""
    sync_document(resource.pk, resource.search_text)


def remove_from_search_index(resource_pk: Any) -> None:
    remove_document(resource_pk)


def rebuild_search_index(*, recompute: bool = False, batch: int = 500) -> int:
    """Rebuild the whole index (after bulk loads, restores, or a change of segmentation rules).

    ``recompute`` first rewrites every ``search_text`` from the resource's current fields and items
    (needed after upgrading the segmenter or user dictionary). Returns the number of resources indexed.
    """
    with transaction.atomic():
        if recompute:
            _recompute_all(batch)
        return reload_documents(_all_texts(batch))


def _chunks(batch: int) -> Any:
    last = None
    while True:
        qs = Resource.objects.order_by("pk")
        if last is not None:
            qs = qs.filter(pk__gt=last)
        rows = list(qs.values_list("pk", flat=True)[:batch])
        if not rows:
            return
        yield rows
        last = rows[-1]


def _all_texts(batch: int) -> Any:
    for pks in _chunks(batch):
        yield list(Resource.objects.filter(pk__in=pks).order_by("pk").values_list("pk", "search_text"))


def _recompute_all(batch: int) -> None:
    for pks in _chunks(batch):
        resources = list(Resource.objects.filter(pk__in=pks)
                         .select_related("provider", "classification", "source_department"))
        names: dict[Any, list[str]] = {}
        for resource_id, name in (DataItem.objects.filter(resource_id__in=pks)
                                  .order_by("resource_id", "position").values_list("resource_id", "name")):
            names.setdefault(resource_id, []).append(name)
        changed = []
        for r in resources:
            text = build_search_text(r, names.get(r.pk, []))
            if text != r.search_text:
                r.search_text = text
                changed.append(r)
        Resource.objects.bulk_update(changed, ["search_text"], batch_size=batch)
