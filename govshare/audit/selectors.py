"""Permission-checked reads of the audit log.

Who reads it (DESIGN.md §1, 三员分立): only ``audit_admin`` (审计管理员) — "reads audit trails and
reports, verifies the audit chain; changes nothing". The security administrator manages keys and
masking but does not read the trail (it records the security administrator's own actions), nor do
the system administrator or the data office. Other roles get 403.

Scope: the log belongs to the installation (one database). An auditor of the installation's own node
(``is_local``) or of a root node sees every event; an auditor of a lower node sees the events whose
``node_code`` is their node or a node below it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from govshare.audit import store
from govshare.audit.models import AuditBlock, AuditEvent, AuditKeyRef, NodeKey, VerificationRun
from govshare.audit.services import audit_key_hmac
from govshare.core.errors import PermissionDenied

AUDITOR_ROLES = frozenset({"audit_admin"})


def can_read_audit(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)
                and getattr(user, "role", "") in AUDITOR_ROLES)


def require_auditor(user: Any) -> None:
    if not can_read_audit(user):
        raise PermissionDenied("仅审计管理员可查看审计日志 (only the audit administrator reads the audit log)")


def scope_node_codes(user: Any) -> set[str] | None:
    """None: every event. Otherwise the node codes whose events the auditor may read."""
    node = getattr(user, "node", None)
    if node is None:
        return set()
    if getattr(node, "is_local", False) or getattr(node, "parent_id", None) is None:
        return None
    codes: set[str] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if current.code in codes:
            continue
        codes.add(current.code)
        children = getattr(current, "children", None)
        if children is not None:
            todo.extend(children.all())
    return codes


def _scoped(user: Any) -> QuerySet[AuditEvent]:
    require_auditor(user)
    qs = AuditEvent.objects.all()
    codes = scope_node_codes(user)
    return qs if codes is None else qs.filter(node_code__in=codes)


@dataclass
class EventFilter:
    action: str | None = None
    actor: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    result: str | None = None
    occurred_from: dt.datetime | None = None
    occurred_to: dt.datetime | None = None

    def apply(self, qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.action:
            # "exchange." or "exchange.*" selects a family of actions
            if self.action.endswith((".", "*")):
                qs = qs.filter(action__startswith=self.action.rstrip("*"))
            else:
                qs = qs.filter(action=self.action)
        if self.actor:
            qs = qs.filter(Q(actor_id=self.actor) | Q(actor_label=self.actor))
        if self.target_type:
            qs = qs.filter(target_type=self.target_type)
        if self.target_id:
            qs = qs.filter(target_id=self.target_id)
        if self.result:
            qs = qs.filter(result=self.result)
        if self.occurred_from:
            qs = qs.filter(occurred_at__gte=self.occurred_from)
        if self.occurred_to:
            qs = qs.filter(occurred_at__lt=self.occurred_to)
        return qs


def events_for(user: Any, filters: EventFilter | None = None) -> QuerySet[AuditEvent]:
    """Events the auditor may read, filtered (PermissionDenied for everyone else)."""
    qs = _scoped(user)
    return filters.apply(qs) if filters else qs


def lookups_of(user: Any, key: str) -> QuerySet[AuditEvent]:
    """Every event that looked up ``key`` (a 身份证号, 统一社会信用代码, licence number …): "who looked up
    this person". An indexed search on the key's HMAC; the key itself is never stored."""
    qs = _scoped(user)
    refs = AuditKeyRef.objects.filter(key_hmac=audit_key_hmac(key)).values("seq")
    return qs.filter(seq__in=refs)


def last_sealed_seq() -> int:
    return int(AuditBlock.objects.order_by("-number").values_list("last_seq", flat=True).first() or 0)


def chain_status(user: Any) -> dict[str, Any]:
    """Sealed range, unsealed tail, node key and the last verification (auditors only)."""
    require_auditor(user)
    return chain_state()


def chain_state() -> dict[str, Any]:
    """:func:`chain_status` without the permission check (server-side callers: CLI, tasks)."""
    first = AuditBlock.objects.order_by("number").values("first_seq").first()
    last = AuditBlock.objects.order_by("-number").values("number", "last_seq", "head", "created_at").first()
    count, t_first, t_last, oldest = store.tail_stats(int(last["last_seq"]) if last else 0)
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest)
    if isinstance(oldest, dt.datetime) and timezone.is_naive(oldest):
        oldest = oldest.replace(tzinfo=dt.UTC)
    run = VerificationRun.objects.order_by("-id").first()
    key = NodeKey.objects.filter(active=True).order_by("-created_at").first()
    sealed_events = int(AuditBlock.objects.aggregate(n=Sum("count"))["n"] or 0)
    return {
        "sealed": {
            "blocks": int(last["number"]) if last else 0,
            "first_seq": int(first["first_seq"]) if first else None,
            "last_seq": int(last["last_seq"]) if last else None,
            "events": sealed_events,
            "head": last["head"] if last else None,
            "sealed_at": last["created_at"] if last else None,
        },
        "unsealed": {
            "count": count, "first_seq": t_first, "last_seq": t_last, "oldest_at": oldest,
            "lag_seconds": (timezone.now() - oldest).total_seconds() if isinstance(oldest, dt.datetime) else 0.0,
        },
        "key": {"key_id": key.key_id, "node_code": key.node_code, "public_key": key.public_key} if key else None,
        "last_verification": None if run is None else {
            "id": run.pk, "started_at": run.started_at, "finished_at": run.finished_at, "ok": run.ok,
            "key_source": run.key_source, "sealed_last_seq": run.sealed_last_seq,
            "events_checked": run.events_checked, "first_bad_seq": run.first_bad_seq,
            "problem_count": run.problem_count, "run_by": run.run_by,
        },
    }
