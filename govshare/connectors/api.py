"""REST API of the connectors app (django-ninja router mounted at /api/v1/connectors).

Source connectors (前置库 / 中间库) belong to the providing department of a mounted resource: its provider staff
and department administrator manage them; for everyone else a connector does not exist (404). The password
is write-only. "Run now" makes a pull or a reconciliation due (the worker's dispatcher runs it within
seconds); runs and their reports are listed with CSV and JSON twins.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Router, Schema, Status

from govshare.audit.services import record_event
from govshare.connectors import selectors, services
from govshare.connectors.choices import Engine, IncrementalType, RunKind
from govshare.connectors.config import Config, pull_interval
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.core.api import Page, paginate
from govshare.core.errors import NotFound
from govshare.core.exports import neutralise_text
from govshare.datasets.selectors import datasets_visible_to

router = Router(tags=["connectors 前置库连接器"])

EXPORT_MAX_ROWS = 10_000


class ConnectorIn(Schema):
    dataset_id: uuid.UUID
    name: str = Field(..., max_length=120)
    engine: Engine
    host: str = Field("", max_length=255, description="empty for SQLite")
    port: int | None = Field(None, ge=1, le=65535)
    database: str = Field(..., max_length=500, description="database name; SQLite: the file path")
    user: str = Field("", max_length=128)
    password: str = Field("", max_length=512, description="write-only; stored SM4-encrypted")
    options: dict[str, str] = Field(default_factory=dict, description='PostgreSQL: {"sslmode": "require"}')
    source_table: str = Field("", max_length=255)
    source_query: str = Field("", max_length=20_000, description="one SELECT or WITH statement")
    column_map: dict[str, str] = Field(default_factory=dict, description="source column -> dataset column")
    key_column: str = Field("", max_length=128, description="source column of the key (default: mapped key)")
    incremental_column: str = Field("", max_length=128)
    incremental_type: IncrementalType = IncrementalType.TIMESTAMP
    overlap_seconds: int = Field(300, ge=0, le=7 * 86400)
    overlap_count: int = Field(1000, ge=0, le=10**12)
    page_size: int = Field(1000, ge=1, le=100_000)
    pull_interval_seconds: int | None = Field(None, ge=1, le=366 * 86400)
    reconcile_interval_seconds: int | None = Field(None, ge=1, le=366 * 86400)
    verify: bool = Field(True, description="test the connection and the source's columns before saving")


class ConnectorPatch(Schema):
    name: str | None = Field(None, max_length=120)
    host: str | None = Field(None, max_length=255)
    port: int | None = Field(None, ge=1, le=65535)
    database: str | None = Field(None, max_length=500)
    user: str | None = Field(None, max_length=128)
    password: str | None = Field(None, max_length=512, description='omit to keep, "" to clear')
    options: dict[str, str] | None = None
    source_table: str | None = Field(None, max_length=255)
    source_query: str | None = Field(None, max_length=20_000)
    column_map: dict[str, str] | None = None
    key_column: str | None = Field(None, max_length=128)
    incremental_column: str | None = Field(None, max_length=128)
    incremental_type: IncrementalType | None = None
    overlap_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    overlap_count: int | None = Field(None, ge=0, le=10**12)
    page_size: int | None = Field(None, ge=1, le=100_000)
    pull_interval_seconds: int | None = Field(None, ge=1, le=366 * 86400)
    reconcile_interval_seconds: int | None = Field(None, ge=1, le=366 * 86400)
    verify: bool = True


class ConnectorOut(Schema):
    id: str
    dataset_id: str
    resource_id: str
    resource_name: str
    name: str
    engine: str
    host: str
    port: int | None
    database: str
    user: str
    has_password: bool
    options: dict[str, str]
    source_table: str
    source_query: str
    column_map: dict[str, str]
    key_column: str
    incremental_column: str
    incremental_type: str
    overlap_seconds: int
    overlap_count: int
    page_size: int
    pull_interval_seconds: int | None
    effective_pull_interval_seconds: int
    reconcile_interval_seconds: int
    next_pull_at: dt.datetime | None
    next_reconcile_at: dt.datetime | None
    watermark: dict[str, Any]
    status: str
    consecutive_failures: int
    last_error: str
    last_run_at: dt.datetime | None
    last_success_at: dt.datetime | None
    created_at: dt.datetime


class ConnectionTestOut(Schema):
    ok: bool
    message: str
    field: str | None
    server_version: str
    columns: list[str]
    elapsed_ms: int


class ConnectorRunIn(Schema):
    kind: RunKind = RunKind.PULL


class ConnectorRunOut(Schema):
    id: int
    kind: str
    status: str
    trigger: str
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    pages: int
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    error: str
    report: dict[str, Any]


def _out(c: SourceConnector) -> dict[str, Any]:
    resource = c.dataset.resource
    return {
        "id": str(c.pk), "dataset_id": str(c.dataset_id), "resource_id": str(resource.pk),
        "resource_name": resource.name, "name": c.name, "engine": c.engine, "host": c.host, "port": c.port,
        "database": c.database, "user": c.user, "has_password": bool(c.password_enc), "options": c.options or {},
        "source_table": c.source_table, "source_query": c.source_query, "column_map": c.column_map or {},
        "key_column": c.key_column, "incremental_column": c.incremental_column,
        "incremental_type": c.incremental_type, "overlap_seconds": c.overlap_seconds,
        "overlap_count": c.overlap_count, "page_size": c.page_size, "pull_interval_seconds": c.pull_interval_seconds,
        "effective_pull_interval_seconds": pull_interval(c, resource.update_cycle),
        "reconcile_interval_seconds": c.reconcile_interval_seconds, "next_pull_at": c.next_pull_at,
        "next_reconcile_at": c.next_reconcile_at, "watermark": c.watermark or {}, "status": c.status,
        "consecutive_failures": c.consecutive_failures, "last_error": c.last_error, "last_run_at": c.last_run_at,
        "last_success_at": c.last_success_at, "created_at": c.created_at,
    }


def _run_out(r: ConnectorRun) -> dict[str, Any]:
    return {n: getattr(r, n) for n in ConnectorRunOut.model_fields}


def _reload(connector: SourceConnector) -> dict[str, Any]:
    return _out(SourceConnector.objects.select_related("dataset__resource").get(pk=connector.pk))


@router.get("", response=Page[ConnectorOut], summary="前置库连接器 (source connectors of my department)")
def list_connectors(request: HttpRequest, dataset_id: uuid.UUID | None = None, cursor: str | None = None,
                    limit: int = 50) -> dict[str, Any]:
    qs = selectors.connectors_visible_to(request.user)
    if dataset_id is not None:
        qs = qs.filter(dataset_id=dataset_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["name"], scope="connectors")
    return {"items": [_out(c) for c in rows], "next_cursor": nxt}


@router.post("", response={201: ConnectorOut}, summary="登记前置库连接器 (register a source connector)")
def create_connector(request: HttpRequest, payload: ConnectorIn) -> Status[dict[str, Any]]:
    dataset = datasets_visible_to(request.user).filter(pk=payload.dataset_id).first()
    if dataset is None:
        raise NotFound("数据集不存在 (dataset not found)")
    data = payload.model_dump(exclude={"dataset_id", "verify"})
    connector = services.create_connector(actor=request.user, dataset=dataset, config=Config(**data),
                                          verify=payload.verify)
    return Status(201, _reload(connector))


@router.get("/{connector_id}", response=ConnectorOut)
def get_connector(request: HttpRequest, connector_id: uuid.UUID) -> dict[str, Any]:
    return _out(selectors.visible_connector(request.user, connector_id))


@router.patch("/{connector_id}", response=ConnectorOut, summary="修改连接器 (update; the password is write-only)")
def update_connector(request: HttpRequest, connector_id: uuid.UUID, payload: ConnectorPatch) -> dict[str, Any]:
    connector = selectors.visible_connector(request.user, connector_id)
    changes = payload.model_dump(exclude_unset=True, exclude={"verify"})
    updated = services.update_connector(actor=request.user, connector=connector, changes=changes,
                                        verify=payload.verify)
    return _reload(updated)


@router.delete("/{connector_id}", response={204: None})
def delete_connector(request: HttpRequest, connector_id: uuid.UUID) -> Status[None]:
    connector = selectors.visible_connector(request.user, connector_id)
    services.delete_connector(actor=request.user, connector=connector)
    return Status(204, None)


@router.post("/{connector_id}/test", response=ConnectionTestOut,
             summary="测试连接 (test the connection; reads no rows)")
def test_connector(request: HttpRequest, connector_id: uuid.UUID) -> dict[str, Any]:
    connector = selectors.visible_connector(request.user, connector_id)
    report = services.test_connection(actor=request.user, connector=connector)
    return {"ok": report.ok, "message": report.message, "field": report.field,
            "server_version": report.server_version, "columns": list(report.columns),
            "elapsed_ms": report.elapsed_ms}


@router.post("/{connector_id}/run", response={202: ConnectorOut},
             summary="立即运行 (make a pull or a reconciliation due now)")
def run_now(request: HttpRequest, connector_id: uuid.UUID, payload: ConnectorRunIn) -> Status[dict[str, Any]]:
    connector = selectors.visible_connector(request.user, connector_id)
    services.request_run(actor=request.user, connector=connector, kind=payload.kind)
    return Status(202, _reload(connector))


@router.post("/{connector_id}/pause", response=ConnectorOut)
def pause(request: HttpRequest, connector_id: uuid.UUID) -> dict[str, Any]:
    connector = selectors.visible_connector(request.user, connector_id)
    return _reload(services.set_paused(actor=request.user, connector=connector, paused=True))


@router.post("/{connector_id}/resume", response=ConnectorOut)
def resume(request: HttpRequest, connector_id: uuid.UUID) -> dict[str, Any]:
    connector = selectors.visible_connector(request.user, connector_id)
    return _reload(services.set_paused(actor=request.user, connector=connector, paused=False))


@router.get("/{connector_id}/runs", response=Page[ConnectorRunOut],
            summary="运行记录与对账报告 (runs and their reports)")
def list_runs(request: HttpRequest, connector_id: uuid.UUID, cursor: str | None = None,
              limit: int = 50) -> dict[str, Any]:
    connector = selectors.visible_connector(request.user, connector_id)
    rows, nxt = paginate(selectors.runs_of(request.user, connector), cursor=cursor, limit=limit,
                         ordering=["-started_at"], scope=f"connector-runs:{connector.pk}")
    return {"items": [_run_out(r) for r in rows], "next_cursor": nxt}


CSV_COLUMNS = [("id", "编号"), ("kind", "类型"), ("status", "状态"), ("trigger", "触发"), ("started_at", "开始时间"),
               ("finished_at", "结束时间"), ("pages", "页数"), ("rows_read", "读取行数"), ("inserted", "新增"),
               ("updated", "更新"), ("deleted", "删除"), ("unchanged", "未变"),
               ("missing_on_platform", "平台缺失"), ("deleted_at_source", "源端已删"), ("drifted", "值不一致"),
               ("error", "错误")]


def _export(request: HttpRequest, connector_id: uuid.UUID, fmt: str) -> tuple[Iterator[ConnectorRun], str]:
    connector = selectors.visible_connector(request.user, connector_id)
    qs = selectors.runs_of(request.user, connector).order_by("-started_at", "-id")
    with transaction.atomic():  # reports carry sample keys: the export itself is audited
        record_event(actor=request.user, action="connector.runs_exported", target_type="source_connector",
                     target_id=str(connector.pk), data={"format": fmt})
    return qs[:EXPORT_MAX_ROWS].iterator(chunk_size=500), f"connector-runs-{connector.pk}.{fmt}"


def _download(body: Iterator[bytes], content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _csv_cells(r: ConnectorRun) -> list[str]:
    report = r.report or {}
    cells: list[Any] = []
    for name, _ in CSV_COLUMNS:
        if name in ("missing_on_platform", "deleted_at_source", "drifted"):
            value = (report.get(name) or {}).get("count", "")
        else:
            value = getattr(r, name)
        cells.append(value.isoformat() if isinstance(value, dt.datetime) else value)
    return [neutralise_text(c) for c in cells]


@router.get("/{connector_id}/runs.csv", summary="运行记录下载 (CSV, counts only)")
def runs_csv(request: HttpRequest, connector_id: uuid.UUID) -> StreamingHttpResponse:
    rows, filename = _export(request, connector_id, "csv")

    def body() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([f"{zh} ({en})" for en, zh in CSV_COLUMNS])
        yield buf.getvalue().encode("utf-8-sig")
        for r in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow(_csv_cells(r))
            yield buf.getvalue().encode("utf-8")

    return _download(body(), "text/csv; charset=utf-8", filename)


@router.get("/{connector_id}/runs.json", summary="运行记录下载 (JSON, with reports)")
def runs_json(request: HttpRequest, connector_id: uuid.UUID) -> StreamingHttpResponse:
    rows, filename = _export(request, connector_id, "json")

    def body() -> Iterator[bytes]:
        yield b'{"items":['
        for i, r in enumerate(rows):
            yield (b"," if i else b"") + json.dumps(_run_out(r), cls=DjangoJSONEncoder, ensure_ascii=False).encode()
        yield b"]}"

    return _download(body(), "application/json; charset=utf-8", filename)
