"""``search_resources``: full-text match, facet filters, disjunctive facet counts, sorting, pagination.

One query fetches a compact row (pk, code and the facet columns) for every visible resource matching the
text; facet counts, the total and the filtered set are computed from those rows in one pass:

* a row passing every filter counts for every facet and for the total;
* a row failing exactly one filter counts only for that filter's facet (disjunctive faceting: a facet's
  counts ignore its own filter, so the other values of a selected facet keep their counts);
* a row failing two or more filters counts nowhere.

Queries per search, whatever the size of the result (six at most): the classification tree; the facet
rows, which in relevance order also carry each row's name/code hits and score (SQLite scores in a query
of its own, since bm25 needs the FTS5 cursor); the department names for the provider facet; then the
page — the page's resources by key (relevance) or one keyset query (the other sorts). Filters exist
twice, as Python tests over facet rows and as SQL for keyset pages; they apply the same rule, which the
tests check by walking every sort's pages against the relevance results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from django.db.models import Q, QuerySet, TextField, Value
from django.db.models.functions import Cast, Coalesce

from govshare.catalog import selectors
from govshare.catalog.choices import (
    Category,
    ClassLevel,
    OpenType,
    ResourceFormat,
    ResourceStatus,
    Sensitivity,
    ShareType,
    UpdateCycle,
)
from govshare.catalog.models import Classification, Resource
from govshare.catalog.search.backends import SearchMatch, fetch_rows
from govshare.catalog.search.text import ParsedQuery, parse_query
from govshare.core.api import MAX_PAGE_SIZE, decode_cursor, encode_cursor, paginate
from govshare.core.errors import ValidationFailed
from govshare.organizations.models import Department

FACET_CAP = 20
MAX_RELEVANCE_OFFSET = 5000  # deeper relevance pages are not offered: refine the query instead
EXPORT_MAX_ROWS = 5000

SORTS = {
    "relevance": "相关度",
    "name": "名称",
    "published": "发布日期（最新在前）",
    "code": "信息资源代码",
}

# ---------------------------------------------------------------------------------------------
# Classification tree: the 项 a resource counts under
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassificationTree:
    """Code → (name, level, parent), each code's chain of ancestors, and the 项 it counts under. Small
    (hundreds of nodes); loaded once per search."""

    nodes: Mapping[str, tuple[str, str, str | None]]
    chains: Mapping[str, tuple[str, ...]]  # the code itself, then its ancestors up to the 类
    tops: Mapping[str, str]

    @classmethod
    def load(cls) -> ClassificationTree:
        nodes = {code: (name, level, parent) for code, name, level, parent in
                 Classification.objects.values_list("code", "name", "level", "parent_id")}
        chains = {code: cls._chain(nodes, code) for code in nodes}
        # The 项 (second level; the first below the 类 that ``category`` already gives) containing a
        # code. A resource classified at 类 level counts under that 类.
        tops = {code: next((c for c in reversed(chain) if nodes[c][1] == ClassLevel.XIANG), chain[-1])
                for code, chain in chains.items()}
        return cls(nodes=nodes, chains=chains, tops=tops)

    @staticmethod
    def _chain(nodes: Mapping[str, tuple[str, str, str | None]], code: str) -> tuple[str, ...]:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in nodes and current not in chain:
            chain.append(current)
            current = nodes[current][2]
        return tuple(chain)

    def top(self, code: str) -> str:
        return self.tops.get(code, code)

    def name(self, code: str) -> str:
        node = self.nodes.get(code)
        return node[0] if node else code

    def under(self, codes: Iterable[str]) -> list[str]:
        """Every classification code at or below one of ``codes``."""
        wanted = set(codes)
        return [code for code, chain in self.chains.items() if not wanted.isdisjoint(chain)]


# ---------------------------------------------------------------------------------------------
# Facets
# ---------------------------------------------------------------------------------------------

# A facet row, exactly as the database driver returns it (no Django converters: this runs over every
# match): id and provider id as text, code, category, share_type, open_type, update_cycle, sensitivity,
# formats as JSON text, classification. Ids are text in the database's own spelling (dashed on
# PostgreSQL, 32 hex digits on SQLite); they are turned into UUIDs only for the page and the labels.
_PK, _CODE, _CATEGORY, _SHARE, _OPEN, _CYCLE, _SENSITIVITY, _FORMATS, _PROVIDER, _CLASSIFICATION = range(10)
_NAME_HIT, _CODE_HIT, _SCORE = range(10, 13)  # present when rows are fetched for relevance order
_ROW_FIELDS = ("_id", "code", "category", "share_type", "open_type", "update_cycle", "sensitivity", "_formats",
               "_provider", "classification_id")
# formats is a JSON list; a row has a format when its JSON text holds the quoted value. SQL tests the
# same thing (LIKE on the JSON text: SQLite stores text, PostgreSQL casts jsonb to text), so no JSON-path
# functions are needed and both sides agree.
_FORMAT_NEEDLES = tuple((value, f'"{value}"') for value in ResourceFormat.values)

Row = tuple[Any, ...]


def _uuid_spellings(value: str) -> set[str]:
    """Both ways a database may spell a UUID as text (a row's spelling is then a plain set member)."""
    parsed = uuid.UUID(value)
    return {str(parsed), parsed.hex}


@dataclass(frozen=True)
class FacetSpec:
    key: str
    label: str
    vocabulary: Mapping[str, str] | None  # enumerated facets: value → label
    column: int  # position in a facet row
    sql: Callable[[list[str], ClassificationTree], Q]  # the filter, for the database
    raw_values: Callable[[list[str], ClassificationTree], set[Any]]  # the filter, as accepted row values
    from_raw: Callable[[Any], str] = str  # a row value as the API shows it


def _same(values: list[str], tree: ClassificationTree) -> set[Any]:
    return set(values)


FACETS: dict[str, FacetSpec] = {
    spec.key: spec
    for spec in (
        FacetSpec("category", "分类", dict(Category.choices), _CATEGORY,
                  lambda values, tree: Q(category__in=values), _same),
        FacetSpec("classification", "分类（项）", None, _CLASSIFICATION,
                  lambda values, tree: Q(classification_id__in=tree.under(values)),
                  lambda values, tree: set(tree.under(values))),
        FacetSpec("provider", "提供部门", None, _PROVIDER,
                  lambda values, tree: Q(provider_id__in=[uuid.UUID(v) for v in values]),
                  lambda values, tree: set().union(*(_uuid_spellings(v) for v in values)),
                  from_raw=lambda raw: str(uuid.UUID(str(raw)))),
        FacetSpec("share_type", "共享类型", dict(ShareType.choices), _SHARE,
                  lambda values, tree: Q(share_type__in=values), _same),
        FacetSpec("open_type", "开放属性", dict(OpenType.choices), _OPEN,
                  lambda values, tree: Q(open_type__in=values), _same),
        FacetSpec("update_cycle", "更新周期", dict(UpdateCycle.choices), _CYCLE,
                  lambda values, tree: Q(update_cycle__in=values), _same),
        FacetSpec("format", "格式", dict(ResourceFormat.choices), _FORMATS,
                  lambda values, tree: _any_of(Q(formats__icontains=f'"{v}"') for v in values),
                  lambda values, tree: {f'"{v}"' for v in values}),  # needles, see _passes
        FacetSpec("sensitivity", "敏感级别", {str(k): v for k, v in Sensitivity.choices}, _SENSITIVITY,
                  lambda values, tree: Q(sensitivity__in=[int(v) for v in values]),
                  lambda values, tree: {int(v) for v in values}),
    )
}


def _passes(key: str, values: list[str], tree: ClassificationTree) -> Callable[[Row], bool]:
    """The filter ``key in values`` as a test of one facet row; the same rule as ``FacetSpec.sql``."""
    spec = FACETS[key]
    column, accepted = spec.column, spec.raw_values(values, tree)
    if key == "format":
        needles = tuple(accepted)
        return lambda row: any(needle in (row[column] or "") for needle in needles)
    return lambda row: row[column] in accepted


def _tally(key: str, rows: list[Row], tree: ClassificationTree) -> Counter[str]:
    """The values of facet ``key`` over ``rows``, counted as the API shows them."""
    spec = FACETS[key]
    if key == "format":
        texts = [row[spec.column] or "" for row in rows]
        return Counter({value: n for value, needle in _FORMAT_NEEDLES if (n := sum(needle in t for t in texts))})
    raw = Counter(map(itemgetter(spec.column), rows))
    out: Counter[str] = Counter()
    for value, n in raw.items():
        out[tree.top(value) if key == "classification" else spec.from_raw(value)] += n
    return out


def _any_of(conditions: Iterable[Q]) -> Q:
    out = Q()
    for condition in conditions:
        out |= condition
    return out


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class Facet:
    key: str
    label: str
    values: list[FacetValue]


@dataclass
class SearchResult:
    items: list[Resource]
    next_cursor: str | None
    facets: dict[str, Facet]
    total: int
    sort: str
    query: ParsedQuery = field(repr=False, default_factory=lambda: parse_query(""))


def _sensitivity_value(raw: str) -> str:
    value = raw.strip().upper().removeprefix("L")
    return value if value in {str(v) for v in Sensitivity.values} else raw


def clean_filters(filters: Mapping[str, list[str]] | None, tree: ClassificationTree) -> dict[str, list[str]]:
    """Validate facet filters (values of one facet are OR-ed, facets AND-ed); errors name the field.
    A value may also be a comma-separated list."""
    out: dict[str, list[str]] = {}
    for key, raw_values in (filters or {}).items():
        spec = FACETS.get(key)
        if spec is None:
            raise ValidationFailed(f"未知的筛选条件: {key} (unknown filter)", field=key)
        values = list(dict.fromkeys(v.strip() for raw in raw_values for v in str(raw).split(",") if v.strip()))
        if not values:
            continue
        if key == "sensitivity":
            values = [_sensitivity_value(v) for v in values]
        if key == "provider":
            try:
                values = list(dict.fromkeys(str(uuid.UUID(v)) for v in values))
            except ValueError:
                raise ValidationFailed("提供部门标识无效 (provider must be a department id)", field=key) from None
        allowed = spec.vocabulary if spec.vocabulary is not None else (
            tree.nodes if key == "classification" else None)
        if allowed is not None:
            bad = [v for v in values if v not in allowed]
            if bad:
                hint = f"（可选: {', '.join(allowed)}）" if spec.vocabulary is not None else ""
                raise ValidationFailed(f"{spec.label}取值无效: {', '.join(bad)}{hint}", field=key,
                                       details={"invalid": bad})
        out[key] = values
    return out


def _apply_filters(qs: QuerySet[Resource], filters: Mapping[str, list[str]],
                   tree: ClassificationTree) -> QuerySet[Resource]:
    for key, values in filters.items():
        qs = qs.filter(FACETS[key].sql(values, tree))
    return qs


def _facet_rows(qs: QuerySet[Resource], parsed: ParsedQuery | None = None) -> list[Row]:
    """Compact rows of ``qs``; with ``parsed`` (relevance order) also their name/code hits and score."""
    if qs.query.is_empty():
        return []
    compact = qs.order_by().annotate(
        _id=Cast("id", TextField()), _provider=Cast("provider_id", TextField()),
        _formats=Cast("formats", TextField()),
    ).values_list(*_ROW_FIELDS)
    sql, params = compact.query.sql_with_params()
    return fetch_rows(sql, params, parsed.tree() if parsed is not None and parsed.terms else None)


def _count(rows: list[Row], filters: Mapping[str, list[str]], tree: ClassificationTree,
           ) -> tuple[dict[str, Counter[str]], list[Row]]:
    """Disjunctive facet counts and the rows passing every filter. A facet is counted over the rows
    that pass every filter except its own; the total and the page come from the rows passing all."""
    if not filters:
        return {key: _tally(key, rows, tree) for key in FACETS}, rows
    verdicts = {key: [test(row) for row in rows] for key, test in
                ((key, _passes(key, values, tree)) for key, values in filters.items())}
    failures = [row_verdicts.count(False) for row_verdicts in zip(*verdicts.values(), strict=True)]
    matched = [row for row, failed in zip(rows, failures, strict=True) if not failed]
    counts: dict[str, Counter[str]] = {}
    for key in FACETS:
        if key in verdicts:
            others_pass = [row for row, failed, ok in zip(rows, failures, verdicts[key], strict=True)
                           if not failed or (failed == 1 and not ok)]
            counts[key] = _tally(key, others_pass, tree)
        else:
            counts[key] = _tally(key, matched, tree)
    return counts, matched


def _build_facets(counts: Mapping[str, Counter[str]], filters: Mapping[str, list[str]],
                  tree: ClassificationTree) -> dict[str, Facet]:
    provider_ids = set(counts["provider"]) | set(filters.get("provider", []))
    providers = ({str(pk): name for pk, name in
                  Department.objects.filter(pk__in=[uuid.UUID(p) for p in provider_ids]).values_list("pk", "name")}
                 if provider_ids else {})
    facets: dict[str, Facet] = {}
    for key, spec in FACETS.items():
        selected = list(filters.get(key, []))
        if spec.vocabulary is not None:
            labels: Mapping[str, str] = spec.vocabulary
            order = {v: i for i, v in enumerate(spec.vocabulary)}
        else:
            labels = providers if key == "provider" else {v: tree.name(v) for v in counts[key]} | {
                v: tree.name(v) for v in selected}
            order = {}

        tally = counts[key]

        def rank(value: str, tally: Counter[str] = tally, labels: Mapping[str, str] = labels,
                 order: Mapping[str, int] = order) -> tuple[int, int, str, str]:
            return (-tally[value], order.get(value, 0), labels.get(value, value), value)

        top = sorted((v for v, n in tally.items() if n > 0), key=rank)[:FACET_CAP]
        top += [v for v in selected if v not in top]
        facets[key] = Facet(key=key, label=spec.label, values=[
            FacetValue(value=v, label=labels.get(v, v), count=tally[v], selected=v in selected) for v in top])
    return facets


# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------


def _base(user: Any, include_drafts: bool) -> QuerySet[Resource]:
    qs = selectors.resources_visible_to(user)
    # Working copies (drafts, pending entries, revisions) only on request; visibility still decides whose.
    return qs if include_drafts else qs.filter(is_listed=True)


def _with_text(qs: QuerySet[Resource], parsed: ParsedQuery) -> QuerySet[Resource]:
    if parsed.unmatchable:
        return qs.none()
    return qs.filter(SearchMatch(parsed.tree())) if parsed.terms else qs


def _resolve_sort(sort: str | None, parsed: ParsedQuery) -> str:
    sort = (sort or "").strip()
    if not sort:
        return "relevance" if parsed.terms else "code"
    if sort not in SORTS:
        raise ValidationFailed(f"排序方式无效: {sort}（可选: {', '.join(SORTS)}）", field="sort",
                               details={"allowed": list(SORTS)})
    return sort if sort != "relevance" or parsed.terms else "code"


def _scope(parsed: ParsedQuery, filters: Mapping[str, list[str]], sort: str, include_drafts: bool) -> str:
    """Cursor scope: a cursor only continues the listing it came from."""
    key = json.dumps([parsed.raw.strip(), sorted((k, sorted(v)) for k, v in filters.items()), include_drafts],
                     ensure_ascii=False)
    return f"catalog-search:{sort}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


_KEYSET_ORDERING = {"name": ["name"], "code": ["code"], "published": ["-_published"]}


def _keyset_qs(qs: QuerySet[Resource], sort: str) -> QuerySet[Resource]:
    if sort == "published":
        # Working copies never published sort last; the date floor keeps the keyset free of NULLs.
        return qs.annotate(_published=Coalesce("published_on", Value(dt.date(1, 1, 1))))
    return qs


def _ranked(matched: list[Row]) -> list[Any]:
    """Relevance order of the matched rows' keys: every query term in the name first, then in the code,
    then the engine's score (ts_rank on PostgreSQL, bm25 on SQLite), then the code (unique)."""
    keyed = sorted(matched, key=lambda r: (not r[_NAME_HIT], not r[_CODE_HIT], -r[_SCORE], r[_CODE]))
    return [r[_PK] for r in keyed]


def _fetch(base: QuerySet[Resource], keys: list[Any]) -> list[Resource]:
    pks = [uuid.UUID(str(k)) for k in keys]
    by_pk = {r.pk: r for r in base.filter(pk__in=pks)} if pks else {}
    return [by_pk[pk] for pk in pks if pk in by_pk]


def search_resources(
    *,
    user: Any,
    q: str = "",
    filters: Mapping[str, list[str]] | None = None,
    sort: str = "",
    cursor: str | None = None,
    limit: int = 20,
    include_drafts: bool = False,
    with_facets: bool = True,
) -> SearchResult:
    """Search the catalog as ``user`` sees it. ``q`` is free text (segmented; abbreviations expanded
    both ways); ``filters`` maps a facet key to accepted values; ``sort`` is one of :data:`SORTS`
    (default: relevance with a query, code without); ``cursor`` continues a previous page."""
    if limit < 1 or limit > MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit 必须在 1 到 {MAX_PAGE_SIZE} 之间", field="limit")
    parsed = parse_query(q)
    tree = ClassificationTree.load()
    clean = clean_filters(filters, tree)
    sort = _resolve_sort(sort, parsed)
    scope = _scope(parsed, clean, sort, include_drafts)
    base = _base(user, include_drafts)
    text_qs = _with_text(base, parsed)
    facets: dict[str, Facet] = {}
    matched: list[Row] | None = None
    if with_facets or sort == "relevance":
        counts, matched = _count(_facet_rows(text_qs, parsed if sort == "relevance" else None), clean, tree)
        total = len(matched)
        if with_facets:
            facets = _build_facets(counts, clean, tree)
    else:
        filtered = _apply_filters(text_qs, clean, tree)
        total = 0 if filtered.query.is_empty() else filtered.order_by().count()

    if sort != "relevance":
        filtered = _apply_filters(text_qs, clean, tree)
        if filtered.query.is_empty():
            if cursor:
                decode_cursor(cursor, scope)
            return SearchResult([], None, facets, total, sort, parsed)
        items, next_cursor = paginate(_keyset_qs(filtered, sort), cursor=cursor, limit=limit,
                                      ordering=_KEYSET_ORDERING[sort], scope=scope)
        return SearchResult(items, next_cursor, facets, total, sort, parsed)

    offset = 0
    if cursor:
        values = decode_cursor(cursor, scope)
        if len(values) != 1 or not isinstance(values[0], int) or not 0 <= values[0] <= MAX_RELEVANCE_OFFSET:
            raise ValidationFailed("游标无效 (invalid cursor)", field="cursor")
        offset = values[0]
    assert matched is not None
    ordered = _ranked(matched)
    page = ordered[offset:offset + limit]
    more = len(ordered) > offset + limit and offset + limit <= MAX_RELEVANCE_OFFSET
    return SearchResult(_fetch(base, page), encode_cursor([offset + limit], scope) if more else None, facets,
                        total, sort, parsed)


def export_resources(
    *,
    user: Any,
    q: str = "",
    filters: Mapping[str, list[str]] | None = None,
    sort: str = "",
    include_drafts: bool = False,
    max_rows: int = EXPORT_MAX_ROWS,
) -> tuple[list[Resource], bool]:
    """Every matching resource in the listing order, up to ``max_rows``; the flag says it was cut."""
    parsed = parse_query(q)
    tree = ClassificationTree.load()
    clean = clean_filters(filters, tree)
    sort = _resolve_sort(sort, parsed)
    base = _base(user, include_drafts)
    text_qs = _with_text(base, parsed)
    if sort == "relevance":
        _, matched = _count(_facet_rows(text_qs, parsed), clean, tree)
        ordered = _ranked(matched)
        return _fetch(base, ordered[:max_rows]), len(ordered) > max_rows
    filtered = _apply_filters(text_qs, clean, tree)
    if filtered.query.is_empty():
        return [], False
    ordering = _KEYSET_ORDERING[sort]
    rows = list(_keyset_qs(filtered, sort).order_by(*ordering, "-pk" if ordering[0].startswith("-") else "pk")
                [: max_rows + 1])
    return rows[:max_rows], len(rows) > max_rows


# ---------------------------------------------------------------------------------------------
# What a row shows
# ---------------------------------------------------------------------------------------------

PUBLIC_FIELDS = ("name", "summary", "category", "share_type", "open_type", "update_cycle", "sensitivity",
                 "formats")


def displayed_fields(user: Any, r: Resource) -> dict[str, Any]:
    """The fields a result row shows. Like the detail view, a viewer outside the provider side sees the
    published snapshot while a revision of a listed resource is being drafted, never the draft."""
    values = {f: getattr(r, f) for f in PUBLIC_FIELDS}
    status = r.status
    revising = r.status in (ResourceStatus.DRAFT, ResourceStatus.PENDING) and r.published_version_id
    if revising and r.is_listed and not selectors.sees_working_copy(user, r) and r.published_version:
        snap = r.published_version.snapshot
        values.update({f: snap[f] for f in PUBLIC_FIELDS if f in snap})
        status = ResourceStatus.PUBLISHED
    return {**values, "status": status}
