"""Catalog search API (mounted under /api/v1/catalog): ``GET /search`` with facets and cursor pagination,
and its download twins ``GET /search.csv`` / ``GET /search.json``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from govshare.catalog.choices import Category, OpenType, ResourceFormat, Sensitivity, ShareType, UpdateCycle
from govshare.catalog.models import Resource
from govshare.catalog.search import SORTS, displayed_fields, export_resources, search_resources
from govshare.catalog.search.engine import EXPORT_MAX_ROWS, FACETS, Facet
from govshare.core.exports import neutralise_text

router = Router(tags=["catalog 目录系统"])

SUMMARY_CHARS = 120
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP).


class SearchParams(Schema):
    q: str = Field("", max_length=200, description="检索词（自动分词，简称与全称互查，如 社保 ↔ 社会保险）")
    category: list[str] = Field([], description="分类: basic / theme / department")
    classification: list[str] = Field([], description="分类代码（任一级，含下级）, e.g. 101")
    provider: list[str] = Field([], description="提供部门 id")
    share_type: list[str] = Field([], description="共享类型")
    open_type: list[str] = Field([], description="开放属性")
    update_cycle: list[str] = Field([], description="更新周期")
    format: list[str] = Field([], description="格式")
    sensitivity: list[str] = Field([], description="敏感级别 1–4")
    sort: str = Field("", description=f"排序: {', '.join(SORTS)}（有检索词时默认 relevance，否则 code）")
    include_drafts: bool = Field(False, description="包含本部门（或本节点）的工作副本")

    def filters(self) -> dict[str, list[str]]:
        return {key: getattr(self, key) for key in FACETS if getattr(self, key)}


class ProviderRef(Schema):
    id: uuid.UUID
    name: str


class SearchItem(Schema):
    id: uuid.UUID
    code: str
    name: str
    summary: str
    provider: ProviderRef
    category: str
    classification_code: str
    share_type: str
    open_type: str
    update_cycle: str
    sensitivity: int
    formats: list[str]
    published_on: dt.date | None
    status: str


class FacetValueOut(Schema):
    value: str
    label: str
    count: int
    selected: bool


class FacetOut(Schema):
    label: str
    values: list[FacetValueOut]


class SearchOut(Schema):
    items: list[SearchItem]
    facets: dict[str, FacetOut]
    total: int
    next_cursor: str | None = None
    sort: str


def _truncate(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item(user: Any, r: Resource, *, full_summary: bool = False) -> dict[str, Any]:
    shown = displayed_fields(user, r)
    return {
        "id": r.pk, "code": r.code, "name": shown["name"],
        "summary": shown["summary"] if full_summary else _truncate(shown["summary"]),
        "provider": {"id": r.provider_id, "name": r.provider.name}, "category": shown["category"],
        "classification_code": r.classification_id, "share_type": shown["share_type"],
        "open_type": shown["open_type"], "update_cycle": shown["update_cycle"],
        "sensitivity": shown["sensitivity"], "formats": list(shown["formats"] or []),
        "published_on": r.published_on, "status": shown["status"],
    }


def _facet_out(facet: Facet) -> dict[str, Any]:
    return {"label": facet.label, "values": [
        {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected} for v in facet.values]}


@router.get("/search", response=SearchOut, summary="目录检索 (catalog search with facets)")
def search(request: HttpRequest, params: Query[SearchParams], cursor: str | None = None,
           limit: int = 20) -> dict[str, Any]:
    result = search_resources(user=request.user, q=params.q, filters=params.filters(), sort=params.sort,
                              cursor=cursor, limit=limit, include_drafts=params.include_drafts)
    return {
        "items": [_item(request.user, r) for r in result.items],
        "facets": {key: _facet_out(f) for key, f in result.facets.items()},
        "total": result.total, "next_cursor": result.next_cursor, "sort": result.sort,
    }


# ---------------------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ["信息资源代码", "信息资源名称", "摘要", "提供部门", "分类", "分类代码", "共享类型", "开放属性",
               "更新周期", "敏感级别", "格式", "发布日期"]


def _csv_row(item: dict[str, Any]) -> list[str]:
    formats = dict(ResourceFormat.choices)
    cells = [
        item["code"], item["name"], item["summary"], item["provider"]["name"],
        Category(item["category"]).label if item["category"] in Category.values else item["category"],
        item["classification_code"],
        ShareType(item["share_type"]).label if item["share_type"] in ShareType.values else item["share_type"],
        OpenType(item["open_type"]).label if item["open_type"] in OpenType.values else item["open_type"],
        (UpdateCycle(item["update_cycle"]).label if item["update_cycle"] in UpdateCycle.values
         else item["update_cycle"]),
        (Sensitivity(item["sensitivity"]).label if item["sensitivity"] in Sensitivity.values
         else item["sensitivity"]),
        "、".join(formats.get(f, f) for f in item["formats"]),
        item["published_on"].isoformat() if item["published_on"] else "",
    ]
    return [neutralise_text(c) for c in cells]


def _export(request: HttpRequest, params: SearchParams) -> tuple[list[dict[str, Any]], bool]:
    rows, truncated = export_resources(user=request.user, q=params.q, filters=params.filters(),
                                       sort=params.sort, include_drafts=params.include_drafts)
    return [_item(request.user, r, full_summary=True) for r in rows], truncated


def _download(body: bytes, content_type: str, filename: str, truncated: bool) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Govshare-Truncated"] = "1" if truncated else "0"
    return response


@router.get("/search.csv", summary="目录检索结果下载 (CSV)",
            description=f"All matching resources in listing order, at most {EXPORT_MAX_ROWS} rows; "
                        "header X-Govshare-Truncated says when the list was cut.")
def search_csv(request: HttpRequest, params: Query[SearchParams]) -> HttpResponse:
    items, truncated = _export(request, params)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow(_csv_row(item))
    # UTF-8 with BOM so that spreadsheet programs on Chinese Windows detect the encoding.
    return _download(out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", "catalog-search.csv",
                     truncated)


@router.get("/search.json", summary="目录检索结果下载 (JSON)",
            description=f"All matching resources in listing order, at most {EXPORT_MAX_ROWS}.")
def search_json(request: HttpRequest, params: Query[SearchParams]) -> HttpResponse:
    items, truncated = _export(request, params)
    body = json.dumps({"items": items, "total": len(items), "truncated": truncated}, cls=DjangoJSONEncoder,
                      ensure_ascii=False)
    return _download(body.encode("utf-8"), "application/json; charset=utf-8", "catalog-search.json", truncated)
