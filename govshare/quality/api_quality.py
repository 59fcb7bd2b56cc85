"""Quality rules, scores, runs and the failing-rows report under /api/v1/quality."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Schema, Status

from govshare.audit.services import record_event
from govshare.catalog.models import DataElement
from govshare.catalog.selectors import resources_visible_to
from govshare.core.api import Page, paginate
from govshare.core.errors import PermissionDenied, ValidationFailed
from govshare.quality import selectors
from govshare.quality.api_common import csv_download, json_download, router
from govshare.quality.choices import RuleKind
from govshare.quality.models import QualityRule, QualityRun, QualityState
from govshare.quality.services import rules as rule_services
from govshare.quality.services import runs as run_services
from govshare.quality.services.common import is_data_office_of, is_provider_side, setting


class QualityRuleIn(Schema):
    kind: str
    params: dict[str, Any] = {}
    element_code: str = ""
    resource_id: uuid.UUID | None = None
    column: str = ""
    message: str = ""


class QualityRulePatch(Schema):
    params: dict[str, Any] | None = None
    message: str | None = None
    active: bool | None = None


class QualityRuleOut(Schema):
    id: str
    kind: str
    kind_label: str
    element_code: str
    element_name: str
    resource_id: str | None
    resource_code: str | None
    column: str
    params: dict[str, Any]
    message: str
    active: bool
    created_by: str | None
    created_at: dt.datetime


class QualityScoreOut(Schema):
    dataset_id: str
    resource_id: str
    resource_code: str
    resource_name: str
    provider_id: str
    provider_name: str
    score: float | None
    rows_total: int
    rows_failing: int
    last_full_at: dt.datetime | None
    checked_seq: int
    last_seq: int
    full_run_requested: bool


class QualityDepartmentScoreOut(Schema):
    department_id: str
    department_name: str
    datasets: int
    rows_total: int
    rows_failing: int
    score: float | None


class QualityRunOut(Schema):
    id: str
    kind: str
    from_seq: int
    to_seq: int
    rows_checked: int
    rows_failing: int
    issues: int
    rows_total: int
    rows_failing_total: int
    score: float | None
    started_at: dt.datetime
    finished_at: dt.datetime


class QualitySummaryRow(Schema):
    column_name: str
    rule_key: str
    kind: str
    rows: int


class QualityDatasetOut(Schema):
    quality: QualityScoreOut
    failures: list[QualitySummaryRow]
    recent_runs: list[QualityRunOut]


class QualityIssueOut(Schema):
    id: int
    record_key: str
    column: str
    column_name: str
    rule_key: str
    rule_id: str | None
    kind: str
    message: str
    found_at: dt.datetime


ISSUE_COLUMNS = [("record_key", "记录主键"), ("column", "信息项"), ("column_name", "信息项名称"),
                 ("rule_key", "规则"), ("kind", "规则类型"), ("message", "问题"), ("found_at", "发现时间")]


def _rule_out(r: QualityRule) -> dict[str, Any]:
    return {"id": str(r.pk), "kind": r.kind, "kind_label": r.get_kind_display(),
            "element_code": r.element.code if r.element else "", "element_name": r.element.name if r.element else "",
            "resource_id": str(r.resource_id) if r.resource_id else None,
            "resource_code": r.resource.code if r.resource else None, "column": r.column_name, "params": r.params,
            "message": r.message, "active": r.active,
            "created_by": r.created_by.username if r.created_by else None, "created_at": r.created_at}


def _run_out(r: QualityRun) -> dict[str, Any]:
    return {"id": str(r.pk), "kind": r.kind, "from_seq": r.from_seq, "to_seq": r.to_seq,
            "rows_checked": r.rows_checked, "rows_failing": r.rows_failing, "issues": r.issues,
            "rows_total": r.rows_total, "rows_failing_total": r.rows_failing_total, "score": r.score,
            "started_at": r.started_at, "finished_at": r.finished_at}


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


@router.get("/rules", response=Page[QualityRuleOut], summary="质量规则 (configured quality rules)")
def list_rules(request: HttpRequest, resource_id: uuid.UUID | None = None, element_code: str = "",
               active: bool | None = None, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    qs = selectors.rules_visible_to(request.user)
    if resource_id is not None:
        qs = qs.filter(resource_id=resource_id)
    if element_code:
        qs = qs.filter(element__code=element_code)
    if active is not None:
        qs = qs.filter(active=active)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"], scope="quality-rules")
    return {"items": [_rule_out(r) for r in rows], "next_cursor": nxt}


@router.post("/rules", response={201: QualityRuleOut}, summary="配置质量规则 (configure a rule)",
             description="On a data element (`element_code`: the node's data office) or on one item of a resource "
                         f"(`resource_id` + `column`). Kinds: {', '.join(RuleKind.values)}.")
def create_rule(request: HttpRequest, payload: QualityRuleIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    element = resource = None
    if payload.element_code:
        element = DataElement.objects.filter(code=payload.element_code).first()
        if element is None:
            raise ValidationFailed("数据元不存在 (data element not found)", field="element_code")
    if payload.resource_id is not None:
        resource = resources_visible_to(user).filter(pk=payload.resource_id).first()
        if resource is None:
            raise ValidationFailed("资源不存在 (resource not found)", field="resource_id")
    rule = rule_services.create_rule(actor=user, kind=payload.kind, params=payload.params, element=element,
                                     resource=resource, column=payload.column, message=payload.message)
    return Status(201, _rule_out(selectors.visible_rule(user, rule.pk)))


@router.patch("/rules/{rule_id}", response=QualityRuleOut, summary="修改或停用质量规则 (change or switch off a rule)")
def update_rule(request: HttpRequest, rule_id: uuid.UUID, payload: QualityRulePatch) -> dict[str, Any]:
    rule = selectors.visible_rule(request.user, rule_id)
    rule_services.update_rule(actor=request.user, rule=rule, params=payload.params, message=payload.message,
                              active=payload.active)
    return _rule_out(selectors.visible_rule(request.user, rule_id))


# ---------------------------------------------------------------------------------------------
# Scores and runs
# ---------------------------------------------------------------------------------------------


@router.get("/scores/datasets", response=Page[QualityScoreOut], summary="数据集质量得分 (score per dataset)",
            description="Score = share of live rows with no failing rule (0–1); null before the first check.")
def dataset_scores(request: HttpRequest, department_id: uuid.UUID | None = None, cursor: str | None = None,
                   limit: int = 50) -> dict[str, Any]:
    qs = selectors.dataset_scores(request.user, department_id=department_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=[], scope="quality-scores")
    return {"items": [selectors.state_out(s, s.dataset) for s in rows], "next_cursor": nxt}


@router.get("/scores/departments", response=list[QualityDepartmentScoreOut],
            summary="部门质量得分 (score per department)",
            description="Row-weighted mean over the department's checked datasets.")
def department_scores(request: HttpRequest) -> list[dict[str, Any]]:
    return selectors.department_scores(request.user)


@router.get("/datasets/{dataset_id}", response=QualityDatasetOut, summary="数据集质量概况 (quality of a dataset)")
def dataset_quality(request: HttpRequest, dataset_id: uuid.UUID) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    state = QualityState.objects.filter(pk=dataset.pk).first()
    runs = selectors.runs_of(request.user, dataset)[:5]
    return {"quality": selectors.state_out(state, dataset), "failures": selectors.issue_summary(dataset),
            "recent_runs": [_run_out(r) for r in runs]}


@router.get("/datasets/{dataset_id}/runs", response=Page[QualityRunOut], summary="质量检查记录 (quality runs)")
def list_runs(request: HttpRequest, dataset_id: uuid.UUID, cursor: str | None = None, limit: int = 50
              ) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    rows, nxt = paginate(selectors.runs_of(request.user, dataset), cursor=cursor, limit=limit,
                         ordering=["-started_at"], scope=f"quality-runs:{dataset.pk}")
    return {"items": [_run_out(r) for r in rows], "next_cursor": nxt}


@router.post("/datasets/{dataset_id}/runs", response={202: QualityScoreOut},
             summary="请求全量质量检查 (ask for a full run soon)",
             description="The providing department or the node's data office; the worker runs it.")
def request_full_run(request: HttpRequest, dataset_id: uuid.UUID) -> Status[dict[str, Any]]:
    user: Any = request.user
    dataset = selectors.visible_dataset(user, dataset_id)
    if not (is_provider_side(user, dataset.resource) or is_data_office_of(user, dataset.node_id)):
        raise PermissionDenied("只有提供部门和数据主管部门可以请求质量检查 (providing department and data office only)")
    state = run_services.request_full_run(actor=user, dataset=dataset)
    return Status(202, selectors.state_out(state, dataset))


# ---------------------------------------------------------------------------------------------
# Failing rows
# ---------------------------------------------------------------------------------------------


@router.get("/datasets/{dataset_id}/issues", response=Page[QualityIssueOut], summary="不合格记录 (failing rows)",
            description="The providing department sees record keys; the node's data office sees them masked.")
def list_issues(request: HttpRequest, dataset_id: uuid.UUID, column: str = "", rule_key: str = "",
                cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    qs, masker = selectors.issues_of(request.user, dataset)
    if column:
        qs = qs.filter(column_name=column)
    if rule_key:
        qs = qs.filter(rule_key=rule_key)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=[], scope=f"quality-issues:{dataset.pk}")
    labels = selectors.column_labels(dataset)
    return {"items": [selectors.issue_out(i, masker, labels) for i in rows], "next_cursor": nxt}


def _issue_export(request: HttpRequest, dataset_id: uuid.UUID, fmt: str) -> tuple[Any, bool, str]:
    dataset = selectors.visible_dataset(request.user, dataset_id)
    qs, masker = selectors.issues_of(request.user, dataset)
    limit = setting("QUALITY_REPORT_MAX_ROWS")
    total = qs.count()
    with transaction.atomic():
        record_event(actor=request.user, action="quality.issues_exported", target_type="dataset",
                     target_id=str(dataset.pk), data={"format": fmt, "rows": min(total, limit),
                                                      "masked": masker is not None})
    labels = selectors.column_labels(dataset)
    rows = (selectors.issue_out(i, masker, labels) for i in qs.order_by("record_key", "column_name", "pk")[:limit]
            .iterator(chunk_size=2000))
    return rows, total > limit, f"quality-issues-{dataset.pk}"


@router.get("/datasets/{dataset_id}/issues.csv", summary="不合格记录下载 (failing rows, CSV)")
def issues_csv(request: HttpRequest, dataset_id: uuid.UUID) -> StreamingHttpResponse:
    rows, truncated, stem = _issue_export(request, dataset_id, "csv")
    return csv_download(rows, ISSUE_COLUMNS, f"{stem}.csv", truncated)


@router.get("/datasets/{dataset_id}/issues.json", summary="不合格记录下载 (failing rows, JSON)")
def issues_json(request: HttpRequest, dataset_id: uuid.UUID) -> StreamingHttpResponse:
    rows, truncated, stem = _issue_export(request, dataset_id, "json")
    return json_download(rows, f"{stem}.json", truncated)
