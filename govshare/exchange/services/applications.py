"""Applications (共享申请): submission, review actions through the stages, and the deadline sweep."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.catalog.choices import Sensitivity, ShareMode, ShareType
from govshare.catalog.models import Resource
from govshare.core.calendar import add_working_days
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.exchange import workflow
from govshare.exchange.choices import OPEN_STATUSES, ApplicationAction, ExchangeMode, ItemMode, RefusalReason
from govshare.exchange.choices import ApplicationStatus as S
from govshare.exchange.models import Application, ApplicationStep, Grant, ReviewPolicy
from govshare.exchange.services import guards
from govshare.exchange.services.deadlines import enter_stage, stage_days
from govshare.exchange.services.grants import (
    Decision,
    _notify,
    create_grant,
    guard_error,
    resource_items,
    validate_decision,
)
from govshare.organizations.models import Node
from govshare.registry.models import InformationSystem

# Which catalog 共享方式 a mode of exchange needs.
MODE_NEEDS = {ExchangeMode.QUERY: ShareMode.API, ExchangeMode.VERIFY: ShareMode.API,
              ExchangeMode.FILE: ShareMode.FILE, ExchangeMode.SUBSCRIPTION: ShareMode.TABLE}


def policy_for(node: Node) -> ReviewPolicy:
    defaults = settings.GOVSHARE.get("REVIEW_DEFAULTS", {})
    policy, _ = ReviewPolicy.objects.get_or_create(node=node, defaults=defaults)
    return policy


def _policy_view(policy: ReviewPolicy) -> workflow.Policy:
    return workflow.Policy(internal_review=policy.internal_review, compliance_review=policy.compliance_review)


def _number() -> str:
    return f"SQ{timezone.localdate():%Y%m%d}{secrets.token_hex(3).upper()}"


def _is_mounted(resource: Resource) -> bool:
    dataset = getattr(resource, "dataset", None)
    return bool(dataset is not None and dataset.generation > 0)


def default_modes(app: Application) -> dict[str, str]:
    """Item modes for an unconditional (无条件共享) application approved at once: L1/L2 plain, L3 masked."""
    snap_items = {i["column_name"]: i for i in app.resource.published_version.snapshot["items"]}  # type: ignore[union-attr]
    return {c: ItemMode.PLAIN if snap_items[c]["sensitivity"] <= Sensitivity.L2 else ItemMode.MASKED
            for c in app.items}


def submit_application(
    *,
    actor: Any,
    resource: Resource,
    system: InformationSystem,
    items: list[str],
    modes: list[str],
    purpose: str,
    legal_basis: str = "",
    valid_from: dt.date | None = None,
    valid_to: dt.date,
    renewal_of: Grant | None = None,
) -> Application:
    """Apply for a published resource. 无条件共享 is approved at once (still recorded)."""
    if getattr(actor, "role", None) not in (Role.CONSUMER, Role.DEPT_ADMIN) or not actor.department_id:
        raise PermissionDenied("只有使用方部门人员可以提交共享申请 (consumer department staff only)")
    if not resource.is_listed or resource.published_version is None:
        raise ValidationFailed("只能申请已发布的资源 (resource not published)", field="resource_id")
    if resource.provider_id == actor.department_id:
        raise ValidationFailed("本部门资源无需申请 (own department's resource)", field="resource_id")
    snapshot = resource.published_version.snapshot
    if snapshot["share_type"] == ShareType.NONE:
        raise Conflict(f"该资源不予共享，依据: {snapshot['no_share_basis']} (not shareable)",
                       details={"field": "resource_id"})
    if system.department_id != actor.department_id or not system.active:
        raise ValidationFailed("须选择本部门的在用信息系统 (system of your department)", field="system_id")
    offered = {i["column_name"] for i in snapshot["items"]}
    if not items:
        raise ValidationFailed("至少选择一个信息项 (choose at least one item)", field="items")
    unknown = sorted(set(items) - offered)
    if unknown:
        raise ValidationFailed(f"资源没有这些信息项: {', '.join(unknown)}", field="items")
    if not modes or set(modes) - set(ExchangeMode.values):
        raise ValidationFailed("交换方式须为 query/verify/file/subscription", field="modes")
    missing = sorted(m for m in modes if MODE_NEEDS[ExchangeMode(m)] not in snapshot["share_modes"])
    if missing:
        raise ValidationFailed(f"该资源不提供这些交换方式: {', '.join(missing)} (not offered)", field="modes")
    if len(purpose.strip()) < 4:
        raise ValidationFailed("请写明申请事由 (purpose required)", field="purpose")
    start = valid_from or timezone.localdate()
    max_days = settings.GOVSHARE.get("GRANT_MAX_DAYS", 3 * 366)
    if valid_to <= start or (valid_to - start).days > max_days:
        raise ValidationFailed(f"有效期须晚于开始日期且不超过 {max_days} 天", field="valid_to")
    policy = policy_for(resource.node)
    now = timezone.now()
    with transaction.atomic():
        app = Application(
            node=resource.node, resource=resource, resource_version=resource.published_version.number,
            provider=resource.provider, consumer=actor.department, system=system, applicant=actor,
            items=list(dict.fromkeys(items)), modes=list(dict.fromkeys(modes)), purpose=purpose.strip(),
            legal_basis=legal_basis.strip(), valid_from=start, valid_to=valid_to, renewal_of=renewal_of,
        )
        unconditional = snapshot["share_type"] == ShareType.UNCONDITIONAL
        has_l4 = any(i["sensitivity"] >= Sensitivity.L4 for i in snapshot["items"] if i["column_name"] in items)
        auto = None
        if unconditional and not has_l4:
            modes_map = default_modes(app)
            if not guards.check(resource_items(resource.pk), modes_map):
                auto = modes_map
        if auto is not None:
            target = S.APPROVED if _is_mounted(resource) else S.PENDING_SUPPLY
            enter_stage(app, target, policy, now)
        else:
            enter_stage(app, workflow.first_stage(_policy_view(policy)), policy, now)
        for _ in range(5):
            app.number = _number()
            try:
                with transaction.atomic():
                    app.save()
                break
            except IntegrityError:
                continue
        ApplicationStep.objects.create(application=app, action="submit", to_status=app.status, actor=actor,
                                       detail={"auto_approved": auto is not None})
        record_event(actor=actor, action="application.submitted", target_type="application",
                     target_id=str(app.pk), data={"number": app.number, "resource": resource.code,
                                                  "items": app.items, "modes": app.modes, "status": app.status})
        if auto is not None:
            decision = Decision(items=auto, modes=app.modes)
            if app.status == S.APPROVED:
                create_grant(actor=actor, app=app, decision=decision)
                app.decided_at = now
                app.save(update_fields=["decided_at"])
            else:
                ApplicationStep.objects.create(application=app, action="auto_approve", from_status=app.status,
                                               to_status=app.status, detail={"decision": decision.as_dict()})
        _notify_stage(app)
    return app


def may_act(actor: Any, app: Application, by: str) -> bool:
    role = getattr(actor, "role", None)
    if by == workflow.CONSUMER:
        return role in (Role.CONSUMER, Role.DEPT_ADMIN) and actor.department_id == app.consumer_id
    if by == workflow.CONSUMER_ADMIN:
        return role == Role.DEPT_ADMIN and actor.department_id == app.consumer_id
    if by == workflow.DATA_OFFICE:
        return role == Role.DATA_OFFICE and actor.node_id == app.node_id
    if by == workflow.PROVIDER:
        return role in (Role.PROVIDER, Role.DEPT_ADMIN) and actor.department_id == app.provider_id
    return False


def act(
    *,
    actor: Any,
    application: Application,
    action: str,
    reason: str = "",
    refusal_reason: str = "",
    decision: Decision | None = None,
) -> Application:
    """Run one review action (审核) on an application per ``workflow.TRANSITIONS``."""
    with transaction.atomic():
        app = Application.objects.select_for_update().select_related("resource", "node").get(pk=application.pk)
        step = workflow.transition(app.status, action)
        if step is None:
            raise Conflict(f"当前状态“{app.get_status_display()}”不允许操作 {action} (not allowed)",
                           details={"status": app.status, "action": action,
                                    "allowed": [str(a) for a in workflow.allowed_actions(app.status)]})
        if not may_act(actor, app, step.by):
            raise PermissionDenied("无权执行此审核操作 (not your stage)")
        reason = reason.strip()
        if step.needs_reason and not reason:
            raise ValidationFailed("此操作须填写理由 (a reason is required)", field="reason")
        if action == ApplicationAction.REFUSE and refusal_reason not in RefusalReason.values:
            raise ValidationFailed("拒绝须从固定理由列表中选择 (refusal_reason from the fixed list)",
                                   field="refusal_reason")
        policy = policy_for(app.node)
        target = workflow.resolve(step, state=app.status, policy=_policy_view(policy),
                                  mounted=_is_mounted(app.resource))
        detail: dict[str, Any] = {}
        now = timezone.now()
        from_status = app.status
        if action == ApplicationAction.APPROVE:
            if decision is None:
                raise ValidationFailed("同意授权须给出信息项及其授权方式 (decision required)", field="items")
            override = _guard_override(app, decision)
            if target == S.APPROVED:
                create_grant(actor=actor, app=app, decision=decision, override_reason=override)
            else:  # 待提供: validate now, create the grant when the data is mounted
                violations, _ = validate_decision(app, decision)
                if violations and not override:
                    raise guard_error(violations)
            detail["decision"] = decision.as_dict()
        if action == ApplicationAction.SUPPLY:
            if not _is_mounted(app.resource):
                raise Conflict("资源尚未挂接数据，不能提供 (resource not mounted yet)")
            stored = app.steps.filter(detail__has_key="decision").order_by("-created_at").first()
            if stored is None:
                raise Conflict("缺少提供方的授权决定 (no decision recorded)")
            d = Decision.from_dict(stored.detail["decision"])
            create_grant(actor=actor, app=app, decision=d, override_reason=_guard_override(app, d))
        if action == ApplicationAction.REFUSE:
            app.refusal_reason = refusal_reason
            app.refusal_text = reason
        enter_stage(app, target, policy, now)
        if target in (S.APPROVED, S.REFUSED, S.CLOSED, S.WITHDRAWN):
            app.decided_at = now
        app.save()
        ApplicationStep.objects.create(application=app, action=action, from_status=from_status, to_status=target,
                                       actor=actor, reason=reason, detail=detail)
        record_event(actor=actor, action=f"application.{action}", target_type="application",
                     target_id=str(app.pk), data={"number": app.number, "from": from_status, "to": target,
                                                  "reason": reason, "refusal_reason": refusal_reason})
        _notify_stage(app)
    return app


def _guard_override(app: Application, decision: Decision) -> str:
    """The sec_admin's recorded override for exactly these item modes, if any."""
    for step in app.steps.filter(action="guard_override").order_by("-created_at"):
        if step.detail.get("items") == decision.items:
            return step.reason
    return ""


