"""Sub-second wake-up of ``govshare worker`` (DESIGN.md §4 "Background work").

- ``notify(channel, payload)``: on PostgreSQL ``SELECT pg_notify(channel, payload)`` on the current
  connection. PostgreSQL delivers it when the surrounding transaction commits (at once in autocommit),
  and drops it on rollback — so a worker is never woken for work it cannot see yet. On SQLite there is
  nothing to send: workers short-poll (``WORKER_POLL_SECONDS``, 0.2 s by default).
- ``Waiter(channels).wait(timeout)``: on PostgreSQL a dedicated autocommit psycopg connection that
  ``LISTEN``s on the channels and waits for a notification (``conn.notifies(timeout=…)``), reconnecting
  if the connection drops; on SQLite it sleeps ``min(timeout, WORKER_POLL_SECONDS)``. It answers True
  when something may have changed (a notification, or a reconnect during which one may have been missed)
  and False on a plain timeout; callers re-read the database either way, so a lost notification only
  costs latency, never work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger("govshare.worker")

# Keys of the connection OPTIONS that are Django's, not libpq's.
_DJANGO_OPTIONS = {"isolation_level", "pool", "server_side_binding", "assume_role"}


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, "GOVSHARE", {}).get(name, default))


def poll_seconds() -> float:
    """How often a worker re-reads the database when no notification can wake it (SQLite)."""
    return _setting("WORKER_POLL_SECONDS", 0.2)


def supports_notify(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "postgresql"


def notify(channel: str, payload: str = "", *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Wake the workers listening on ``channel`` (PostgreSQL; delivered at commit). No-op elsewhere."""
    if not supports_notify(using):
        return
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload[:7000]])


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Waiter:
    """Waits for notifications on some channels (PostgreSQL) or sleeps one poll interval (SQLite).

    Create it BEFORE the first look at the database: notifications sent after ``LISTEN`` queue on the
    connection until the next ``wait``, so none falls between "nothing to do" and "go to sleep".
    """

    def __init__(self, channels: Iterable[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
        self.channels = list(channels)
        self.using = using
        self.listening = supports_notify(using)
        self.received: list[tuple[str, str]] = []
        self.reconnects = 0
        self._conn: Any = None
        if self.listening:
            try:
                self._connect()
            except Exception:  # the database may be down at start; wait() retries
                log.warning("wake-up: cannot LISTEN yet; will retry", exc_info=True)

    # -- PostgreSQL connection -------------------------------------------------------------------
    def _conninfo(self) -> dict[str, Any]:
        sd = connections[self.using].settings_dict
        params: dict[str, Any] = {"dbname": sd.get("NAME") or "postgres"}
        for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
            if sd.get(key):
                params[name] = sd[key]
        for key, value in (sd.get("OPTIONS") or {}).items():
            if key not in _DJANGO_OPTIONS:
                params[key] = value
        params.setdefault("application_name", "govshare-worker-listen")
        return params

    def _connect(self) -> None:
        import psycopg

        conn = psycopg.connect(autocommit=True, **self._conninfo())
        for channel in self.channels:
            conn.execute("LISTEN " + _quote_ident(channel))
        self._conn = conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                log.debug("wake-up: close failed", exc_info=True)

    def backend_pid(self) -> int | None:
        """The server process id of the listening connection (tests terminate it to check reconnects)."""
        return None if self._conn is None else int(self._conn.info.backend_pid)

    # -- waiting ---------------------------------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if woken by a notification or a reconnect."""
        timeout = max(0.0, float(timeout))
        if not self.listening:
            time.sleep(min(timeout, poll_seconds()))
            return False
        if self._conn is None:
            try:
                self._connect()
            except Exception:
                log.warning("wake-up: LISTEN connection unavailable; sleeping", exc_info=True)
                time.sleep(min(timeout, 1.0))
                return False
            self.reconnects += 1
            return True  # notifications may have been missed while disconnected
        try:
            got = [(n.channel, n.payload) for n in self._conn.notifies(timeout=timeout, stop_after=1)]
            if got:
                # Drain whatever else already arrived, without blocking.
                got += [(n.channel, n.payload) for n in self._conn.notifies(timeout=0.0)]
        except Exception:
            log.warning("wake-up: LISTEN connection lost; reconnecting", exc_info=True)
            self._drop()
            return True
        self.received.extend(got)
        del self.received[:-1000]
        return bool(got)

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
