"""Disputes (疑义数据): raising one, and every step of its handling (``workflow.TRANSITIONS``).

Deadlines count working days with ``govshare.core.calendar`` exactly as the exchange's stage deadlines do
(the day of receipt is not counted; a year without holiday data gives a provisional deadline):
``accept_due_at`` is ``DISPUTE_ACCEPT_DAYS`` after submission, ``resolve_due_at`` ``DISPUTE_RESOLVE_DAYS``
after acceptance (or after a reopen).

A correction is applied to the record through the change log (``apply_batch`` with batch id
``dispute:<id>``, kind ``correction``) inside the same transaction as the step, so the corrected record, its
numbered change (old and new values) and the dispute's resolution commit together and reach subscribers.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import audit_key_hmac, record_event
from govshare.catalog.models import Resource
from govshare.core.calendar import add_working_days, working_days_between
from govshare.core.crypto import sm3_hex
from govshare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from govshare.datasets.changes import apply_batch, live_records
from govshare.datasets.choices import BatchKind
from govshare.datasets.models import Dataset
from govshare.datasets.validation import columns_for
from govshare.exchange import rowfilter
from govshare.exchange.choices import GrantStatus
from govshare.exchange.models import Grant, Notification
from govshare.quality import workflow
from govshare.quality.choices import (
    OPEN_DISPUTE_STATUSES,
    PLATFORM_ORIGINS,
    DisputeAction,
    DisputeCategory,
    DisputeOrigin,
    DisputeStatus,
    Resolution,
)
from govshare.quality.models import Dispute, DisputeStep
from govshare.quality.services.common import (
    actor_label,
    is_consumer_side,
    is_data_office_of,
    is_platform,
    is_provider_side,
    setting,
    user_or_none,
)

S = DisputeStatus
A = DisputeAction
TEXT_MAX = 2000


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _number() -> str:
    return f"YY{timezone.localdate():%Y%m%d}{secrets.token_hex(3).upper()}"


def _open_key(dataset_id: Any, key: str, column: str, origin: str, raising_department_id: Any) -> str:
    """One open dispute per (dataset, record, column, origin, raising department): set while open."""
    return sm3_hex(json.dumps([str(dataset_id), key, column, origin, str(raising_department_id or "")]))


def notify(*, dispute: Dispute, kind: str, subject: str, body: str = "", department_id: Any = None, role: str,
           dedupe: str) -> None:
    """One message in the shared notification outbox (``exchange.Notification``), delivered after commit by the
    worker and shown in the portal; ``dedupe`` makes a re-run add nothing."""
    Notification.objects.get_or_create(dedupe_key=f"dispute:{dedupe}"[:120], defaults={
        "department_id": department_id, "role": role, "node_id": dispute.node_id, "kind": kind[:32],
        "subject": subject[:200], "body": body})


def _text(value: str, field: str, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed("此操作须填写说明 (a text is required)", field=field)
    if len(value) > TEXT_MAX:
        raise ValidationFailed(f"说明不超过 {TEXT_MAX} 个字符 (text too long)", field=field)
    return value


def _check_evidence(evidence: dict[str, Any] | None) -> dict[str, Any]:
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise ValidationFailed("佐证材料须为 JSON 对象 (evidence must be an object)", field="evidence")
    try:
        size = len(json.dumps(evidence, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise ValidationFailed("佐证材料须为 JSON (evidence must be JSON)", field="evidence") from None
    limit = setting("DISPUTE_EVIDENCE_MAX_BYTES")
    if size > limit:
        raise ValidationFailed(f"佐证材料不超过 {limit} 字节 (evidence larger than {limit} bytes)", field="evidence")
    return evidence


def _allowed_by_grant(actor: Any, resource: Resource, column: str, record: dict[str, Any]) -> bool:
    """Whether an active grant of the actor's department covers the column (if any) and the record."""
    today = timezone.localdate()
    grants = list(Grant.objects.filter(resource=resource, consumer_id=actor.department_id, status=GrantStatus.ACTIVE,
                                       valid_from__lte=today, valid_to__gte=today).prefetch_related("items"))
    if not grants:
        raise PermissionDenied("本部门对该资源没有有效授权，不能提出疑义 (no active grant of your department on "
                               "this resource)")
    if column:
        grants = [g for g in grants if column in {i.column_name for i in g.items.all()}]
        if not grants:
            raise PermissionDenied("该信息项不在本部门的授权范围内 (the item is not in your grant)")
    types = {c.column_name: c.data_type for c in columns_for(resource)}
    for g in grants:
        try:
            if rowfilter.parse(g.row_filter or None, allowed_fields=types).matches(record):
                return True
        except (rowfilter.RowFilterError, ValueError):
            continue  # a broken filter admits nothing
    return False


