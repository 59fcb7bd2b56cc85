"""Verification of the audit chain in the database (``govshare audit verify``; DESIGN.md §4, §6).

Recomputes every block from the events, checks the links between blocks and each block's SM2
signature (with pinned public keys, or the database's node keys with a warning), and reports:

- the sealed range, and the unsealed tail (count, first and last seq);
- the FIRST bad event: a changed row (its digest no longer matches the block), a deleted row (a seq
  the block covers has no row), a row inserted into a sealed range;
- a truncated tail: the last block's events are gone, the heads file outside the database knows
  later blocks, or (SQLite) the sequence counter is above the newest row;
- missing append-only triggers and key-index rows that do not match the events.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from govshare.audit import heads as heads_mod
from govshare.audit import store, triggers
from govshare.audit.checks import (
    MESSAGES,
    Problem,
    check_head,
    check_heads_beyond,
    check_link,
    pinned_key_map,
    problem,
)
from govshare.audit.keys import database_public_keys, node_code
from govshare.audit.models import AuditBlock, AuditKeyRef, VerificationRun
from govshare.audit.report import VerifyReport
from govshare.audit.verify_worker import BlocksResult, DbSpec, check_blocks, run_task

_BLOCK_COLUMNS = ("number", "node_code", "first_seq", "last_seq", "count", "gaps", "tags", "prev_head", "head",
                  "signature", "key_id")


@contextlib.contextmanager
def _snapshot(using: str) -> Iterator[None]:
    """PostgreSQL: one REPEATABLE READ snapshot for the whole run. SQLite: plain autocommit reads (a
    transaction would take the write lock, IMMEDIATE mode, and stall every writer while verifying)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _db_spec(using: str, snapshot: str | None) -> DbSpec | None:
    """How a worker process reaches the same database, or None when it cannot (in-memory SQLite)."""
    connection = connections[using]
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        if getattr(connection, "is_in_memory_db", lambda: True)():
            return None
        return DbSpec("sqlite", {"database": str(settings_dict["NAME"])})
    if connection.vendor == "postgresql":
        params = {"dbname": settings_dict["NAME"], "user": settings_dict.get("USER") or None,
                  "password": settings_dict.get("PASSWORD") or None, "host": settings_dict.get("HOST") or None,
                  "port": settings_dict.get("PORT") or None}
        for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name"):
            if key in settings_dict.get("OPTIONS", {}):
                params[key] = settings_dict["OPTIONS"][key]
        return DbSpec("postgresql", {k: v for k, v in params.items() if v is not None}, snapshot)
    return None


def _export_snapshot(using: str) -> str | None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        row = cursor.fetchone()
    return str(row[0]) if row else None


class _Checker:
    """Runs :func:`check_blocks` inline, or in a process pool in batches of about ``TASK_EVENTS``."""

    TASK_EVENTS = 50_000

    def __init__(self, report: VerifyReport, *, keys: dict[str, str], check_keyrefs: bool, using: str,
                 jobs: int) -> None:
        self.report, self.keys, self.check_keyrefs, self.using = report, keys, check_keyrefs, using
        self.pinned = report.key_source == "pinned"
        self.jobs = jobs
        self.sqlite = connections[using].vendor == "sqlite"
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.spec: DbSpec | None = None
        self.batch: list[dict[str, Any]] = []
        self.batch_events = 0
        self.futures: list[concurrent.futures.Future[BlocksResult]] = []
        if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
            self.spec = _db_spec(using, _export_snapshot(using))
            if self.spec is not None:
                self.pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=jobs, mp_context=multiprocessing.get_context("fork"))

    def _absorb(self, result: BlocksResult) -> None:
        self.report.add([Problem(**p) for p in result.problems])
        self.report.events_checked += result.events

    def add(self, block: dict[str, Any]) -> None:
        if self.pool is None or self.spec is None:
            self._absorb(check_blocks(
                [block], keys=self.keys, pinned=self.pinned, sqlite=self.sqlite, check_keyrefs=self.check_keyrefs,
                rows=lambda a, b: store.event_rows(a, b, using=self.using),
                keyref_count=lambda a, b: AuditKeyRef.objects.using(self.using).filter(
                    seq__gte=a, seq__lte=b).count(),
            ))
            return
        self.batch.append(block)
        self.batch_events += int(block["count"])
        if self.batch_events >= self.TASK_EVENTS:
            self._submit()

    def _submit(self) -> None:
        if not self.batch or self.pool is None or self.spec is None:
            return
        self.futures.append(self.pool.submit(run_task, self.spec, self.batch, self.keys, self.pinned,
                                             self.check_keyrefs))
        self.batch, self.batch_events = [], 0
        while len(self.futures) > 4 * self.jobs:  # bounded memory
            self._absorb(self.futures.pop(0).result())

    def finish(self) -> None:
        if self.pool is None:
            return
        try:
            self._submit()
            for future in self.futures:
                self._absorb(future.result())
        finally:
            self.pool.shutdown()


def _mark_truncated(report: VerifyReport, newest: int) -> None:
    """The sealed events after the newest row are gone: call the last deleted run what it is."""
    sealed_last = report.sealed_last_seq or 0
    for p in reversed(report.problems):
        if p.kind == "deleted" and p.seq_end == sealed_last and (p.seq or 0) > newest:
            p.kind, p.message = "truncated_tail", MESSAGES["truncated_tail"]
            p.detail = f"最大现存序号 (newest seq) {newest or '-'}"
            return
    report.add([problem("truncated_tail", seq=newest + 1, seq_end=sealed_last,
                        detail=f"最大现存序号 (newest seq) {newest or '-'}")])


