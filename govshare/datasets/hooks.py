"""Explicit listeners for committed changes (no signals): apps that react to new changes in a dataset
(subscription delivery, quality checks, base-library fusion) register a callable at start-up, in their
``AppConfig.ready``. Listeners run after the commit (``transaction.on_commit``), must be cheap (typically
they kick a periodic job, :func:`govshare.core.periodic.kick`) and must not raise: the durable state is
the change log itself, so a listener that fails only delays work until the job's next scheduled run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

log = logging.getLogger("govshare.datasets")

Listener = Callable[[Any], None]
_listeners: dict[str, Listener] = {}


def register_change_listener(name: str, func: Listener) -> None:
    """Call ``func(dataset_id)`` after every commit that added changes to a dataset."""
    _listeners[name] = func


def changes_committed(dataset_id: Any) -> None:
    """Schedule the listeners for after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _notify(dataset_id))


def _notify(dataset_id: Any) -> None:
    for name, func in list(_listeners.items()):
        try:
            func(dataset_id)
        except Exception:  # the change log is durable; the listener's job catches up on its next run
            log.exception("change listener %s failed for dataset %s", name, dataset_id)
