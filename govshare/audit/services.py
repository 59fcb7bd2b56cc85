"""The only writer of audit events.

Callers invoke ``record_event`` inside their own ``transaction.atomic()`` block so that the business
change and its audit event commit or roll back together. The data plane submits events to the
group-commit writer instead (:mod:`govshare.audit.writer`), which uses the same field rules.

"Who looked up whom": an event whose ``data["key_hmacs"]`` lists blind indexes of the keys a call
looked up (:func:`audit_key_hmac`) also gets one :class:`AuditKeyRef` row per key, in the same
transaction, so that :func:`govshare.audit.selectors.lookups_of` is an indexed lookup.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.audit.choices import ActorType, Result
from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.core.context import get_client_ip, get_request_id
from govshare.core.crypto import blind_index

KEY_HMAC_PURPOSE = "audit_key"
_HMAC_RE = re.compile(r"[0-9a-f]{64}")

# Columns an event dict may set (the writer's input); everything else is rejected.
EVENT_COLUMNS = frozenset({
    "occurred_at", "actor_type", "actor_id", "actor_label", "actor_role", "node_code", "department_id", "action",
    "target_type", "target_id", "result", "request_id", "client_ip", "data",
})
_LIMITS = {"actor_id": 64, "actor_label": 200, "actor_role": 32, "node_code": 64, "department_id": 64,
           "action": 80, "target_type": 64, "target_id": 128, "request_id": 64, "client_ip": 64}


def normalize_lookup_key(value: str) -> str:
    """The form of a looked-up key that is hashed: NFKC (full-width digits to ASCII), trimmed, upper-case
    (the ``x`` of a 身份证号). The data plane and the search both go through :func:`audit_key_hmac`."""
    if not isinstance(value, str):
        raise TypeError("key must be a string")
    key = unicodedata.normalize("NFKC", value).strip().upper()
    if not key:
        raise ValueError("查询键为空 (empty key)")
    return key


def audit_key_hmac(value: str) -> str:
    """The blind index stored in ``data["key_hmacs"]`` for a looked-up key (HMAC-SM3, KEK-derived key)."""
    return blind_index(normalize_lookup_key(value), purpose=KEY_HMAC_PURPOSE)


def key_hmacs_of(data: Mapping[str, Any] | None) -> list[str]:
    """The validated, de-duplicated ``key_hmacs`` of an event's data (ValueError when malformed)."""
    if not data or "key_hmacs" not in data:
        return []
    raw = data["key_hmacs"]
    if not isinstance(raw, list | tuple) or not all(isinstance(h, str) and _HMAC_RE.fullmatch(h) for h in raw):
        raise ValueError("data['key_hmacs'] 必须是 64 位小写十六进制字符串列表 (must be a list of SM3 HMAC hex)")
    return list(dict.fromkeys(raw))


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


def actor_fields(actor: Any) -> dict[str, str]:
    """The actor columns of an event for a user, a system label string or None (for writer callers)."""
    a_type, a_id, a_label, a_role, dept, node = _describe_actor(actor)
    return {"actor_type": a_type, "actor_id": a_id, "actor_label": a_label[:200], "actor_role": a_role,
            "department_id": dept, "node_code": node}


def clean_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and complete an event dict for an insert (ValueError / TypeError when unusable).

    Requires ``action``; fills ``occurred_at`` (now), ``result`` (ok), request id and client address from
    the context, empty strings elsewhere. Long values are cut to the column sizes like ``record_event``.
    """
    unknown = set(event) - EVENT_COLUMNS
    if unknown:
        raise ValueError(f"unknown audit event fields: {sorted(unknown)}")
    if not event.get("action"):
        raise ValueError("audit event needs an action")
    out: dict[str, Any] = {
        "occurred_at": event.get("occurred_at") or timezone.now(),
        "actor_type": str(event.get("actor_type") or ActorType.SYSTEM),
        "result": str(event.get("result") or Result.OK),
        "request_id": str(event.get("request_id") or get_request_id()),
        "client_ip": str(event.get("client_ip") or get_client_ip()),
        "data": dict(event.get("data") or {}),
    }
    for name, limit in _LIMITS.items():
        if name not in out:
            out[name] = str(event.get(name) or "")[:limit]
    if out["actor_type"] not in ActorType.values or out["result"] not in Result.values:
        raise ValueError("invalid actor_type or result")
    key_hmacs_of(out["data"])
    # What the JSON column will store: a value it cannot store must fail here, not the whole batch.
    text = json.dumps(out["data"], allow_nan=False)
    if "\\u0000" in text:
        raise ValueError("audit event data must not contain NUL characters")
    return out


def _insert_key_refs(seq: int, hmacs: list[str], using: str | None = None) -> None:
    manager = AuditKeyRef.objects.using(using) if using else AuditKeyRef.objects
    manager.bulk_create([AuditKeyRef(key_hmac=h, seq=seq) for h in hmacs])


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
    hmacs = key_hmacs_of(data)  # validated before anything is written
    fields: dict[str, Any] = {
        "occurred_at": timezone.now(),
        "actor_type": a_type,
        "actor_id": a_id,
        "actor_label": a_label[:200],
        "actor_role": a_role,
        "node_code": node,
        "department_id": dept,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id)[:128],
        "result": result,
        "request_id": get_request_id(),
        "client_ip": get_client_ip(),
        "data": data or {},
    }
    if not hmacs:
        return AuditEvent.objects.create(**fields)
    with transaction.atomic():  # event and key refs together, even for a caller in autocommit
        event = AuditEvent.objects.create(**fields)
        _insert_key_refs(event.seq, hmacs)
    return event
