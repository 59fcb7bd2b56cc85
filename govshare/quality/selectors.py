"""Permission-checked reads of quality rules, scores, failing rows and disputes.

Scope:

- quality scores and runs (counts only) of a dataset: whoever can see the dataset;
- the failing-rows report (record keys): the providing department in clear, the node's data office with the
  keys masked by the key item's data-element mask (it oversees quality, it does not need the identities);
- rules: the node's data office; a providing department sees its node's element rules and its own item rules;
- disputes: the raising department (consumer side), the providing department (provider side), the node's
  data office and auditor (keys masked unless they are a party).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.catalog.models import DataElement, Resource
from govshare.core.calendar import HolidayTable, get_table, working_days_left
from govshare.core.errors import NotFound, PermissionDenied
from govshare.core.masking import mask
from govshare.datasets.models import Dataset
from govshare.datasets.selectors import datasets_visible_to
from govshare.quality import workflow
from govshare.quality.choices import OPEN_DISPUTE_STATUSES, DisputeStatus
from govshare.quality.models import Dispute, DisputeStep, QualityIssue, QualityRule, QualityRun, QualityState
from govshare.quality.services.common import is_data_office_of, is_provider_side, role_of
from govshare.quality.services.disputes import parties

NODE_ROLES = (Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN)
DISPUTE_NODE_READERS = (Role.DATA_OFFICE, Role.AUDIT_ADMIN)
BOXES = ("all", "mine", "inbox", "node")


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def rules_visible_to(user: Any) -> QuerySet[QualityRule]:
    qs = QualityRule.objects.select_related("element", "resource", "created_by")
    role = role_of(user)
    if role == Role.DATA_OFFICE:
        return qs.filter(node_id=user.node_id)
    if role in (Role.PROVIDER, Role.DEPT_ADMIN) and user.department_id:
        return qs.filter(Q(node_id=user.node_id, element__isnull=False) | Q(resource__provider_id=user.department_id))
    return qs.none()


def visible_rule(user: Any, rule_id: Any) -> QualityRule:
    rule = rules_visible_to(user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("质量规则不存在 (rule not found)")
    return rule


# ---------------------------------------------------------------------------------------------
# Scores and runs
# ---------------------------------------------------------------------------------------------


def visible_dataset(user: Any, dataset_id: Any) -> Dataset:
    dataset = datasets_visible_to(user).filter(pk=dataset_id).first()
    if dataset is None:
        raise NotFound("数据集不存在 (dataset not found)")
    return dataset


def dataset_scores(user: Any, *, department_id: Any = None) -> QuerySet[QualityState]:
    qs = (QualityState.objects.filter(dataset__in=datasets_visible_to(user).values("pk"))
          .select_related("dataset__resource__provider"))
    if department_id is not None:
        qs = qs.filter(dataset__resource__provider_id=department_id)
    return qs


def state_out(state: QualityState | None, dataset: Dataset) -> dict[str, Any]:
    r = dataset.resource
    return {
        "dataset_id": str(dataset.pk), "resource_id": str(r.pk), "resource_code": r.code, "resource_name": r.name,
        "provider_id": str(r.provider_id), "provider_name": r.provider.name,
        "score": state.score if state else None, "rows_total": state.rows_total if state else 0,
        "rows_failing": state.rows_failing if state else 0,
        "last_full_at": state.last_full_at if state else None,
        "checked_seq": state.cursor_seq if state else 0, "last_seq": dataset.last_seq,
        "full_run_requested": bool(state and state.full_requested_at),
    }


def department_scores(user: Any) -> list[dict[str, Any]]:
    """Row-weighted mean score per providing department: failing-free live rows / live rows over its checked
    datasets. Node roles see their node's departments; department roles their own department."""
    role = role_of(user)
    qs = QualityState.objects.filter(last_full_at__isnull=False)
    if role in NODE_ROLES:
        qs = qs.filter(dataset__node_id=user.node_id)
    elif role is not None and getattr(user, "department_id", None):
        qs = qs.filter(dataset__resource__provider_id=user.department_id)
    else:
        return []
    rows = (qs.values("dataset__resource__provider_id", "dataset__resource__provider__name")
            .annotate(total=Sum("rows_total"), failing=Sum("rows_failing"), datasets=Count("pk"))
            .order_by("dataset__resource__provider__name"))
    out = []
    for r in rows:
        total, failing = int(r["total"] or 0), int(r["failing"] or 0)
        out.append({"department_id": str(r["dataset__resource__provider_id"]),
                    "department_name": r["dataset__resource__provider__name"], "datasets": r["datasets"],
                    "rows_total": total, "rows_failing": failing,
                    "score": round((total - failing) / total, 6) if total else None})
    return out


