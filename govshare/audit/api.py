"""Audit API (mounted at ``/api/v1/audit``): for the audit administrator (审计管理员) only.

- ``GET /events`` (+ ``/events.csv``, ``/events.json``): the log, newest first, with filters;
- ``GET /lookups?id_number=…`` (or ``?key=…``): who looked up this person or company;
- ``GET /status``: sealed range, unsealed tail, node key, last verification.

Every other role gets 403 ``forbidden``; without a session, 401. Exports and person searches are
themselves audited (``audit.events.export``, ``audit.lookups``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Query, Router, Schema

from govshare.audit import selectors
from govshare.audit.models import AuditEvent
from govshare.audit.services import audit_key_hmac, record_event
from govshare.core.api import Page, paginate
from govshare.core.errors import ValidationFailed
from govshare.core.exports import neutralise_text
from govshare.core.identifiers import IdentifierError, validate_resident_id

router = Router(tags=["audit 审计"])

EXPORT_MAX_ROWS = 100_000
CSV_COLUMNS = [("seq", "序号"), ("occurred_at", "时间"), ("actor_type", "主体类型"), ("actor_id", "主体ID"),
               ("actor_label", "主体"), ("actor_role", "角色"), ("node_code", "节点"), ("department_id", "部门ID"),
               ("action", "操作"), ("target_type", "对象类型"), ("target_id", "对象ID"), ("result", "结果"),
               ("request_id", "请求ID"), ("client_ip", "来源地址"), ("data", "详情"), ("sealed", "已封存")]


class EventParams(Schema):
    action: str | None = Field(None, max_length=80, description="操作；以 . 或 * 结尾按前缀匹配 (prefix)")
    actor: str | None = Field(None, max_length=200, description="主体 ID 或用户名 (actor id or label)")
    target_type: str | None = Field(None, max_length=64)
    target_id: str | None = Field(None, max_length=128)
    result: str | None = Field(None, max_length=16, description="ok / denied / failed")
    from_: dt.datetime | None = Field(None, alias="from", description="起始时间（含）(from, inclusive)")
    to: dt.datetime | None = Field(None, description="截止时间（不含）(to, exclusive)")

    def filters(self) -> selectors.EventFilter:
        return selectors.EventFilter(action=self.action, actor=self.actor, target_type=self.target_type,
                                     target_id=self.target_id, result=self.result, occurred_from=self.from_,
                                     occurred_to=self.to)


class EventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_type: str
    actor_id: str
    actor_label: str
    actor_role: str
    node_code: str
    department_id: str
    action: str
    target_type: str
    target_id: str
    result: str
    request_id: str
    client_ip: str
    data: dict[str, Any]
    sealed: bool


class SealedOut(Schema):
    blocks: int
    first_seq: int | None
    last_seq: int | None
    events: int
    head: str | None
    sealed_at: dt.datetime | None


class UnsealedOut(Schema):
    count: int
    first_seq: int | None
    last_seq: int | None
    oldest_at: dt.datetime | None
    lag_seconds: float


class KeyOut(Schema):
    key_id: str
    node_code: str
    public_key: str


class VerificationOut(Schema):
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    ok: bool
    key_source: str
    sealed_last_seq: int | None
    events_checked: int
    first_bad_seq: int | None
    problem_count: int
    run_by: str


class StatusOut(Schema):
    sealed: SealedOut
    unsealed: UnsealedOut
    key: KeyOut | None
    last_verification: VerificationOut | None


def _event_out(e: AuditEvent, sealed_to: int) -> dict[str, Any]:
    return {
        "seq": e.seq, "occurred_at": e.occurred_at, "actor_type": e.actor_type, "actor_id": e.actor_id,
        "actor_label": e.actor_label, "actor_role": e.actor_role, "node_code": e.node_code,
        "department_id": e.department_id, "action": e.action, "target_type": e.target_type,
        "target_id": e.target_id, "result": e.result, "request_id": e.request_id, "client_ip": e.client_ip,
        "data": e.data if isinstance(e.data, dict) else {"value": e.data}, "sealed": e.seq <= sealed_to,
    }


@router.get("/events", response=Page[EventOut], summary="审计日志 (audit events)")
def list_events(request: HttpRequest, params: Query[EventParams], cursor: str | None = None,
                limit: int = 50) -> dict[str, Any]:
    qs = selectors.events_for(request.user, params.filters())
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-seq"], scope="audit-events")
    sealed_to = selectors.last_sealed_seq()
    return {"items": [_event_out(e, sealed_to) for e in rows], "next_cursor": nxt}


def _csv_cells(row: dict[str, Any]) -> list[str]:
    cells = []
    for name, _ in CSV_COLUMNS:
        value = row[name]
        if name == "data":
            value = json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
        elif name == "occurred_at":
            value = value.isoformat()
        elif name == "sealed":
            value = "是" if value else "否"
        cells.append(neutralise_text(value))
    return cells


def _export_rows(request: HttpRequest, params: EventParams, fmt: str) -> tuple[Iterator[dict[str, Any]], int]:
    filters = params.filters()
    qs = selectors.events_for(request.user, filters).order_by("-seq")
    total = qs.count()
    with transaction.atomic():
        record_event(actor=request.user, action="audit.events.export", target_type="audit_events",
                     data={"format": fmt, "rows": min(total, EXPORT_MAX_ROWS),
                           "filters": {k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                                       for k, v in filters.__dict__.items() if v}})
    sealed_to = selectors.last_sealed_seq()
    rows = (_event_out(e, sealed_to) for e in qs[:EXPORT_MAX_ROWS].iterator(chunk_size=2000))
    return rows, total


def _download(body: Iterator[bytes], content_type: str, filename: str, total: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Govshare-Truncated"] = "1" if total > EXPORT_MAX_ROWS else "0"
    return response


@router.get("/events.csv", summary="审计日志下载 (CSV)",
            description=f"Newest first, at most {EXPORT_MAX_ROWS} rows (header X-Govshare-Truncated). "
                        "Formula-like cells are prefixed with an apostrophe.")
def events_csv(request: HttpRequest, params: Query[EventParams]) -> StreamingHttpResponse:
    rows, total = _export_rows(request, params, "csv")

    def body() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([f"{zh} ({en})" for en, zh in CSV_COLUMNS])
        yield buf.getvalue().encode("utf-8-sig")
        for row in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow(_csv_cells(row))
            yield buf.getvalue().encode("utf-8")

    return _download(body(), "text/csv; charset=utf-8", "audit-events.csv", total)


@router.get("/events.json", summary="审计日志下载 (JSON)",
            description=f"Newest first, at most {EXPORT_MAX_ROWS} events.")
def events_json(request: HttpRequest, params: Query[EventParams]) -> StreamingHttpResponse:
    rows, total = _export_rows(request, params, "json")

    def body() -> Iterator[bytes]:
        yield b'{"items":['
        for i, row in enumerate(rows):
            yield (b"," if i else b"") + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False).encode("utf-8")
        yield (f'],"truncated":{"true" if total > EXPORT_MAX_ROWS else "false"}}}').encode("ascii")

    return _download(body(), "application/json; charset=utf-8", "audit-events.json", total)


@router.get("/lookups", response=Page[EventOut], summary="谁查询过此人 (who looked up this person)",
            description="Events whose looked-up keys include the given 身份证号 (id_number) or any other key "
                        "(key), found by its HMAC. The search itself is audited.")
def lookups(request: HttpRequest, id_number: str | None = None, key: str | None = None, cursor: str | None = None,
            limit: int = 50) -> dict[str, Any]:
    selectors.require_auditor(request.user)
    if bool(id_number) == bool(key):
        raise ValidationFailed("请提供 id_number 或 key 之一 (give exactly one of id_number, key)", field="id_number")
    field = "id_number" if id_number else "key"
    try:
        value = validate_resident_id(id_number) if id_number else str(key)
        key_hmac = audit_key_hmac(value)
    except (IdentifierError, ValueError) as exc:
        raise ValidationFailed(f"{field} 无效: {getattr(exc, 'message', exc)}", field=field) from None
    qs = selectors.lookups_of(request.user, value)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-seq"], scope=f"audit-lookups:{key_hmac}")
    if not cursor:  # one audit event per search, not per page
        with transaction.atomic():
            record_event(actor=request.user, action="audit.lookups", target_type="person" if id_number else "key",
                         data={"key_hmacs": [key_hmac], "found": len(rows)})
    sealed_to = selectors.last_sealed_seq()
    return {"items": [_event_out(e, sealed_to) for e in rows], "next_cursor": nxt}


@router.get("/status", response=StatusOut, summary="审计链状态 (audit chain status)")
def status(request: HttpRequest) -> dict[str, Any]:
    return selectors.chain_status(request.user)
