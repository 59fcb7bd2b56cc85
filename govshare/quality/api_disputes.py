"""Disputes (疑义数据) under /api/v1/quality/disputes: raise, list (with CSV and JSON twins), detail, act."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Schema, Status

from govshare.audit.services import record_event
from govshare.core.api import Page, paginate
from govshare.core.errors import ValidationFailed
from govshare.quality import selectors
from govshare.quality.api_common import csv_download, json_download, router
from govshare.quality.choices import DisputeAction, DisputeStatus
from govshare.quality.services import disputes as dispute_services
from govshare.quality.services.common import setting


class DisputeIn(Schema):
    dataset_id: uuid.UUID
    record_key: str
    column: str = ""
    reason: str
    category: str = ""
    evidence: dict[str, Any] | None = None


class DisputeActionIn(Schema):
    text: str = ""
    corrections: dict[str, str | None] | None = None


class DisputeOut(Schema):
    id: str
    number: str
    status: str
    status_label: str
    dataset_id: str
    resource_code: str
    resource_name: str
    record_key: str
    column: str
    reason: str
    category: str
    category_label: str
    origin: str
    evidence: dict[str, Any]
    raised_by: str | None
    raising_department_id: str | None
    raising_department_name: str | None
    provider_id: str
    provider_name: str
    submitted_at: dt.datetime
    accept_due_at: dt.datetime
    accept_due_provisional: bool
    accepted_at: dt.datetime | None
    resolve_due_at: dt.datetime | None
    resolve_due_provisional: bool
    due_at: dt.datetime | None
    overdue: bool
    working_days_left: int | None
    escalated: bool
    escalated_at: dt.datetime | None
    resolution: str
    resolution_text: str
    resolved_at: dt.datetime | None
    correction_batch_id: str
    reopen_count: int
    allowed_actions: list[str]


class DisputeStepOut(Schema):
    action: str
    from_status: str
    to_status: str
    actor: str
    text: str
    detail: dict[str, Any]
    created_at: dt.datetime


class DisputeDetailOut(DisputeOut):
    steps: list[DisputeStepOut]


class DisputeListParams(Schema):
    box: str = "all"
    status: str = ""
    overdue: bool | None = None
    dataset_id: uuid.UUID | None = None


DISPUTE_COLUMNS = [("number", "疑义编号"), ("status_label", "状态"), ("resource_code", "资源代码"),
                   ("resource_name", "资源名称"), ("record_key", "记录主键"), ("column", "信息项"),
                   ("category_label", "类别"), ("origin", "来源"), ("reason", "疑义说明"),
                   ("raising_department_name", "提出部门"), ("provider_name", "提供部门"), ("submitted_at", "提出时间"),
                   ("due_at", "当前时限"), ("overdue", "是否超期"), ("escalated", "是否已上报"),
                   ("resolution", "办理结果"), ("resolution_text", "办理说明"), ("resolved_at", "办结时间")]


def _filtered(request: HttpRequest, params: DisputeListParams) -> Any:
    if params.box not in selectors.BOXES:
        raise ValidationFailed(f"box 须为 {'、'.join(selectors.BOXES)} 之一", field="box")
    if params.status and params.status not in DisputeStatus.values:
        raise ValidationFailed("未知的状态 (unknown status)", field="status")
    return selectors.dispute_box(request.user, params.box, status=params.status, overdue=params.overdue,
                                 dataset_id=params.dataset_id)


@router.post("/disputes", response={201: DisputeOut}, summary="提出疑义 (raise a dispute)",
             description="A consumer department flags a record (or one granted item of it) of a dataset it holds an "
                         "active grant on. The provider must accept within DISPUTE_ACCEPT_DAYS working days.")
def raise_dispute(request: HttpRequest, payload: DisputeIn) -> Status[dict[str, Any]]:
    dataset = selectors.visible_dataset(request.user, payload.dataset_id)
    d = dispute_services.raise_dispute(actor=request.user, dataset=dataset, record_key=payload.record_key,
                                       column=payload.column, reason=payload.reason, category=payload.category,
                                       evidence=payload.evidence)
    return Status(201, selectors.DisputeView(request.user).row(selectors.visible_dispute(request.user, d.pk)))


@router.get("/disputes", response=Page[DisputeOut], summary="疑义数据列表 (disputes)",
            description="box: all | mine (raised by my department) | inbox (waiting for my department as provider) "
                        "| node (data office, auditor). CSV and JSON downloads at /disputes.csv and /disputes.json.")
def list_disputes(request: HttpRequest, params: Query[DisputeListParams], cursor: str | None = None,
                  limit: int = 50) -> dict[str, Any]:
    qs = _filtered(request, params)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-submitted_at"],
                         scope=f"disputes:{params.box}")
    view = selectors.DisputeView(request.user)
    return {"items": [view.row(d) for d in rows], "next_cursor": nxt}


def _export(request: HttpRequest, params: DisputeListParams, fmt: str) -> tuple[Any, bool]:
    qs = _filtered(request, params).order_by("-submitted_at", "-pk")
    limit = setting("QUALITY_REPORT_MAX_ROWS")
    total = qs.count()
    with transaction.atomic():
        record_event(actor=request.user, action="quality.disputes_exported", target_type="dispute",
                     data={"format": fmt, "rows": min(total, limit), "box": params.box, "status": params.status})
    view = selectors.DisputeView(request.user)
    return (view.row(d) for d in qs[:limit].iterator(chunk_size=500)), total > limit


@router.get("/disputes.csv", summary="疑义数据下载 (CSV)")
def disputes_csv(request: HttpRequest, params: Query[DisputeListParams]) -> StreamingHttpResponse:
    rows, truncated = _export(request, params, "csv")
    return csv_download(rows, DISPUTE_COLUMNS, "disputes.csv", truncated)


@router.get("/disputes.json", summary="疑义数据下载 (JSON)")
def disputes_json(request: HttpRequest, params: Query[DisputeListParams]) -> StreamingHttpResponse:
    rows, truncated = _export(request, params, "json")
    return json_download(rows, "disputes.json", truncated)


def _detail(request: HttpRequest, dispute_id: Any) -> dict[str, Any]:
    d = selectors.visible_dispute(request.user, dispute_id)
    out = selectors.DisputeView(request.user).row(d)
    out["steps"] = [{"action": s.action, "from_status": s.from_status, "to_status": s.to_status,
                     "actor": s.actor.username if s.actor else s.actor_label, "text": s.text, "detail": s.detail,
                     "created_at": s.created_at} for s in selectors.steps_of(d)]
    return out


@router.get("/disputes/{dispute_id}", response=DisputeDetailOut, summary="疑义详情及办理步骤 (detail and steps)")
def get_dispute(request: HttpRequest, dispute_id: uuid.UUID) -> dict[str, Any]:
    return _detail(request, dispute_id)


@router.post("/disputes/{dispute_id}/actions/{action}", response=DisputeDetailOut,
             summary="办理疑义 (accept, reject, confirm, correct, withdraw, reopen)",
             description="`correct` takes `corrections` {column: new value or null}; the corrected record enters the "
                         "change log (batch `dispute:<id>`, kind correction) and reaches subscribers.")
def act(request: HttpRequest, dispute_id: uuid.UUID, action: str, payload: DisputeActionIn) -> dict[str, Any]:
    d = selectors.visible_dispute(request.user, dispute_id)
    if action not in DisputeAction.values:
        raise ValidationFailed(f"未知的操作 {action} (unknown action)", field="action")
    dispute_services.act_on_dispute(actor=request.user, dispute=d, action=action, text=payload.text,
                                    corrections=payload.corrections)
    return _detail(request, dispute_id)