def _deadline(start: dt.datetime, days_setting: str) -> tuple[dt.datetime, bool]:
    d = add_working_days(start, setting(days_setting))
    return d.due, d.provisional


# ---------------------------------------------------------------------------------------------
# Raising
# ---------------------------------------------------------------------------------------------


def raise_dispute(
    *,
    actor: Any,
    dataset: Dataset,
    record_key: str,
    column: str = "",
    reason: str,
    category: str = "",
    evidence: dict[str, Any] | None = None,
    origin: str = DisputeOrigin.CONSUMER,
) -> Dispute:
    """Flag a record (or one item of it) of a dataset as doubtful.

    ``origin="consumer"``: ``actor`` is a consumer or department administrator whose department holds an active
    grant on the dataset's resource covering ``column``; the record must exist in the live data inside the
    grant's row filter (otherwise :class:`NotFound`). One open dispute per department, record and column
    (:class:`Conflict` names the open one).

    ``origin="fusion"`` or ``"quality"``: ``actor`` is the platform (a label such as ``"fusion"``, or None); an
    open dispute on the same (dataset, record key, column, origin) is returned instead of a second one.
    """
    if origin not in DisputeOrigin.values:
        raise ValidationFailed(f"未知的疑义来源 {origin} (unknown origin)", field="origin")
    reason = _text(reason, "reason", required=True)
    category = category or (DisputeCategory.INCONSISTENT if origin == DisputeOrigin.FUSION
                            else DisputeCategory.WRONG_VALUE)
    if category not in DisputeCategory.values:
        raise ValidationFailed(f"未知的疑义类别 {category} (unknown category)", field="category")
    evidence = _check_evidence(evidence)
    key = (record_key or "").strip()
    if not key or len(key) > 128:
        raise ValidationFailed("记录主键必填，且不超过 128 个字符 (record_key is required)", field="record_key")
    column = (column or "").strip()
    resource = Resource.objects.select_related("published_version", "provider").get(pk=dataset.resource_id)
    if column and column not in {c.column_name for c in columns_for(resource)}:
        raise ValidationFailed(f"资源中没有信息项 {column} (no such item)", field="column")
    platform = origin in PLATFORM_ORIGINS
    if platform and not is_platform(actor):
        raise PermissionDenied("此来源的疑义只能由平台提出 (platform origin only)")
    if not platform and not is_consumer_side(actor):
        raise PermissionDenied("只有使用部门的人员可以提出疑义 (consumer department staff only)")
    record = live_records(dataset=dataset, keys=[key]).get(key)
    if record is None or (not platform and not _allowed_by_grant(actor, resource, column, record)):
        raise NotFound("记录不存在 (record not found)")
    raising_department_id = None if platform else actor.department_id
    open_key = _open_key(dataset.pk, key, column, origin, raising_department_id)
    now = timezone.now()
    accept_due, provisional = _deadline(now, "DISPUTE_ACCEPT_DAYS")
    try:
        with transaction.atomic():
            existing = Dispute.objects.filter(open_key=open_key).first()
            if existing is not None:
                if platform:
                    return existing
                raise Conflict("本部门已就该记录提出疑义，尚未办结 (your department already has an open dispute "
                               "on this record)", details={"dispute_id": str(existing.pk), "number": existing.number})
            dispute = Dispute.objects.create(
                node_id=dataset.node_id, number=_number(), dataset=dataset, record_key=key, column_name=column,
                reason=reason, category=category, evidence=evidence, origin=origin, raised_by=user_or_none(actor),
                raised_by_label=actor_label(actor) if platform else "", raising_department_id=raising_department_id,
                provider_id=resource.provider_id, status=S.SUBMITTED, submitted_at=now, accept_due_at=accept_due,
                accept_due_provisional=provisional, stage_started_at=now, open_key=open_key)
            DisputeStep.objects.create(dispute=dispute, action="raise", from_status="", to_status=S.SUBMITTED,
                                       actor=user_or_none(actor), actor_label=actor_label(actor), text=reason,
                                       detail={"category": category, "origin": origin})
            record_event(actor=actor, action="quality.dispute_raised", target_type="dispute",
                         target_id=str(dispute.pk),
                         data={"number": dispute.number, "dataset": str(dataset.pk), "column": column,
                               "origin": origin, "category": category, "key_hmacs": [audit_key_hmac(key)],
                               "accept_due_at": accept_due.isoformat()})
            notify(dispute=dispute, kind="dispute_raised", subject=f"疑义数据 {dispute.number} 待受理",
                   body=f"{resource.name}：{reason[:150]}", department_id=resource.provider_id, role=Role.PROVIDER,
                   dedupe=f"{dispute.pk}:raised")
    except IntegrityError:  # a concurrent caller opened the same dispute first
        existing = Dispute.objects.filter(open_key=open_key).first()
        if existing is None:
            raise
        if platform:
            return existing
        raise Conflict("本部门已就该记录提出疑义，尚未办结 (your department already has an open dispute on this "
                       "record)", details={"dispute_id": str(existing.pk), "number": existing.number}) from None
    return dispute


