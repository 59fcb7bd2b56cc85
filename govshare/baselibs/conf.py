"""Settings of the base libraries (``settings.GOVSHARE[...]``) with their defaults, and permission predicates."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from govshare.accounts.choices import Role

DEFAULTS: dict[str, int] = {
    "BASELIBS_FUSION_SECONDS": 60,  # how often the periodic job looks for libraries whose sources moved
    "BASELIBS_FUSION_CHUNK": 500,  # library keys fused per transaction (one change batch of the library)
    "BASELIBS_CHANGES_PAGE": 2000,  # source changes read per query
    "BASELIBS_MAX_INCREMENTAL_KEYS": 50000,  # more changed keys than this: the run walks everything instead
    "BASELIBS_LEASE_SECONDS": 600,  # a run's lease, renewed after every chunk; a dead worker's run expires
}

FUSE_JOB = "baselibs.fuse"  # the periodic job (registered in apps.py)
PLATFORM_ACTOR = "fusion"  # the label the fusion job writes with (change batches, disputes)


def setting(name: str) -> int:
    return int(getattr(settings, "GOVSHARE", {}).get(name, DEFAULTS[name]))


def is_platform(actor: Any) -> bool:
    """The platform itself: ``None`` or a label string such as ``"worker"``."""
    return actor is None or isinstance(actor, str)


def is_data_office_of(actor: Any, node_id: Any) -> bool:
    return (not is_platform(actor) and getattr(actor, "role", None) == Role.DATA_OFFICE
            and getattr(actor, "node_id", None) == node_id)


def is_department_staff(actor: Any, department_id: Any) -> bool:
    """Provider staff or department administrator of the department."""
    return (not is_platform(actor) and getattr(actor, "role", None) in (Role.PROVIDER, Role.DEPT_ADMIN)
            and department_id is not None and getattr(actor, "department_id", None) == department_id)


def user_or_none(actor: Any) -> Any:
    return None if is_platform(actor) or not getattr(actor, "is_authenticated", False) else actor
