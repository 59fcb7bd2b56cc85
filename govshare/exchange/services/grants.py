"""Grants (授权): creation from a provider decision with the inference guard, revocation, review after
tightening, and emergency suspension (应急停用)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.catalog.hooks import Tightening
from govshare.catalog.models import DataItem
from govshare.core.crypto.envelope import encrypt_secret
from govshare.core.epoch import bump_authz_epoch
from govshare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from govshare.exchange import rowfilter
from govshare.exchange.choices import ExchangeMode, GrantStatus, ItemMode, SuspensionScope
from govshare.exchange.models import Application, Grant, GrantItem, Notification, Suspension
from govshare.exchange.services import guards
from govshare.organizations.models import Department
from govshare.registry.models import InformationSystem


@dataclass
class Decision:
    """The provider's approval: possibly fewer items, a mode per item, a shorter validity, limits, a filter."""

    items: dict[str, str]
    valid_to: dt.date | None = None
    rate_limit_per_minute: int = 600
    daily_quota: int = 10000
    verify_quota_per_key: int = 5
    verify_all_match_only: bool = False
    row_filter: str | dict[str, Any] | None = None
    modes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "valid_to": self.valid_to.isoformat() if self.valid_to else None,
                "rate_limit_per_minute": self.rate_limit_per_minute, "daily_quota": self.daily_quota,
                "verify_quota_per_key": self.verify_quota_per_key,
                "verify_all_match_only": self.verify_all_match_only, "row_filter": self.row_filter,
                "modes": self.modes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(items=dict(d["items"]), valid_to=dt.date.fromisoformat(d["valid_to"]) if d.get("valid_to")
                   else None, rate_limit_per_minute=d["rate_limit_per_minute"], daily_quota=d["daily_quota"],
                   verify_quota_per_key=d["verify_quota_per_key"],
                   verify_all_match_only=d["verify_all_match_only"], row_filter=d.get("row_filter"),
                   modes=list(d.get("modes") or []))


def resource_items(resource_id: Any) -> list[DataItem]:
    return list(DataItem.objects.filter(resource_id=resource_id).select_related("element")
                .prefetch_related("element__correlated_with").order_by("position"))


def validate_decision(app: Application, decision: Decision) -> tuple[list[guards.Violation], Any]:
    """Check a decision against the application and the resource; return guard violations and the filter."""
    if not decision.items:
        raise ValidationFailed("至少授权一个信息项 (grant at least one item)", field="items")
    unknown = sorted(set(decision.items) - set(app.items))
    if unknown:
        raise ValidationFailed(f"授权的信息项不在申请范围内: {', '.join(unknown)} (not applied for)", field="items")
    bad = sorted(c for c, m in decision.items.items() if m not in ItemMode.values)
    if bad:
        raise ValidationFailed(f"信息项授权方式无效: {', '.join(bad)} (mode must be plain/masked/verify_only)",
                               field="items")
    if decision.valid_to is not None and (decision.valid_to > app.valid_to or decision.valid_to < app.valid_from):
        raise ValidationFailed("授权有效期只能缩短，不能延长 (validity may only be shortened)", field="valid_to")
    for name in ("rate_limit_per_minute", "daily_quota", "verify_quota_per_key"):
        if getattr(decision, name) < 1:
            raise ValidationFailed(f"{name} 须为正整数", field=name)
    modes = decision.modes or list(app.modes)
    if set(modes) - set(app.modes) or set(modes) - set(ExchangeMode.values):
        raise ValidationFailed("交换方式只能是申请范围内的 (modes must be among those applied for)", field="modes")
    decision.modes = modes
    items = resource_items(app.resource_id)
    columns = {i.column_name: i.data_type for i in items}
    parsed = None
    if decision.row_filter:
        try:
            parsed = rowfilter.parse(decision.row_filter, allowed_fields=columns)
        except rowfilter.RowFilterError as exc:
            raise ValidationFailed(f"行过滤条件无效: {exc}", field="row_filter") from exc
    return guards.check(items, decision.items), parsed


def guard_error(violations: list[guards.Violation]) -> ValidationFailed:
    return ValidationFailed(
        "授权未通过推断防护检查，需安全管理员审批后方可授予 (inference guard; needs a sec_admin override)",
        code="inference_guard", field="items", details={"violations": [v.as_dict() for v in violations]})


