"""The sealer: chains unsealed events into signed blocks (DESIGN.md §4 "Audit log").

``seal_pending()`` takes the events after the last block in seq order, hashes them
(:mod:`govshare.audit.chain`), signs the new head with the node key and appends an
:class:`~govshare.audit.models.AuditBlock`; then it appends the block's line to the heads file outside
the database (:mod:`govshare.audit.heads`). It is safe to run from several processes: two sealers
racing for the same block number collide on its primary key and the loser stops.

Gaps in seq. Blocks cover contiguous ranges ``[first_seq, last_seq]``; the seqs in the range without a
row are recorded in the block's ``gaps``, so verification knows exactly which events the block
covers, and a row deleted later (a covered seq with no row) or inserted later (a row in a gap) is
found by seq. A gap must therefore be permanent before the sealer passes it:

- SQLite has one writer at a time and rolls back AUTOINCREMENT with the transaction, so committed
  seqs are dense and in order; a gap there means a deleted row (verification reports it).
- PostgreSQL hands out identity values outside transactions: a rolled-back insert leaves a hole, and
  an in-flight transaction may still commit a seq below a visible one. When the range to seal has
  holes, the sealer waits ``AUDIT_SEAL_SETTLE_SECONDS`` (so a transaction that drew a seq has also
  taken its transaction id), lists the transactions then running in this database
  (``pg_stat_activity.backend_xid``) and waits (at most ``AUDIT_SEAL_MAX_WAIT_SECONDS``) until they
  have all ended; the holes left are permanent. If some transaction is still running, only the
  events below the first hole are sealed (bounded lag, never a false alarm).

Hashing and reading happen outside any transaction; only the block insert is one short transaction,
so sealing never holds SQLite's write lock for long.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from govshare.audit import heads, store
from govshare.audit.chain import GENESIS_HEAD, TAG_SIZE, canonical_row, event_digest, fold_step, gaps_count
from govshare.audit.keys import Signer, signer
from govshare.audit.models import AuditBlock

logger = logging.getLogger("govshare.audit")

DEFAULT_MAX_EVENTS = 100_000
DEFAULT_BLOCK_EVENTS = 10_000


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, "GOVSHARE", {}).get(name, default))


@dataclass
class SealResult:
    """What one ``seal_pending`` call did."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    gaps: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: str = ""
    unsealed: int = 0
    waiting_for_transactions: bool = False
    conflict: bool = False
    heads_written: int = 0
    seconds: float = 0.0
    hash_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocks": len(self.blocks), "events": self.events, "gaps": self.gaps, "first_seq": self.first_seq,
            "last_seq": self.last_seq, "head": self.head, "unsealed": self.unsealed,
            "waiting_for_transactions": self.waiting_for_transactions, "conflict": self.conflict,
            "heads_written": self.heads_written, "seconds": round(self.seconds, 4),
            "hash_seconds": round(self.hash_seconds, 4),
            "block_numbers": [b["number"] for b in self.blocks],
        }


# --------------------------------------------------------------------------------------------------
# Horizon: the highest seq whose lower holes are all permanent
# --------------------------------------------------------------------------------------------------


_PG_WRITERS_SQL = (
    "SELECT pid, backend_xid::text FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
)


