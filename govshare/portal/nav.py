"""The portal's navigation: each app's ``urls.py`` lists its menu entries in ``NAV``; the menu shows a user only
the entries whose roles include theirs (an empty ``roles`` means every signed-in user; ``public`` entries show to
anyone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

# The apps that have portal pages, in menu order. Each has ``urls.py`` with ``app_name`` and ``NAV``.
PAGE_APPS: tuple[tuple[str, str], ...] = (
    ("stats", "stats/"),
    ("catalog", "catalog/"),
    ("datasets", "datasets/"),
    ("exchange", "exchange/"),
    ("registry", "systems/"),
    ("subscriptions", "subscriptions/"),
    ("quality", "quality/"),
    ("connectors", "connectors/"),
    ("licences", "licences/"),
    ("baselibs", "baselibs/"),
    ("audit", "audit/"),
    ("accounts", "accounts/"),
)


@dataclass(frozen=True)
class NavItem:
    label: str | Promise  # Chinese, through gettext_lazy
    url_name: str  # "app:name"
    roles: frozenset[str] = field(default_factory=frozenset)
    public: bool = False


def _items() -> list[NavItem]:
    out: list[NavItem] = []
    for app, _prefix in PAGE_APPS:
        module = import_module(f"govshare.{app}.urls")
        out.extend(getattr(module, "NAV", []))
    return out


def visible(user: Any) -> list[dict[str, str]]:
    signed_in = bool(getattr(user, "is_authenticated", False))
    role = getattr(user, "role", None)
    shown: list[dict[str, str]] = []
    for item in _items():
        if not (item.public or (signed_in and (not item.roles or role in item.roles))):
            continue
        try:
            shown.append({"label": str(item.label), "url": reverse(item.url_name)})
        except NoReverseMatch:
            continue
    return shown


def allowed(user: Any) -> frozenset[str]:
    """The URL names of the menu entries ``user`` may open (for links to them from other pages)."""
    signed_in = bool(getattr(user, "is_authenticated", False))
    role = getattr(user, "role", None)
    return frozenset(item.url_name for item in _items()
                     if item.public or (signed_in and (not item.roles or role in item.roles)))


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``nav`` for the menu, ``nav_allowed`` (URL names the user's role may open) so
    pages link only where the user can go."""
    return {"nav": visible(request.user), "nav_allowed": allowed(request.user)}