def create_grant(*, actor: Any, app: Application, decision: Decision, override_reason: str = "") -> Grant:
    """Create the grant for an approved application (inside the caller's transaction)."""
    violations, parsed = validate_decision(app, decision)
    if violations and not override_reason:
        raise guard_error(violations)
    grant = Grant.objects.create(
        node=app.node, application=app, resource=app.resource, provider=app.provider, consumer=app.consumer,
        system=app.system, modes=decision.modes, purpose=app.purpose, valid_from=app.valid_from,
        valid_to=decision.valid_to or app.valid_to, row_filter=parsed.to_json() if parsed is not None else None,
        rate_limit_per_minute=decision.rate_limit_per_minute, daily_quota=decision.daily_quota,
        verify_quota_per_key=decision.verify_quota_per_key, verify_all_match_only=decision.verify_all_match_only,
        guard_override_reason=override_reason if violations else "",
        watermark_secret_enc=encrypt_secret(secrets.token_bytes(32), purpose="watermark"),
    )
    GrantItem.objects.bulk_create([GrantItem(grant=grant, column_name=c, mode=m)
                                   for c, m in sorted(decision.items.items())])
    bump_authz_epoch()
    record_event(actor=actor, action="grant.created", target_type="grant", target_id=str(grant.pk),
                 data={"application": app.number, "items": decision.items, "modes": decision.modes,
                       "valid_to": grant.valid_to.isoformat(), "row_filter": grant.row_filter,
                       "guard_override": bool(grant.guard_override_reason)})
    return grant


def _is_provider_side(actor: Any, department_id: Any) -> bool:
    return getattr(actor, "role", None) in (Role.PROVIDER, Role.DEPT_ADMIN) and actor.department_id == department_id


def revoke_grant(*, actor: Any, grant: Grant, reason: str) -> Grant:
    """Revoke (provider side or the data office of the grant's node); effective on the next call."""
    is_office = getattr(actor, "role", None) == Role.DATA_OFFICE and actor.node_id == grant.node_id
    if not (is_office or _is_provider_side(actor, grant.provider_id)):
        raise PermissionDenied("只有提供部门或数据主管部门可以撤销授权 (provider or data office only)")
    if not reason.strip():
        raise ValidationFailed("撤销须填写理由 (a reason is required)", field="reason")
    with transaction.atomic():
        locked = Grant.objects.select_for_update().get(pk=grant.pk)
        if locked.status == GrantStatus.REVOKED:
            raise Conflict("授权已撤销 (already revoked)")
        locked.status = GrantStatus.REVOKED
        locked.revoked_at = timezone.now()
        locked.revoke_reason = reason.strip()
        locked.save(update_fields=["status", "revoked_at", "revoke_reason", "updated_at"])
        bump_authz_epoch()
        _notify(locked.consumer, "grant_revoked", f"授权已撤销: {locked.resource.name}", reason, grant=locked)
        record_event(actor=actor, action="grant.revoked", target_type="grant", target_id=str(locked.pk),
                     data={"reason": reason})
    return locked


def review_flagged_grant(*, actor: Any, grant: Grant, keep: bool, reason: str = "") -> Grant:
    """The provider answers a tightening flag: keep the grant (dropping items that no longer exist) or revoke."""
    if not _is_provider_side(actor, grant.provider_id):
        raise PermissionDenied("只有提供部门可以复核授权 (provider department only)")
    if not grant.needs_review:
        raise Conflict("该授权无需复核 (not flagged for review)")
    if not keep:
        with transaction.atomic():
            revoked = revoke_grant(actor=actor, grant=grant, reason=reason or "资源共享属性收紧后复核撤销")
            Grant.objects.filter(pk=grant.pk).update(needs_review=False)
            revoked.needs_review = False
        return revoked
    with transaction.atomic():
        locked = Grant.objects.select_for_update().get(pk=grant.pk)
        columns = {i.column_name for i in resource_items(locked.resource_id)}
        dropped = list(locked.items.exclude(column_name__in=columns).values_list("column_name", flat=True))
        locked.items.filter(column_name__in=dropped).delete()
        locked.needs_review = False
        locked.save(update_fields=["needs_review", "updated_at"])
        bump_authz_epoch()
        record_event(actor=actor, action="grant.review_kept", target_type="grant", target_id=str(locked.pk),
                     data={"dropped_items": dropped, "reasons": locked.review_reasons})
    return locked