# ---------------------------------------------------------------------------------------------
# Acting
# ---------------------------------------------------------------------------------------------


def parties(actor: Any, dispute: Dispute) -> set[str]:
    """The workflow parties (``workflow.WHO``) the actor may act as on this dispute."""
    out: set[str] = set()
    if is_platform(actor):
        out.add(workflow.PLATFORM)
        if dispute.origin in PLATFORM_ORIGINS:
            out.add(workflow.RAISER)
        return out
    if is_provider_side(actor, department_id=dispute.provider_id):
        out.add(workflow.PROVIDER)
    if dispute.origin in PLATFORM_ORIGINS:
        if is_data_office_of(actor, dispute.node_id):  # a person may withdraw what the platform raised
            out.add(workflow.RAISER)
    elif is_consumer_side(actor) and actor.department_id == dispute.raising_department_id:
        out.add(workflow.RAISER)
    return out


def _correct(actor: Any, d: Dispute, corrections: dict[str, str | None] | None) -> dict[str, Any]:
    if not corrections or not isinstance(corrections, dict):
        raise ValidationFailed("更正须给出信息项及其更正后的值 (corrections are required)", field="corrections")
    dataset = Dataset.objects.get(pk=d.dataset_id)
    resource = Resource.objects.select_related("published_version").get(pk=dataset.resource_id)
    columns = {c.column_name: c for c in columns_for(resource)}
    for name, value in corrections.items():
        if name not in columns:
            raise ValidationFailed(f"资源中没有信息项 {name} (no such item)", field="corrections")
        if columns[name].is_key:
            raise ValidationFailed("不能更正主键；主键错误请删除并重新提供记录 (the key cannot be corrected)",
                                   field="corrections")
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{name} 的更正值须为文本或空 (a value must be text or null)", field="corrections")
    live = live_records(dataset=dataset, keys=[d.record_key]).get(d.record_key)
    if live is None:
        raise Conflict("记录已不在现有数据中，无法更正 (the record is no longer in the live data)")
    row = {**live, **corrections}
    if all(live.get(k) == v for k, v in corrections.items()):
        raise ValidationFailed("更正值与现有数据相同；数据无误请选择“核实无误” (nothing would change: use confirm)",
                               field="corrections")
    try:
        result = apply_batch(actor=actor, dataset=dataset, batch_id=f"dispute:{d.pk}", upserts=[row],
                             kind=BatchKind.CORRECTION, source=f"dispute:{d.number}")
    except ValidationFailed as exc:
        raise ValidationFailed(f"更正值未通过校验 (corrected values failed validation): {exc.message}",
                               field="corrections", details={"problems": exc.details.get("problems", [])}) from None
    return {"batch_id": result.batch_id, "columns": sorted(corrections), "first_seq": result.first_seq,
            "last_seq": result.last_seq, "updated": result.updated, "replayed": result.replayed}


def _reopen_window(d: Dispute, now: dt.datetime) -> None:
    if d.reopen_count >= 1:
        raise Conflict("该疑义已重新核查过一次，如仍有异议请联系数据主管部门协调 (already reopened once)")
    days = setting("DISPUTE_REOPEN_DAYS")
    if d.resolved_at is None or working_days_between(d.resolved_at, now) > days:
        raise Conflict(f"核实结果办结超过 {days} 个工作日，不能重新核查，请重新提出疑义 (the reopen window of "
                       f"{days} working days has passed)")


def _enter_accepted(d: Dispute, now: dt.datetime) -> None:
    d.accepted_at = d.accepted_at or now
    d.resolve_due_at, d.resolve_due_provisional = _deadline(now, "DISPUTE_RESOLVE_DAYS")
    d.stage_started_at, d.reminded_at, d.escalated_at = now, None, None