def override_inference_guard(*, actor: Any, application: Application, items: dict[str, str],
                             reason: str) -> ApplicationStep:
    """安全管理员 accepts the inference-guard risk of one exact set of item modes, with a recorded reason."""
    if getattr(actor, "role", None) != Role.SEC_ADMIN or actor.node_id != application.node_id:
        raise PermissionDenied("只有本节点安全管理员可以批准 (security administrator only)")
    if not reason.strip():
        raise ValidationFailed("须填写批准理由 (a reason is required)", field="reason")
    if application.status not in (S.PROVIDER_REVIEW, S.PENDING_SUPPLY, S.COORDINATION):
        raise Conflict("该申请当前不在提供方审核阶段 (not under provider review)")
    with transaction.atomic():
        step = ApplicationStep.objects.create(application=application, action="guard_override",
                                              from_status=application.status, to_status=application.status,
                                              actor=actor, reason=reason.strip(), detail={"items": items})
        record_event(actor=actor, action="application.guard_override", target_type="application",
                     target_id=str(application.pk), data={"items": items, "reason": reason})
    return step


# ---------------------------------------------------------------------------------------------
# Notifications, reminders and escalation
# ---------------------------------------------------------------------------------------------


def _notify_stage(app: Application) -> None:
    status = S(app.status)
    who = {
        S.INTERNAL_REVIEW: (app.consumer, Role.DEPT_ADMIN),
        S.COMPLIANCE_REVIEW: (None, Role.DATA_OFFICE),
        S.PROVIDER_REVIEW: (app.provider, Role.PROVIDER),
        S.PENDING_SUPPLY: (app.provider, Role.PROVIDER),
        S.COORDINATION: (None, Role.DATA_OFFICE),
    }.get(status, (app.consumer, Role.CONSUMER))
    _notify(who[0], f"stage:{status}", f"共享申请 {app.number} {status.label}", app.purpose[:200],
            application=app, role=who[1], node=app.node,
            dedupe=f"stage:{app.pk}:{status}:{app.stage_started_at.isoformat() if app.stage_started_at else ''}")


