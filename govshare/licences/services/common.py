"""Who may do what (shared by the services and the selectors)."""

from __future__ import annotations

from typing import Any

from govshare.accounts.choices import Role
from govshare.core.errors import ValidationFailed


def is_platform(actor: Any) -> bool:
    """The platform itself: ``None`` or a label string such as ``"worker"`` or ``"demo"``."""
    return actor is None or isinstance(actor, str)


def user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def is_data_office(actor: Any, node_id: Any) -> bool:
    return getattr(actor, "role", None) == Role.DATA_OFFICE and actor.node_id == node_id


def is_issuer(actor: Any, department_id: Any) -> bool:
    """Provider staff or the administrator of the issuing department."""
    return (getattr(actor, "role", None) in (Role.PROVIDER, Role.DEPT_ADMIN)
            and actor.department_id is not None and actor.department_id == department_id)


def clean_text(value: Any, *, field: str, limit: int, required: bool = True, label: str = "") -> str:
    """Trimmed single-line text without control characters (ValidationFailed names ``field``)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{label or field} 须为字符串 (must be a string)", field=field)
    text = value.strip()
    if required and not text:
        raise ValidationFailed(f"{label or field} 不能为空 (required)", field=field)
    if len(text) > limit:
        raise ValidationFailed(f"{label or field} 最多 {limit} 个字符 (at most {limit} characters)", field=field)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationFailed(f"{label or field} 含控制字符 (control characters)", field=field)
    return text