def runs_of(user: Any, dataset: Dataset) -> QuerySet[QualityRun]:
    return QualityRun.objects.filter(dataset_id=dataset.pk)


def issue_summary(dataset: Dataset) -> list[dict[str, Any]]:
    """Failures per (column, rule) — counts only, readable by whoever sees the dataset."""
    rows = (QualityIssue.objects.filter(dataset_id=dataset.pk).values("column_name", "rule_key", "kind")
            .annotate(rows=Count("id")).order_by("-rows", "column_name", "rule_key"))
    return [dict(r) for r in rows]


# ---------------------------------------------------------------------------------------------
# Failing rows
# ---------------------------------------------------------------------------------------------


def _key_masker(dataset: Dataset) -> Callable[[str], str]:
    """Mask for record keys shown to someone who may see that a record fails but not whose it is."""
    resource = Resource.objects.select_related("published_version").get(pk=dataset.resource_id)
    version = resource.published_version
    items = version.snapshot.get("items", []) if version else []
    code = next((i.get("element_code") for i in items if i.get("column_name") == dataset.key_column), None)
    element = DataElement.objects.filter(code=code).first() if code else None
    kind = element.mask_kind if element and element.mask_kind not in ("", "none") else "keep_head_tail"
    params = element.mask_params if element and element.mask_kind not in ("", "none") else {}

    def masked(key: str) -> str:
        try:
            return str(mask(kind, key, params))
        except ValueError:
            return "*" * 6

    return masked


def issues_of(user: Any, dataset: Dataset) -> tuple[QuerySet[QualityIssue], Callable[[str], str] | None]:
    """The failing-row set and, for the data office, the key mask to apply (None: keys in clear)."""
    if is_provider_side(user, department_id=dataset.resource.provider_id):
        masker = None
    elif is_data_office_of(user, dataset.node_id):
        masker = _key_masker(dataset)
    else:
        raise PermissionDenied("只有提供部门和数据主管部门可以查看不合格记录 (providing department and data office "
                               "only)")
    return QualityIssue.objects.filter(dataset_id=dataset.pk), masker


def column_labels(dataset: Dataset) -> dict[str, str]:
    version = dataset.resource.published_version
    return {i["column_name"]: i["name"] for i in (version.snapshot.get("items", []) if version else [])}


def issue_out(i: QualityIssue, masker: Callable[[str], str] | None, labels: dict[str, str]) -> dict[str, Any]:
    return {"id": i.pk, "record_key": masker(i.record_key) if masker else i.record_key, "column": i.column_name,
            "column_name": labels.get(i.column_name, i.column_name), "rule_key": i.rule_key,
            "rule_id": str(i.rule_id) if i.rule_id else None, "kind": i.kind, "message": i.message,
            "found_at": i.found_at}


# ---------------------------------------------------------------------------------------------
# Disputes
# ---------------------------------------------------------------------------------------------


def disputes_visible_to(user: Any) -> QuerySet[Dispute]:
    qs = Dispute.objects.select_related("dataset__resource", "provider", "raising_department", "raised_by")
    role = role_of(user)
    if role in DISPUTE_NODE_READERS:
        return qs.filter(node_id=user.node_id)
    dept = getattr(user, "department_id", None)
    if not dept:
        return qs.none()
    if role == Role.CONSUMER:
        return qs.filter(raising_department_id=dept)
    if role == Role.PROVIDER:
        return qs.filter(provider_id=dept)
    if role == Role.DEPT_ADMIN:
        return qs.filter(Q(raising_department_id=dept) | Q(provider_id=dept))
    return qs.none()


