"""Explicit extension points of the catalog for apps that build on it.

``catalog`` cannot import ``exchange`` (dependencies point one way), yet tightening a published
resource must flag every existing grant on it for review. The exchange app registers a handler here
at start-up; the catalog service calls every handler inside its own transaction, so the flagging
commits or rolls back with the new version. This is a typed, explicit registry, not a Django signal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tightening:
    resource_id: Any
    version_number: int
    reasons: list[str]
    removed_columns: list[str]
    actor: Any


TighteningHandler = Callable[[Tightening], None]
_tightening_handlers: list[TighteningHandler] = []


def register_tightening_handler(handler: TighteningHandler) -> None:
    if handler not in _tightening_handlers:
        _tightening_handlers.append(handler)


def tightening_handlers() -> list[TighteningHandler]:
    return list(_tightening_handlers)