def act_on_dispute(
    *,
    actor: Any,
    dispute: Dispute,
    action: str,
    text: str = "",
    corrections: dict[str, str | None] | None = None,
) -> Dispute:
    """Take one step of the dispute workflow (see ``govshare.quality.workflow``)."""
    with transaction.atomic():
        d = Dispute.objects.select_for_update().get(pk=dispute.pk)
        step = workflow.transition(d.status, action)
        if step is None:
            raise Conflict(f"当前状态“{d.get_status_display()}”不允许操作 {action} (not allowed in this state)",
                           details={"status": d.status, "action": action,
                                    "allowed": [str(a) for a in workflow.allowed_actions(d.status)]})
        if step.by not in parties(actor, d):
            raise PermissionDenied("无权执行此操作 (not yours to act on)")
        text = _text(text, "text", required=step.needs_text)
        now = timezone.now()
        from_status = d.status
        detail: dict[str, Any] = {}
        if action == A.ESCALATE:
            due = d.due_at
            if d.escalated_at is not None or due is None or now <= due:
                raise Conflict("未超期或已上报，不能上报 (not overdue, or already escalated)")
            d.escalated_at = now
        elif action in (A.ACCEPT, A.REOPEN):
            if action == A.REOPEN:
                _reopen_window(d, now)
                d.reopen_count += 1
                d.resolution, d.resolution_text, d.resolved_at = "", "", None
            _enter_accepted(d, now)
        elif action == A.CORRECT:
            detail = _correct(actor, d, corrections)
            d.correction_batch_id = detail["batch_id"]
            d.resolution, d.resolution_text = Resolution.CORRECTED, text
        elif action == A.CONFIRM:
            d.resolution, d.resolution_text = Resolution.CONFIRMED, text
        elif action == A.REJECT:
            d.resolution_text = text
        d.status = step.target
        if d.status not in OPEN_DISPUTE_STATUSES:
            d.resolved_at, d.open_key = now, None
        elif from_status not in OPEN_DISPUTE_STATUSES:
            d.open_key = _open_key(d.dataset_id, d.record_key, d.column_name, d.origin, d.raising_department_id)
        try:
            with transaction.atomic():
                d.save()
        except IntegrityError:
            raise Conflict("同一记录已有另一件未办结的疑义 (another open dispute on this record)") from None
        DisputeStep.objects.create(dispute=d, action=action, from_status=from_status, to_status=d.status,
                                   actor=user_or_none(actor), actor_label=actor_label(actor), text=text,
                                   detail=detail)
        data: dict[str, Any] = {"number": d.number, "from": from_status, "to": d.status, "text": text[:500]}
        if detail:
            data["correction"] = detail  # column names, batch id and seqs; the values are in the change log
        record_event(actor=actor, action=f"quality.dispute_{action}", target_type="dispute", target_id=str(d.pk),
                     data=data)
        _notify_step(d, action)
    return d


def _notify_step(d: Dispute, action: str) -> None:
    """Tell whoever must know: the other side, or the data office for an escalation."""
    if action == A.ESCALATE:
        due = d.due_at
        notify(dispute=d, kind="dispute_escalation", subject=f"疑义数据 {d.number} 已超期（{d.get_status_display()}）",
               body=f"应于 {timezone.localtime(due):%Y-%m-%d} 前办理" if due else "", role=Role.DATA_OFFICE,
               dedupe=f"{d.pk}:escalate:{d.status}:{d.stage_started_at.isoformat()}")
    elif action in (A.ACCEPT, A.CONFIRM, A.CORRECT, A.REJECT) and d.raising_department_id:
        label = DisputeAction(action).label
        notify(dispute=d, kind="dispute_answered", subject=f"疑义数据 {d.number}：{label}",
               body=d.resolution_text[:200], department_id=d.raising_department_id, role=Role.CONSUMER,
               dedupe=f"{d.pk}:{action}:{d.stage_started_at.isoformat()}:{d.status}")
    elif action in (A.WITHDRAW, A.REOPEN):
        notify(dispute=d, kind="dispute_raised" if action == A.REOPEN else "dispute_withdrawn",
               subject=f"疑义数据 {d.number}：{DisputeAction(action).label}", department_id=d.provider_id,
               role=Role.PROVIDER, dedupe=f"{d.pk}:{action}:{d.stage_started_at.isoformat()}")