def _pg_writers(cursor: Any) -> set[tuple[int, str]]:
    """(pid, xid) of the transactions with a transaction id running now in this database."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # backend status is cached per transaction
    cursor.execute(_PG_WRITERS_SQL)
    return {(int(pid), str(xid)) for pid, xid in cursor.fetchall()}


def _pg_wait_for_in_flight(using: str) -> bool:
    """Wait until every transaction of this database running now (after the settle delay) has ended.

    Returns False when some is still running after ``AUDIT_SEAL_MAX_WAIT_SECONDS``. Uses
    ``pg_stat_activity`` (the sealer must run as the application's role, or one with
    ``pg_read_all_stats``, to see its transaction ids); transactions in other databases of the
    cluster are not waited for.
    """
    settle = _setting("AUDIT_SEAL_SETTLE_SECONDS", 0.5)
    max_wait = _setting("AUDIT_SEAL_MAX_WAIT_SECONDS", 5.0)
    if settle > 0:
        time.sleep(settle)
    deadline = time.monotonic() + max_wait
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            waiting = _pg_writers(cursor)
            while waiting:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)
                waiting &= _pg_writers(cursor)
    except DatabaseError:
        # A PostgreSQL-compatible database without these views: fall back on time alone.
        logger.warning("pg_stat_activity unavailable; treating holes older than the wait as final")
        time.sleep(max(0.0, deadline - time.monotonic()))
    return True


def _horizon(start: int, limit: int, using: str) -> tuple[int | None, bool]:
    """(last seq to seal in this block or None, waiting_for_transactions)."""
    target = store.nth_seq_from(start, limit, using=using)
    if target is None:
        target = store.max_seq(using=using)
        if target is None or target < start:
            return None, False
    if store.count_between(start, target, using=using) == target - start + 1:
        return target, False  # dense: nothing can still appear below target
    if store.vendor(using) != "postgresql":
        return target, False  # SQLite: gaps are not rollbacks; sealed as gaps, verification flags them
    if _pg_wait_for_in_flight(using):
        return target, False
    present = store.seqs_between(start, target, using=using)
    expected = start
    for seq in present:
        if seq != expected:
            break
        expected += 1
    return (expected - 1 if expected > start else None), True


# --------------------------------------------------------------------------------------------------
# Sealing
# --------------------------------------------------------------------------------------------------


def _hash_range(start: int, end: int, prev_head: str,
                using: str) -> tuple[str, int, list[list[int]], bytes, int]:
    """(head hex, count, gaps, tags, last existing seq) over the existing events in [start, end]."""
    head = bytes.fromhex(prev_head)
    tags = bytearray()
    gaps: list[list[int]] = []
    expected = start
    count = 0
    for row in store.event_rows(start, end, using=using):
        seq = int(row[0])
        if seq != expected:
            gaps.append([expected, seq - 1])
        expected = seq + 1
        digest = event_digest(canonical_row(row))
        head = fold_step(head, digest)
        tags += digest[:TAG_SIZE]
        count += 1
    return head.hex(), count, gaps, bytes(tags), expected - 1


def _seal_one(sign: Signer, last: dict[str, Any] | None, end: int, using: str) -> dict[str, Any] | None:
    start = int(last["last_seq"]) + 1 if last else 1
    prev_head = str(last["head"]) if last else GENESIS_HEAD
    head, count, gaps, tags, end = _hash_range(start, end, prev_head, using)
    if count == 0:
        return None  # the rows vanished between the horizon and the read (verification will say why)
    block = {
        "number": int(last["number"]) + 1 if last else 1,
        "node_code": sign.node_code,
        "first_seq": start,
        "last_seq": end,
        "count": count,
        "gaps": gaps,
        "tags": tags,
        "prev_head": prev_head,
        "head": head,
        "created_at": timezone.now(),
        "signature": sign.sign(end, head),
        "key_id": sign.key_id,
    }
    with transaction.atomic(using=using):
        AuditBlock.objects.using(using).create(**block)
    block["public_key"] = sign.public_key
    return block


_BLOCK_COLUMNS = ("number", "node_code", "first_seq", "last_seq", "count", "prev_head", "head", "created_at",
                  "signature", "key_id")


def last_block(using: str = "default") -> dict[str, Any] | None:
    return AuditBlock.objects.using(using).order_by("-number").values(*_BLOCK_COLUMNS).first()


def sync_heads_file(path: Path | None = None, *, using: str = "default") -> int:
    """Append to the heads file every block it does not have yet (repairs a crash after commit)."""
    from govshare.audit.keys import database_public_keys

    target = path or heads.default_path()
    after = heads.last_number(target)
    keys = database_public_keys()
    rows = (
        {**b, "public_key": keys.get(b["key_id"], "")}
        for b in AuditBlock.objects.using(using).filter(number__gt=after).order_by("number")
        .values(*_BLOCK_COLUMNS).iterator(chunk_size=1000)
    )
    return heads.append_heads(target, rows)


def seal_pending(*, max_events: int = DEFAULT_MAX_EVENTS, block_events: int | None = None,
                 using: str = "default") -> SealResult:
    """Seal up to ``max_events`` unsealed events into blocks of at most ``block_events`` events.

    Never raises for a concurrent sealer (``conflict`` is set). Each block is its own transaction;
    heads-file lines are written after the blocks commit.
    """
    started = time.perf_counter()
    per_block = int(block_events or _setting("AUDIT_BLOCK_EVENTS", DEFAULT_BLOCK_EVENTS))
    if max_events < 1 or per_block < 1:
        raise ValueError("max_events and block_events must be positive")
    result = SealResult()
    sign: Signer | None = None
    last = last_block(using)
    hash_time = 0.0
    while result.events < max_events:
        start = int(last["last_seq"]) + 1 if last else 1
        end, waiting = _horizon(start, min(per_block, max_events - result.events), using)
        result.waiting_for_transactions |= waiting
        if end is None:
            break
        if sign is None:
            sign = signer()
        t0 = time.perf_counter()
        try:
            block = _seal_one(sign, last, end, using)
        except IntegrityError:
            result.conflict = True  # another sealer appended this block number first
            logger.info("audit seal: another sealer is running; stopping")
            break
        if block is None:
            break
        hash_time += time.perf_counter() - t0
        result.blocks.append(block)
        result.events += int(block["count"])
        result.gaps += gaps_count(block["gaps"])
        result.first_seq = result.first_seq if result.first_seq is not None else int(block["first_seq"])
        result.last_seq = int(block["last_seq"])
        result.head = str(block["head"])
        last = block
        if waiting:
            break
    if result.blocks:
        try:
            result.heads_written = sync_heads_file(using=using)
        except OSError as exc:  # the blocks are committed; the next seal retries the file
            logger.error("audit seal: cannot write the heads file: %s", exc)
    result.unsealed = store.tail_stats(int(last["last_seq"]) if last else 0, using=using)[0]
    result.hash_seconds = hash_time
    result.seconds = time.perf_counter() - started
    return result