def flag_grants_for_tightening(event: Tightening) -> None:
    """Catalog hook: a published resource became stricter; flag (never silently keep or revoke) its grants."""
    grants = list(Grant.objects.select_for_update().filter(
        resource_id=event.resource_id, status__in=[GrantStatus.ACTIVE, GrantStatus.SUSPENDED]))
    for grant in grants:
        grant.needs_review = True
        grant.review_reasons = sorted(set(grant.review_reasons) | set(event.reasons))
        grant.save(update_fields=["needs_review", "review_reasons", "updated_at"])
        _notify(grant.provider, "grant_review", f"资源已收紧，请复核授权: {grant.resource.name}",
                "; ".join(event.reasons), grant=grant, dedupe=f"review:{grant.pk}:v{event.version_number}")
        record_event(actor=event.actor, action="grant.flagged_for_review", target_type="grant",
                     target_id=str(grant.pk), data={"version": event.version_number, "reasons": event.reasons})
    if grants:
        bump_authz_epoch()


# ---------------------------------------------------------------------------------------------
# Emergency suspension (应急停用) by the security administrator
# ---------------------------------------------------------------------------------------------


def _suspension_target(actor: Any, scope: str, target_id: Any) -> Any:
    """The target on the actor's own node; another node's objects answer 404 like missing ones."""
    model = {SuspensionScope.GRANT: Grant, SuspensionScope.SYSTEM: InformationSystem,
             SuspensionScope.DEPARTMENT: Department}.get(SuspensionScope(scope))
    obj = (model.objects.filter(pk=target_id, node_id=actor.node_id).first()  # type: ignore[attr-defined]
           if model else None)
    if obj is None:
        raise NotFound("停用对象不存在 (target not found)")
    return obj


def suspend(*, actor: Any, scope: str, target_id: Any, reason: str) -> Suspension:
    """Suspend a grant, a system or a whole department at once (every process, next call)."""
    if getattr(actor, "role", None) != Role.SEC_ADMIN:
        raise PermissionDenied("只有安全管理员可以应急停用 (security administrator only)")
    if scope not in SuspensionScope.values:
        raise ValidationFailed(f"停用范围无效: {scope}", field="scope")
    if not reason.strip():
        raise ValidationFailed("应急停用须填写理由 (a reason is required)", field="reason")
    target = _suspension_target(actor, scope, target_id)
    with transaction.atomic():
        if Suspension.objects.filter(scope=scope, target_id=target.pk, active=True).exists():
            raise Conflict("已处于停用状态 (already suspended)")
        s = Suspension.objects.create(node_id=actor.node_id, scope=scope, target_id=target.pk, reason=reason.strip(),
                                      created_by=actor)
        if scope == SuspensionScope.GRANT:
            Grant.objects.filter(pk=target.pk, status=GrantStatus.ACTIVE).update(status=GrantStatus.SUSPENDED)
        bump_authz_epoch()
        record_event(actor=actor, action="suspension.created", target_type=scope, target_id=str(target.pk),
                     data={"reason": reason})
    return s


def lift_suspension(*, actor: Any, suspension: Suspension, reason: str = "") -> Suspension:
    if getattr(actor, "role", None) != Role.SEC_ADMIN:
        raise PermissionDenied("只有安全管理员可以解除停用 (security administrator only)")
    with transaction.atomic():
        locked = Suspension.objects.select_for_update().get(pk=suspension.pk)
        if not locked.active:
            raise Conflict("停用已解除 (already lifted)")
        locked.active = False
        locked.lifted_at = timezone.now()
        locked.lifted_by = actor
        locked.save(update_fields=["active", "lifted_at", "lifted_by", "updated_at"])
        if locked.scope == SuspensionScope.GRANT:
            Grant.objects.filter(pk=locked.target_id, status=GrantStatus.SUSPENDED).update(status=GrantStatus.ACTIVE)
        bump_authz_epoch()
        record_event(actor=actor, action="suspension.lifted", target_type=locked.scope,
                     target_id=str(locked.target_id), data={"reason": reason})
    return locked


def _notify(department: Department | None, kind: str, subject: str, body: str = "", *,
            application: Application | None = None, grant: Grant | None = None, role: str = "",
            node: Any = None, dedupe: str | None = None) -> None:
    key = dedupe or f"{kind}:{application.pk if application else ''}:{grant.pk if grant else ''}:" \
                    f"{secrets.token_hex(4)}"
    Notification.objects.get_or_create(dedupe_key=key[:120], defaults={
        "department": department, "role": role, "node": node, "kind": kind, "subject": subject[:200],
        "body": body, "application": application, "grant": grant})
