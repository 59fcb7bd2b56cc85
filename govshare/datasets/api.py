"""Datasets and mounting (挂接) under /api/v1/datasets.

Providers mount a published resource and upload its data (CSV / XLSX / JSON, all-or-nothing); everyone
who can see a resource can see whether it is mounted; the 挂接率 is reported per department. Querying
data is the data plane's job (a later issue): the only read of rows here is the provider's own preview.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from govshare.core.api import Page, decode_cursor, encode_cursor, paginate
from govshare.core.errors import ValidationFailed
from govshare.core.exports import neutralise
from govshare.datasets import changes, selectors, services
from govshare.datasets.choices import UploadStatus
from govshare.datasets.models import ChangeBatch, Dataset, DatasetUpload

router = Router(tags=["datasets 数据集与挂接"])

# Multipart bodies carry boundaries and part headers besides the file itself.
MULTIPART_SLACK = 64 * 1024


class ColumnOut(Schema):
    column_name: str
    name: str
    data_type: str
    length: int | None
    required: bool
    is_key: bool


class DatasetOut(Schema):
    id: str
    resource_id: str
    resource_code: str
    resource_name: str
    provider_id: str
    provider_name: str
    mounted: bool
    generation: int
    row_count: int
    key_column: str
    resource_version: int | None
    published_version: int | None
    mounted_at: dt.datetime | None
    last_loaded_at: dt.datetime | None
    last_seq: int
    last_received_at: dt.datetime | None
    columns: list[ColumnOut]


class ProblemOut(Schema):
    row: int | None
    column: str | None
    field: str | None
    reason: str


class UploadOut(Schema):
    id: str
    dataset_id: str
    generation: int
    status: str
    mode: str
    filename: str
    file_format: str
    encoding: str
    rows_total: int
    rows_valid: int
    problem_count: int
    problems: list[ProblemOut]
    uploaded_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class RatioRow(Schema):
    department_id: str
    department_name: str
    department_uscc: str
    listed: int
    mounted: int
    mounted_ratio: float


class RatioOut(Schema):
    items: list[RatioRow]
    total: RatioRow


class RecordOut(Schema):
    key: str
    data: dict[str, Any]


class RecordsOut(Schema):
    items: list[RecordOut]
    next_cursor: str | None = None


class BatchIn(Schema):
    batch_id: str
    upserts: list[dict[str, Any]] = []
    deletes: list[str] = []


class BatchOut(Schema):
    batch_id: str
    replayed: bool
    kind: str = ""
    first_seq: int
    last_seq: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    created_at: dt.datetime | None = None


class ChangeOut(Schema):
    seq: int
    op: str
    key: str
    data: dict[str, Any] | None
    old: dict[str, Any] | None
    batch_id: str
    created_at: dt.datetime


class ChangesOut(Schema):
    items: list[ChangeOut]
    next_after: int
    latest_seq: int


class FreshnessRow(Schema):
    dataset_id: str
    resource_id: str
    resource_code: str
    resource_name: str
    department_id: str
    department_name: str
    update_cycle: str
    period_seconds: int | None
    last_received_at: dt.datetime | None
    last_seq: int
    late: bool
    late_by_seconds: int | None


class LatenessRow(Schema):
    department_id: str
    department_name: str
    scheduled: int
    late: int


class FreshnessOut(Schema):
    items: list[FreshnessRow]
    departments: list[LatenessRow]


def _dataset_out(d: Dataset) -> dict[str, Any]:
    r = d.resource
    version = r.published_version
    return {
        "id": str(d.pk), "resource_id": str(r.pk), "resource_code": r.code, "resource_name": r.name,
        "provider_id": str(r.provider_id), "provider_name": r.provider.name, "mounted": d.generation > 0,
        "generation": d.generation, "row_count": d.row_count, "key_column": d.key_column,
        "resource_version": d.resource_version, "published_version": version.number if version else None,
        "mounted_at": d.mounted_at, "last_loaded_at": d.last_loaded_at, "last_seq": d.last_seq,
        "last_received_at": d.last_received_at,
        # The published version's items: the columns uploads are validated against.
        "columns": [{k: i.get(k) for k in ("column_name", "name", "data_type", "length", "required", "is_key")}
                    for i in (version.snapshot.get("items", []) if version else [])],
    }


def _upload_out(u: DatasetUpload) -> dict[str, Any]:
    return {
        "id": str(u.pk), "dataset_id": str(u.dataset_id), "generation": u.generation, "status": u.status,
        "mode": u.mode, "filename": u.filename, "file_format": u.file_format, "encoding": u.encoding,
        "rows_total": u.rows_total, "rows_valid": u.rows_valid, "problem_count": u.problem_count,
        "problems": u.problems, "uploaded_by": u.uploaded_by.username if u.uploaded_by else None,
        "created_at": u.created_at, "finished_at": u.finished_at,
    }


# Literal paths come before /{dataset_id}.


@router.get("/mounted-ratio", response=RatioOut,
            summary="挂接率 per department (?format=csv for a spreadsheet)")
def mounted_ratio(request: HttpRequest, fmt: str = Query("json", alias="format")) -> Any:
    rows = selectors.mounted_ratio_by_department(request.user)
    listed = sum(r["listed"] for r in rows)
    mounted = sum(r["mounted"] for r in rows)
    total = {"department_id": "", "department_name": "合计", "department_uscc": "", "listed": listed,
             "mounted": mounted, "mounted_ratio": round(100 * mounted / listed, 1) if listed else 0.0}
    if fmt == "json":
        return {"items": rows, "total": total}
    if fmt != "csv":
        raise ValidationFailed("format 只能是 json 或 csv (format must be json or csv)", field="format")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["部门", "统一社会信用代码", "已发布资源数", "已挂接资源数", "挂接率(%)"])
    for r in [*rows, total]:
        writer.writerow([neutralise(r["department_name"]), neutralise(r["department_uscc"]), r["listed"],
                         r["mounted"], r["mounted_ratio"]])
    response = HttpResponse("\ufeff" + buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mounted-ratio.csv"'
    return response


@router.get("/freshness", response=FreshnessOut,
            summary="时效: mounted resources late against their 更新周期, and lateness per department (?format=csv)")
def freshness(request: HttpRequest, fmt: str = Query("json", alias="format")) -> Any:
    rows = selectors.freshness(request.user)
    if fmt == "csv":
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        w.writerow(["资源代码", "资源名称", "提供部门", "更新周期", "最近到达", "是否逾期"])
        for r in rows:
            w.writerow([neutralise(str(v)) for v in (
                r["resource_code"], r["resource_name"], r["department_name"], r["update_cycle"],
                r["last_received_at"].isoformat() if r["last_received_at"] else "", "是" if r["late"] else "否")])
        return HttpResponse(buf.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="freshness.csv"'})
    if fmt != "json":
        raise ValidationFailed("format 只能是 json 或 csv (format must be json or csv)", field="format")
    return {"items": rows, "departments": selectors.lateness_by_department(rows)}


@router.get("", response=Page[DatasetOut], summary="Datasets of the resources the caller can see")
def list_datasets(request: HttpRequest, resource_id: uuid.UUID | None = None, cursor: str | None = None,
                  limit: int = 50) -> dict[str, Any]:
    qs = selectors.datasets_visible_to(request.user)
    if resource_id is not None:
        qs = qs.filter(resource_id=resource_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"], scope="datasets")
    return {"items": [_dataset_out(d) for d in rows], "next_cursor": nxt}


@router.post("/mount/{resource_id}", response={201: DatasetOut}, summary="挂接: mount a published resource")
def mount(request: HttpRequest, resource_id: uuid.UUID) -> Status[dict[str, Any]]:
    resource = selectors.visible_resource(request.user, resource_id)
    dataset = services.mount_resource(actor=request.user, resource=resource)
    return Status(201, _dataset_out(selectors.visible_dataset(request.user, dataset.pk)))


@router.get("/{dataset_id}", response=DatasetOut)
def get_dataset(request: HttpRequest, dataset_id: uuid.UUID) -> dict[str, Any]:
    return _dataset_out(selectors.visible_dataset(request.user, dataset_id))


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "CSV (UTF-8 / UTF-8 BOM / GBK / GB18030), XLSX or JSON"}},
        }}},
    },
}


@router.post("/{dataset_id}/uploads", response={201: UploadOut}, openapi_extra=_UPLOAD_BODY,
             summary="Upload data (replaces the dataset's data all-or-nothing)")
def create_upload(request: HttpRequest, dataset_id: uuid.UUID) -> Status[dict[str, Any]]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    services.require_provider_side(request.user, dataset.resource)  # 403 before the body is read
    max_bytes = int(settings.GOVSHARE["UPLOAD_MAX_BYTES"])
    # Refuse an oversize body before Django spools it to disk.
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > max_bytes + MULTIPART_SLACK:
        raise ValidationFailed(f"文件超过上限 {max_bytes} 字节 (file larger than {max_bytes} bytes)",
                               field="file", details={"size": declared, "max_bytes": max_bytes})
    uploaded = request.FILES.get("file")
    if uploaded is None or uploaded.file is None:
        raise ValidationFailed("请以 multipart 字段 file 上传文件 (multipart field 'file' is required)", field="file")
    result = services.upload(actor=request.user, dataset=dataset, filename=uploaded.name or "",
                             stream=uploaded.file)
    if result.status == UploadStatus.REJECTED:
        raise ValidationFailed(
            f"上传未通过校验，共 {result.problem_count} 个问题，未写入任何数据 "
            f"(upload rejected with {result.problem_count} problems; nothing was written)",
            field="file",
            details={"upload_id": str(result.pk), "rows_total": result.rows_total,
                     "problem_count": result.problem_count, "problems": result.problems},
        )
    return Status(201, _upload_out(result))


@router.get("/{dataset_id}/uploads", response=Page[UploadOut])
def list_uploads(request: HttpRequest, dataset_id: uuid.UUID, cursor: str | None = None,
                 limit: int = 50) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    rows, nxt = paginate(selectors.uploads_of(request.user, dataset), cursor=cursor, limit=limit,
                         ordering=["-created_at"], scope=f"uploads:{dataset.pk}")
    return {"items": [_upload_out(u) for u in rows], "next_cursor": nxt}


@router.get("/{dataset_id}/records", response=RecordsOut,
            summary="Preview the live rows (providing department only; audited)")
def preview_records(request: HttpRequest, dataset_id: uuid.UUID, cursor: str | None = None,
                    limit: int = 20) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    scope = f"records:{dataset.pk}:{dataset.generation}"
    after = decode_cursor(cursor, scope)[0] if cursor else None
    rows, last = selectors.records_page(request.user, dataset, limit=limit, after=after)
    services.log_preview(actor=request.user, dataset=dataset, rows=len(rows))
    return {"items": rows, "next_cursor": encode_cursor([last], scope) if last is not None else None}


@router.get("/{dataset_id}/records/lookup", response=RecordsOut,
            summary="Look live rows up by one item's value, L4 items through the blind index (providing "
                    "department only; audited)")
def lookup_records(request: HttpRequest, dataset_id: uuid.UUID, column: str, value: str,
                   limit: int = 20) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    rows = selectors.find_records(request.user, dataset, column=column, value=value, limit=limit)
    services.log_lookup(actor=request.user, dataset=dataset, column=column, rows=len(rows))
    return {"items": rows, "next_cursor": None}


def _batch_out(b: ChangeBatch | changes.BatchResult, *, replayed: bool = False) -> dict[str, Any]:
    out = {k: getattr(b, k) for k in ("batch_id", "first_seq", "last_seq", "inserted", "updated", "deleted",
                                      "unchanged")}
    if isinstance(b, ChangeBatch):
        out.update(kind=b.kind, created_at=b.created_at, replayed=False)
    else:
        out.update(replayed=b.replayed)
    return out


@router.post("/{dataset_id}/batches", response={200: BatchOut, 201: BatchOut},
             summary="Incremental batch of upserts (whole records) and deletes (by key); idempotent by batch_id")
def post_batch(request: HttpRequest, dataset_id: uuid.UUID, body: BatchIn) -> Status[dict[str, Any]]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    result = changes.apply_batch(actor=request.user, dataset=dataset, batch_id=body.batch_id,
                                 upserts=body.upserts, deletes=body.deletes, source="api")
    return Status(200 if result.replayed else 201, _batch_out(result))


@router.get("/{dataset_id}/batches", response=Page[BatchOut], summary="Applied batches (counts only)")
def list_batches(request: HttpRequest, dataset_id: uuid.UUID, cursor: str | None = None,
                 limit: int = 50) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    rows, nxt = paginate(selectors.batches_of(request.user, dataset), cursor=cursor, limit=limit,
                         ordering=["-id"], scope=f"batches:{dataset.pk}")
    return {"items": [_batch_out(b) for b in rows], "next_cursor": nxt}


@router.get("/{dataset_id}/changes", response=ChangesOut,
            summary="The change log after a sequence number (providing department only; audited)")
def list_changes(request: HttpRequest, dataset_id: uuid.UUID, after: int = Query(0, ge=0, le=2**62),
                 limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    rows = selectors.changes_page(request.user, dataset, after=after, limit=limit)
    services.log_preview(actor=request.user, dataset=dataset, rows=len(rows))
    return {"items": [c.__dict__ for c in rows], "next_after": rows[-1].seq if rows else after,
            "latest_seq": changes.current_seq(dataset)}