def sweep_deadlines(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Remind 2 working days (policy) before each due date; escalate overdue stages to the data office.

    Idempotent: each stage entry is reminded and escalated at most once; re-running changes nothing."""
    now = now or timezone.now()
    reminded = escalated = 0
    open_apps = Application.objects.filter(status__in=list(OPEN_STATUSES), stage_due_at__isnull=False)
    for app in open_apps.select_related("node", "consumer", "provider").iterator():
        policy = policy_for(app.node)
        assert app.stage_due_at is not None
        with transaction.atomic():
            locked = Application.objects.select_for_update().get(pk=app.pk)
            if locked.status != app.status or locked.stage_due_at != app.stage_due_at:
                continue
            if locked.stage_due_at < now and locked.escalated_at is None:
                locked.escalated_at = now
                locked.save(update_fields=["escalated_at"])
                _notify(None, "escalation", f"共享申请 {locked.number} 已超期 ({locked.get_status_display()})",
                        f"应于 {timezone.localtime(locked.stage_due_at):%Y-%m-%d} 前办结", application=locked,
                        role=Role.DATA_OFFICE, node=locked.node,
                        dedupe=f"escalate:{locked.pk}:{locked.status}:{locked.stage_started_at}")
                record_event(actor=None, action="application.escalated", target_type="application",
                             target_id=str(locked.pk), data={"number": locked.number, "status": locked.status})
                escalated += 1
            elif locked.reminded_at is None and locked.stage_due_at >= now:
                remind_from = _reminder_start(locked, policy)
                if remind_from is not None and now >= remind_from:
                    locked.reminded_at = now
                    locked.save(update_fields=["reminded_at"])
                    dept, role = ((locked.provider, Role.PROVIDER)
                                  if locked.status in (S.PROVIDER_REVIEW, S.PENDING_SUPPLY)
                                  else (locked.consumer, Role.DEPT_ADMIN) if locked.status == S.INTERNAL_REVIEW
                                  else (None, Role.DATA_OFFICE))
                    _notify(dept, "reminder", f"共享申请 {locked.number} 即将到期",
                            f"截止 {timezone.localtime(locked.stage_due_at):%Y-%m-%d}", application=locked,
                            role=role, node=locked.node,
                            dedupe=f"remind:{locked.pk}:{locked.status}:{locked.stage_started_at}")
                    record_event(actor=None, action="application.reminded", target_type="application",
                                 target_id=str(locked.pk), data={"number": locked.number})
                    reminded += 1
    return {"reminded": reminded, "escalated": escalated}


def _reminder_start(app: Application, policy: ReviewPolicy) -> dt.datetime | None:
    """The moment from which a reminder is due: ``reminder_days`` working days before the due date."""
    days = stage_days(policy, app.status)
    if not days or app.stage_started_at is None:
        return None
    lead = days - policy.reminder_days
    if lead <= 0:
        return app.stage_started_at
    # The end of working day number ``lead`` after the stage started: the reminder goes out after it.
    return add_working_days(app.stage_started_at, lead).due


def update_policy(*, actor: Any, node: Node, **values: Any) -> ReviewPolicy:
    """Change the node's review stages and deadlines (系统管理员)."""
    if getattr(actor, "role", None) != Role.SYS_ADMIN:
        raise PermissionDenied("只有系统管理员可以修改审核流程设置 (system administrator only)")
    for name in ("internal_days", "compliance_days", "provider_days", "supply_days", "coordination_days"):
        if name in values and not 1 <= int(values[name]) <= 60:
            raise ValidationFailed(f"{name} 须在 1 到 60 个工作日之间", field=name)
    if "reminder_days" in values and not 0 <= int(values["reminder_days"]) <= 10:
        raise ValidationFailed("reminder_days 须在 0 到 10 之间", field="reminder_days")
    with transaction.atomic():
        policy = policy_for(node)
        before = {k: getattr(policy, k) for k in values}
        for k, v in values.items():
            setattr(policy, k, v)
        policy.save()
        record_event(actor=actor, action="exchange.policy_updated", target_type="review_policy",
                     target_id=str(policy.pk), data={"before": before, "after": values})
    return policy
