"""The data plane's one way to the audit log: :func:`log` returns once the event is durable.

Uses the audit app's group-commit writer (:mod:`govshare.audit.writer`: ``submit(event) -> ticket``,
``ticket.wait()``), so that one commit serves many concurrent calls. Falls back to the synchronous
:func:`govshare.audit.services.record_event` when the writer is switched off
(``GOVSHARE["DATAPLANE_AUDIT_GROUP_COMMIT"] = False``) or when the caller is already inside a transaction
(tests wrap every request in one; the writer's own connection would not see it, or on SQLite would wait for it).
Only this module changes if the audit app's interface does.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from govshare.audit.choices import ActorType, Result
from govshare.audit.services import audit_key_hmac, record_event

__all__ = ["Result", "key_hmac", "log"]


def key_hmac(key: str) -> str:
    """The audit blind index of a looked-up key ("who looked up whom"); also keys the per-key counters."""
    return audit_key_hmac(key)


def log(event: dict[str, Any], *, group_commit: bool = True, timeout: float = 10.0) -> None:
    """Write ``event`` (columns of :class:`govshare.audit.models.AuditEvent`; ``data["key_hmacs"]`` gives the
    key refs) durably before returning. Raises when it could not be written: the caller must not answer."""
    if group_commit and not connection.in_atomic_block:
        try:
            from govshare.audit.writer import get_writer
        except ImportError:  # pragma: no cover - the writer is part of the audit app
            pass
        else:
            get_writer().submit({**event, "actor_type": ActorType.SYSTEM}).wait(timeout)
            return
    data = dict(event.get("data") or {})
    data.setdefault("actor_id", event.get("actor_id", ""))
    record_event(actor=str(event.get("actor_label") or "system"), action=str(event["action"]),
                 target_type=str(event.get("target_type", "")), target_id=str(event.get("target_id", "")),
                 data=data, result=str(event.get("result") or Result.OK))
