"""Run leases: a worker executing a :class:`~govshare.connectors.models.ConnectorRun` holds it until
``lease_until`` and renews the lease after every page. A worker that dies (kill -9) stops renewing; once the
lease has passed, the next dispatcher pass claims the run with one conditional UPDATE and resumes it.

Settings: ``CONNECTOR_LEASE_SECONDS`` (120).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Any

from django.conf import settings
from django.utils import timezone

from govshare.connectors.choices import RunStatus
from govshare.connectors.models import ConnectorRun
from govshare.core import periodic

_owner: tuple[int, str] | None = None


class LeaseLost(Exception):
    """The run's lease passed to another worker (this one ran past it): stop without writing."""


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.GOVSHARE.get("CONNECTOR_LEASE_SECONDS", 120)))


def worker_id() -> str:
    """This process's lease owner id (new after a fork)."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        _owner = (pid, f"{socket.gethostname()[:40]}:{pid}:{uuid.uuid4().hex[:8]}")
    return _owner[1]


def renew(run_id: int, owner: str, **updates: Any) -> None:
    """Extend the lease (and write ``updates``) if ``owner`` still holds the run; else raise :class:`LeaseLost`.

    Inside a transaction the renewal commits with the page it belongs to."""
    now = timezone.now()
    held = ConnectorRun.objects.filter(pk=run_id, lease_owner=owner, status=RunStatus.RUNNING).update(
        lease_until=now + lease(), heartbeat_at=now, **updates)
    if held != 1:
        raise LeaseLost(f"run {run_id}")
    periodic.heartbeat()  # the dispatcher job's own lease (a no-op inside a transaction)