def dispute_box(user: Any, box: str = "all", *, status: str = "", overdue: bool | None = None,
                dataset_id: Any = None, now: dt.datetime | None = None) -> QuerySet[Dispute]:
    """``mine``: raised by my department; ``inbox``: open disputes waiting for my department as provider;
    ``node``: every dispute of my node (data office, auditor); ``all``: everything I can see."""
    qs = disputes_visible_to(user)
    dept = getattr(user, "department_id", None)
    if box == "mine":
        qs = qs.filter(raising_department_id=dept) if dept else qs.none()
    elif box == "inbox":
        qs = qs.filter(provider_id=dept, status__in=list(OPEN_DISPUTE_STATUSES)) if dept and role_of(user) in (
            Role.PROVIDER, Role.DEPT_ADMIN) else qs.none()
    elif box == "node":
        qs = qs if role_of(user) in DISPUTE_NODE_READERS else qs.none()
    if status:
        qs = qs.filter(status=status)
    if dataset_id is not None:
        qs = qs.filter(dataset_id=dataset_id)
    if overdue is not None:
        now = now or timezone.now()
        late = (Q(status=DisputeStatus.SUBMITTED, accept_due_at__lt=now)
                | Q(status=DisputeStatus.ACCEPTED, resolve_due_at__lt=now))
        qs = qs.filter(late) if overdue else qs.exclude(late)
    return qs


def visible_dispute(user: Any, dispute_id: Any) -> Dispute:
    d = disputes_visible_to(user).filter(pk=dispute_id).first()
    if d is None:
        raise NotFound("疑义数据不存在 (dispute not found)")
    return d


def steps_of(dispute: Dispute) -> QuerySet[DisputeStep]:
    return DisputeStep.objects.filter(dispute=dispute).select_related("actor").order_by("created_at")


class DisputeView:
    """Turns disputes into API rows for one viewer, masking keys for non-parties (one mask per dataset)."""

    def __init__(self, user: Any, now: dt.datetime | None = None) -> None:
        self.user = user
        self.now = now or timezone.now()
        self._maskers: dict[Any, Callable[[str], str]] = {}
        self._table: HolidayTable | None = None

    def _days_left(self, due: dt.datetime) -> int:
        if self._table is None:
            self._table = get_table()  # once per list, not once per row
        return working_days_left(self.now, due, table=self._table)

    def _key(self, d: Dispute, who: set[str]) -> str:
        if who - {workflow.PLATFORM}:  # the provider side, or the raiser: they know the record
            return d.record_key
        if d.dataset_id not in self._maskers:
            self._maskers[d.dataset_id] = _key_masker(d.dataset)
        return self._maskers[d.dataset_id](d.record_key)

    def row(self, d: Dispute) -> dict[str, Any]:
        who = parties(self.user, d)
        due = d.due_at
        is_open = d.status in OPEN_DISPUTE_STATUSES
        r = d.dataset.resource
        return {
            "id": str(d.pk), "number": d.number, "status": d.status, "status_label": d.get_status_display(),
            "dataset_id": str(d.dataset_id), "resource_code": r.code, "resource_name": r.name,
            "record_key": self._key(d, who), "column": d.column_name, "reason": d.reason, "category": d.category,
            "category_label": d.get_category_display(), "origin": d.origin, "evidence": d.evidence,
            "raised_by": d.raised_by.username if d.raised_by else d.raised_by_label,
            "raising_department_id": str(d.raising_department_id) if d.raising_department_id else None,
            "raising_department_name": d.raising_department.name if d.raising_department else None,
            "provider_id": str(d.provider_id), "provider_name": d.provider.name,
            "submitted_at": d.submitted_at, "accept_due_at": d.accept_due_at,
            "accept_due_provisional": d.accept_due_provisional, "accepted_at": d.accepted_at,
            "resolve_due_at": d.resolve_due_at, "resolve_due_provisional": d.resolve_due_provisional,
            "due_at": due, "overdue": bool(is_open and due is not None and self.now > due),
            "working_days_left": self._days_left(due) if is_open and due is not None else None,
            "escalated": d.escalated_at is not None, "escalated_at": d.escalated_at,
            "resolution": d.resolution, "resolution_text": d.resolution_text, "resolved_at": d.resolved_at,
            "correction_batch_id": d.correction_batch_id, "reopen_count": d.reopen_count,
            "allowed_actions": [str(a) for a in workflow.allowed_actions(d.status, who=who - {workflow.PLATFORM})],
        }