def verify_chain(*, pinned_keys: list[str] | None = None, heads_path: Path | None = None,
                 check_keyrefs: bool = True, jobs: int = 1, using: str = "default") -> VerifyReport:
    """Verify the whole chain. ``heads_path`` None means the node's default heads file (if present).

    ``jobs`` > 1 checks blocks in that many worker processes (Linux ``fork``; a file or PostgreSQL
    database; inline otherwise). Each block is independent, so verification scales with cores.
    """
    started = time.perf_counter()
    report = VerifyReport(node=node_code())
    vendor = store.vendor(using)
    if pinned_keys:
        keys = pinned_key_map(pinned_keys)
        report.key_source = "pinned"
    else:
        keys = database_public_keys()
        report.warnings.append("未指定固定公钥，使用数据库中的公钥；数据库管理员可替换它，请用 --pinned-key "
                               "(no pinned key: the database's own key was used, which its administrator "
                               "could replace; pass --pinned-key)")
    report.key_ids = sorted(keys)

    path = heads_path or heads_mod.default_path()
    heads_data = heads_mod.read_heads(path)
    if heads_data.exists:
        report.heads_file = str(path)
        if heads_data.bad_lines:
            report.warnings.append(f"外部头记录有 {len(heads_data.bad_lines)} 行无法解析 "
                                   f"(heads file has unreadable lines: {heads_data.bad_lines[:10]})")
    elif heads_path is not None:
        report.warnings.append(f"外部头记录文件不存在 (heads file not found): {path}")
    pending_heads = dict(heads_data.heads)

    previous: dict[str, Any] | None = None
    if connections[using].in_atomic_block:
        jobs = 1  # worker processes would not see this transaction's uncommitted rows
    with _snapshot(using):
        checker = _Checker(report, keys=keys, check_keyrefs=check_keyrefs, using=using, jobs=jobs)
        blocks = AuditBlock.objects.using(using).order_by("number").values(*_BLOCK_COLUMNS)
        for block in blocks.iterator(chunk_size=200):
            block["tags"] = bytes(block["tags"] or b"")
            report.add(check_link(block, previous))
            checker.add(block)
            rec = pending_heads.pop(int(block["number"]), None)
            if rec is not None:
                found, warns = check_head(rec, block, keys, pinned=report.key_source == "pinned")
                report.add(found)
                report.warnings += warns
                report.heads_checked += 1
            report.blocks += 1
            report.sealed_events += int(block["count"])
            report.gaps += (int(block["last_seq"]) - int(block["first_seq"]) + 1) - int(block["count"])
            if report.sealed_first_seq is None:
                report.sealed_first_seq = int(block["first_seq"])
            report.sealed_last_seq = int(block["last_seq"])
            previous = {k: block[k] for k in ("number", "last_seq", "head")}
        checker.finish()

        last_number = int(previous["number"]) if previous else 0
        beyond = [r for n, r in pending_heads.items() if n > last_number]
        found, warns = check_heads_beyond(beyond, last_number, keys, pinned=report.key_source == "pinned")
        report.add(found)
        report.warnings += warns
        report.heads_checked += len(beyond)
        report.truncated = bool(found)

        sealed_to = report.sealed_last_seq or 0
        report.unsealed_count, report.unsealed_first_seq, report.unsealed_last_seq, _ = store.tail_stats(
            sealed_to, using=using)
        report.max_seq = store.max_seq(using=using)
        newest = report.max_seq or 0
        if report.sealed_last_seq is not None and newest < report.sealed_last_seq:
            report.truncated = True
            _mark_truncated(report, newest)
        high = store.sequence_high_water(using=using)
        unsealed_cut = max(newest, report.sealed_last_seq or 0) + 1
        if vendor == "sqlite" and high is not None and high >= unsealed_cut:
            report.truncated = True
            report.add([problem("sequence_ahead", seq=unsealed_cut, seq_end=high)])
        absent = triggers.missing(connections[using])
        if absent:
            report.add([problem("triggers_missing", detail=", ".join(absent))])
    if report.blocks == 0:
        report.warnings.append("尚无已封存区块，请运行 govshare audit seal (nothing sealed yet; run the sealer)")
    report.ok = report.problem_count == 0
    report.seconds = time.perf_counter() - started
    return report


def record_run(report: VerifyReport, *, actor: Any, started_at: Any = None) -> VerificationRun:
    """Keep the outcome for the status page and write the ``audit.verify`` event."""
    from govshare.audit.services import record_event

    now = timezone.now()
    summary = report.as_dict()
    summary["problems"] = summary["problems"][:20]
    with transaction.atomic():
        run = VerificationRun.objects.create(
            started_at=started_at or now, finished_at=now, ok=report.ok, key_source=report.key_source,
            sealed_last_seq=report.sealed_last_seq, events_checked=report.events_checked,
            first_bad_seq=report.first_bad_seq, problem_count=report.problem_count,
            run_by=str(getattr(actor, "username", actor) or "system")[:200], summary=summary,
        )
        record_event(actor=actor, action="audit.verify", target_type="audit_chain", target_id=str(run.pk),
                     data={"ok": report.ok, "key_source": report.key_source, "sealed_last_seq": report.sealed_last_seq,
                           "first_bad_seq": report.first_bad_seq, "problems": report.problem_count},
                     result="ok" if report.ok else "failed")
    return run
