"""Settings and permission predicates shared by the quality services and selectors."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from govshare.accounts.choices import Role
from govshare.catalog.models import Resource

DEFAULTS: dict[str, float] = {
    "DISPUTE_ACCEPT_DAYS": 2,  # working days to accept (受理) a dispute
    "DISPUTE_RESOLVE_DAYS": 10,  # working days from acceptance to resolution (办结)
    "DISPUTE_REMINDER_DAYS": 1,  # remind the provider this many working days before a deadline
    "DISPUTE_REOPEN_DAYS": 5,  # working days after a confirmation in which the raiser may reopen, once
    "DISPUTE_SWEEP_SECONDS": 300,  # how often the deadline sweep runs
    "DISPUTE_EVIDENCE_MAX_BYTES": 8192,  # size of a dispute's evidence (JSON)
    "QUALITY_INCREMENTAL_SECONDS": 60,  # how often changed records are checked (also kicked by new changes)
    "QUALITY_FULL_RUN_SECONDS": 86400,  # a full run over all live rows at least this often (daily)
    "QUALITY_FULL_CHECK_SECONDS": 600,  # how often the full-run job looks for datasets that are due
    "QUALITY_FULL_LEASE_SECONDS": 3600,  # a full run's lease (another worker may take over after it)
    "QUALITY_BATCH": 500,  # changes per incremental transaction
    "QUALITY_REPORT_MAX_ROWS": 100000,  # rows in a failing-rows or dispute download
}


def setting(name: str) -> int:
    return int(getattr(settings, "GOVSHARE", {}).get(name, DEFAULTS[name]))


def is_platform(actor: Any) -> bool:
    """The platform itself: ``None`` or a label string such as ``"worker"`` or ``"fusion"``."""
    return actor is None or isinstance(actor, str)


def role_of(actor: Any) -> str | None:
    return None if is_platform(actor) else getattr(actor, "role", None)


def is_provider_side(actor: Any, resource: Resource | None = None, *, department_id: Any = None) -> bool:
    """Provider staff or department administrator of the resource's (or the given) providing department."""
    dept = department_id if department_id is not None else (resource.provider_id if resource else None)
    return (role_of(actor) in (Role.PROVIDER, Role.DEPT_ADMIN) and dept is not None
            and getattr(actor, "department_id", None) == dept)


def is_data_office_of(actor: Any, node_id: Any) -> bool:
    return role_of(actor) == Role.DATA_OFFICE and getattr(actor, "node_id", None) == node_id


def is_consumer_side(actor: Any) -> bool:
    return role_of(actor) in (Role.CONSUMER, Role.DEPT_ADMIN) and bool(getattr(actor, "department_id", None))


def actor_label(actor: Any) -> str:
    if actor is None:
        return "platform"
    if isinstance(actor, str):
        return actor[:100]
    return str(getattr(actor, "username", ""))[:100]


def user_or_none(actor: Any) -> Any:
    return None if is_platform(actor) else actor
