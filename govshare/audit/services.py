"""The only writer of audit events.

Callers invoke ``record_event`` inside their own ``transaction.atomic()`` block so that the business
change and its audit event commit or roll back together.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from govshare.audit.choices import ActorType, Result
from govshare.audit.models import AuditEvent
from govshare.core.context import get_client_ip, get_request_id


def _describe_actor(actor: Any) -> tuple[str, str, str, str, str, str]:
    """Return (type, id, label, role, department_id, node_code) for a user, a string or None."""
    if actor is None:
        return ActorType.SYSTEM, "", "system", "", "", ""
    if isinstance(actor, str):
        return ActorType.SYSTEM, "", actor, "", "", ""
    if not getattr(actor, "is_authenticated", False):
        return ActorType.ANONYMOUS, "", "anonymous", "", "", ""
    dept_id = getattr(actor, "department_id", None)
    node = getattr(actor, "node", None)
    return (
        ActorType.USER,
        str(actor.pk),
        str(getattr(actor, "username", "")),
        str(getattr(actor, "role", "")),
        str(dept_id or ""),
        str(getattr(node, "code", "") if node is not None else ""),
    )


def record_event(
    *,
    actor: Any,
    action: str,
    target_type: str = "",
    target_id: str = "",
    data: dict[str, Any] | None = None,
    result: str = Result.OK,
) -> AuditEvent:
    """Append one audit event. ``actor`` is a user, a system label string, or ``None``."""
    a_type, a_id, a_label, a_role, dept, node = _describe_actor(actor)
    return AuditEvent.objects.create(
        occurred_at=timezone.now(),
        actor_type=a_type,
        actor_id=a_id,
        actor_label=a_label[:200],
        actor_role=a_role,
        node_code=node,
        department_id=dept,
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:128],
        result=result,
        request_id=get_request_id(),
        client_ip=get_client_ip(),
        data=data or {},
    )
