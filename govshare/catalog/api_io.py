"""Catalog import/export endpoints, mounted under /api/v1/catalog:

- ``POST /import`` — multipart ``file`` (XLSX, CSV, JSON or the ZIP of the CSV pair) and, for a CSV, an
  optional ``items_file`` (the ``_items.csv``); query flags ``create_departments``, ``partial``,
  ``classification``. Roles: the data office (any department of its node; may create departments), a
  department administrator or provider (rows naming another provider are rejected). Answers with the
  import summary; an all-or-nothing import with rejected rows answers 422 ``import_rejected`` with the
  summary in ``error.details.summary``. Imported resources are drafts.
- ``GET /export.xlsx`` — the 目录编制 workbook of every resource the user can see.
- ``GET /export.csv`` — the 信息资源 sheet as CSV (UTF-8 with BOM); ``GET /export-items.csv`` — the 信息项
  sheet; ``GET /export.zip`` — both CSVs in one ZIP, which ``POST /import`` accepts as it is.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from ninja import File, Router, UploadedFile

from govshare.catalog.exporter import csv_zip, export_catalog
from govshare.catalog.importer import import_catalog
from govshare.catalog.importer.importer import IMPORT_ROLES
from govshare.core.errors import PermissionDenied

router = Router(tags=["catalog 目录导入导出"])

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["Cache-Control"] = "no-store"
    return response


def _stem() -> str:
    return f"信息资源目录-{timezone.localdate():%Y%m%d}"


@router.post("/import", response=dict[str, Any])
def import_file(
    request: HttpRequest,
    file: UploadedFile = File(...),  # noqa: B008 - django-ninja parameter declaration
    items_file: UploadedFile | None = File(None),  # noqa: B008
    create_departments: bool = False,
    partial: bool = False,
    classification: str | None = None,
) -> dict[str, Any]:
    user: Any = request.user
    if getattr(user, "role", None) not in IMPORT_ROLES:
        raise PermissionDenied("只有数据主管部门、部门管理员和提供方可以导入目录 (import not allowed for this role)")
    summary = import_catalog(
        actor=user, node=user.node, path_or_stream=file.read(), filename=file.name or "upload",
        items_stream=items_file.read() if items_file is not None else None,
        create_departments=create_departments, partial=partial, classification_code=classification,
    )
    return summary.to_dict()


@router.get("/export.xlsx")
def export_xlsx(request: HttpRequest) -> HttpResponse:
    data = export_catalog(user=request.user, fmt="xlsx")
    assert isinstance(data, bytes)
    return _download(data, f"{_stem()}.xlsx", XLSX_TYPE)


def _csv_pair(request: HttpRequest) -> tuple[bytes, bytes]:
    data = export_catalog(user=request.user, fmt="csv")
    assert isinstance(data, tuple)
    return data


@router.get("/export.csv")
def export_csv(request: HttpRequest) -> HttpResponse:
    resources, _ = _csv_pair(request)
    return _download(resources, f"{_stem()}.csv", "text/csv; charset=utf-8")


@router.get("/export-items.csv")
def export_items_csv(request: HttpRequest) -> HttpResponse:
    _, items = _csv_pair(request)
    return _download(items, f"{_stem()}_items.csv", "text/csv; charset=utf-8")


@router.get("/export.zip")
def export_zip(request: HttpRequest) -> HttpResponse:
    resources, items = _csv_pair(request)
    return _download(csv_zip(resources, items, _stem()), f"{_stem()}.zip", "application/zip")
