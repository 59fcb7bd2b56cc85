"""Group-commit writer for audit events (DESIGN.md §4: "Requests insert their events durably with a
sequence number before they are answered (group commit), and never take a global lock").

A request thread calls :meth:`AuditWriter.submit` with an event dict and then ``ticket.wait()``, which
returns the event's seq once the event is committed. A background thread per process (``threads=2``
lets PostgreSQL overlap one batch's commit with the next batch's insert) collects the events pending
at that moment (at most ``max_batch``; optionally lingering ``max_delay`` seconds for
more) and inserts them with one multi-row INSERT in one transaction, their key refs in the same
transaction: one commit (one fsync) serves the whole batch, and seqs come from the table's
autoincrement / identity as for :func:`govshare.audit.services.record_event`.

If the insert fails, every waiter of that batch gets the exception and the writer reconnects for the
next batch. The pending queue is bounded (``max_pending``): ``submit`` blocks while it is full, up to
``submit_timeout``, then raises :class:`WriterOverloaded`.

The writer thread uses its own Django connection (``django.db.connections`` is per thread) and closes
it when stopped. :func:`get_writer` keeps one started writer per process (re-created after ``fork``).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.db import connections, transaction

from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.audit.services import clean_event, key_hmacs_of

logger = logging.getLogger("govshare.audit")

__all__ = ["AuditWriter", "Ticket", "WriterClosed", "WriterOverloaded", "get_writer", "stop_writer"]


class WriterClosed(RuntimeError):
    """The writer is stopped (or stopping) and takes no more events."""


class WriterOverloaded(RuntimeError):
    """The pending queue stayed full for ``submit_timeout`` seconds."""


class Ticket:
    """A submitted event; :meth:`wait` returns its seq once committed or raises the insert's error."""

    __slots__ = ("_done", "_error", "event", "seq")

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.seq: int | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()

    def _resolve(self, seq: int | None, error: BaseException | None) -> None:
        self.seq, self._error = seq, error
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise TimeoutError("审计事件尚未写入 (audit event not committed in time)")
        if self._error is not None:
            raise self._error
        assert self.seq is not None
        return self.seq


class AuditWriter:
    def __init__(self, *, using: str = "default", max_batch: int = 1000, max_delay: float = 0.0,
                 max_pending: int = 50_000, submit_timeout: float = 10.0, threads: int = 1) -> None:
        if max_batch < 1 or max_pending < max_batch or threads < 1:
            raise ValueError("need max_batch >= 1, max_pending >= max_batch and threads >= 1")
        self.threads = threads
        self.using = using
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.max_pending = max_pending
        self.submit_timeout = submit_timeout
        self._pending: list[Ticket] = []
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)  # work arrived / stopping
        self._space = threading.Condition(self._mutex)  # room in the pending queue
        self._stopping = False
        self._workers: list[threading.Thread] = []
        # statistics
        self.batches = 0
        self.events = 0
        self.failures = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> AuditWriter:
        with self._cond:
            if self._workers:
                return self
            self._stopping = False
            self._workers = [threading.Thread(target=self._run, name=f"govshare-audit-writer-{i}", daemon=True)
                             for i in range(self.threads)]
            for worker in self._workers:
                worker.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Flush what is pending, then stop the threads (each closes its connection)."""
        with self._cond:
            workers = list(self._workers)
            self._stopping = True
            self._cond.notify_all()
            self._space.notify_all()
        for worker in workers:
            worker.join(timeout)
        with self._cond:
            self._workers = []

    @property
    def running(self) -> bool:
        return any(worker.is_alive() for worker in self._workers) and not self._stopping

    # -- submitting ----------------------------------------------------------------------------

    def submit(self, event: Mapping[str, Any]) -> Ticket:
        """Queue one event (validated now, so a bad event never fails a batch) and return its ticket."""
        ticket = Ticket(clean_event(event))
        deadline = time.monotonic() + self.submit_timeout
        with self._cond:
            if self._stopping or not self._workers:
                raise WriterClosed("审计写入器未运行 (audit writer is not running)")
            while len(self._pending) >= self.max_pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    raise WriterOverloaded("审计写入队列已满 (audit writer queue is full)")
                self._space.wait(remaining)
            self._pending.append(ticket)
            self._cond.notify()
        return ticket

    def write(self, event: Mapping[str, Any], timeout: float | None = 30.0) -> int:
        """Submit and wait: the seq of the committed event."""
        return self.submit(event).wait(timeout)

    # -- the writer thread ---------------------------------------------------------------------

    def _take_batch(self) -> list[Ticket] | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if not self._pending:
                return None  # stopping and drained
            if self.max_delay > 0 and len(self._pending) < self.max_batch and not self._stopping:
                deadline = time.monotonic() + self.max_delay
                while len(self._pending) < self.max_batch and not self._stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self._space.notify_all()
            return batch

    def _insert(self, batch: list[Ticket]) -> list[int]:
        objs = [AuditEvent(**t.event) for t in batch]
        with transaction.atomic(using=self.using):
            AuditEvent.objects.using(self.using).bulk_create(objs)
            refs = [AuditKeyRef(key_hmac=h, seq=o.seq) for t, o in zip(batch, objs, strict=True)
                    for h in key_hmacs_of(t.event["data"])]
            if refs:
                AuditKeyRef.objects.using(self.using).bulk_create(refs)
        if any(o.seq is None for o in objs):  # pragma: no cover - a backend that cannot return ids
            raise RuntimeError("database did not return the audit seqs")
        return [int(o.seq) for o in objs]

    def _run(self) -> None:
        connection = connections[self.using]
        try:
            while True:
                batch = self._take_batch()
                if batch is None:
                    return
                try:
                    # The connection stays open across batches (CONN_MAX_AGE does not apply to this
                    # thread); it is closed and reopened after an error.
                    seqs = self._insert(batch)
                except BaseException as exc:
                    self.failures += 1
                    logger.error("audit writer: batch of %d events failed: %s", len(batch), exc)
                    for ticket in batch:
                        ticket._resolve(None, exc)
                    try:
                        connection.close()  # reconnect for the next batch
                    except Exception:  # noqa: S110 - the connection is already broken
                        pass
                    continue
                self.batches += 1
                self.events += len(batch)
                for ticket, seq in zip(batch, seqs, strict=True):
                    ticket._resolve(seq, None)
        finally:
            with self._cond:  # normally nothing is left: each thread drains the queue before it exits
                leftovers, self._pending = self._pending, []
                self._stopping = True
                self._cond.notify_all()
            for ticket in leftovers:
                ticket._resolve(None, WriterClosed("审计写入器已停止 (audit writer stopped)"))
            connection.close()


# --------------------------------------------------------------------------------------------------
# One writer per process
# --------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_writer: AuditWriter | None = None
_writer_pid = 0


def get_writer(**options: Any) -> AuditWriter:
    """The process's started writer (options apply when it is created)."""
    global _writer, _writer_pid
    with _lock:
        if _writer is None or _writer_pid != os.getpid() or not _writer.running:
            _writer = AuditWriter(**options).start()
            _writer_pid = os.getpid()
        return _writer


def stop_writer(timeout: float | None = 30.0) -> None:
    global _writer
    with _lock:
        writer, _writer = _writer, None
    if writer is not None and _writer_pid == os.getpid():
        writer.stop(timeout)


def _after_fork() -> None:
    global _writer, _lock
    _writer = None  # the thread did not survive the fork; the next get_writer() starts a new one
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(stop_writer)
