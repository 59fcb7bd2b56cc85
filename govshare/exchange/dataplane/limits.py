"""Shared state of the data plane, counted in the database so that every process sees the same numbers:
nonces (replay protection), rate limits and quotas (``exchange.UsageCounter``) and the distinct claims made
against one key (``exchange.VerifyClaim``, the enumeration alert).

Each call is *admitted* once: its nonce remembered and its counters raised, or refused. Admissions are group
committed (:class:`_Batcher`): the calls of one process that arrive while a commit is under way are admitted
together in the next transaction, in arrival order, with exactly the outcome they would have had one by one.
A batch is a fixed handful of statements whatever its size::

    INSERT INTO exchange_nonce … VALUES … ON CONFLICT (value) DO NOTHING RETURNING value       -- replays
    INSERT INTO exchange_usagecounter … VALUES (…, 0), … ON CONFLICT (grant_id, bucket)
        DO UPDATE SET count = exchange_usagecounter.count RETURNING grant_id, bucket, count    -- create, lock, read
    (decide in process, call by call: a bucket at its limit refuses the call and is not raised)
    INSERT INTO exchange_usagecounter … ON CONFLICT … DO UPDATE SET count = excluded.count      -- write back
    INSERT INTO exchange_verifyclaim … ON CONFLICT DO NOTHING RETURNING …                      -- new claims
    SELECT grant_id, key_hmac, day, COUNT(*) FROM exchange_verifyclaim … GROUP BY …            -- distinct claims

Correct across processes: PostgreSQL locks the counter rows (the no-op update, in sorted order, so two
processes cannot deadlock) until the commit; SQLite's ``BEGIN IMMEDIATE`` makes the whole transaction the only
writer. Refused calls do not eat the quota, and the nonce of every authentic call is kept, refused or not, so it
cannot be replayed later in the window. ``INSERT … ON CONFLICT``, ``RETURNING`` and row values are in
PostgreSQL ≥ 9.5 and SQLite ≥ 3.35; no extension is used.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, connection, transaction

from govshare.exchange.dataplane.responses import DataPlaneError
from govshare.exchange.models import Nonce, UsageCounter, VerifyClaim

logger = logging.getLogger("govshare.dataplane")

_NONCE = Nonce._meta.db_table
_COUNTER = UsageCounter._meta.db_table
_CLAIM = VerifyClaim._meta.db_table
MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class Counter:
    """One bucket of one grant and the limit it may reach; ``code`` is the refusal when it is full."""

    bucket: str
    limit: int
    code: str


@dataclass(frozen=True, slots=True)
class Claim:
    key_hmac: str
    claim_hash: str


@dataclass(frozen=True, slots=True)
class Admission:
    counts: dict[str, int]
    distinct_claims: int | None  # distinct claims against the key today, when this call added a new one


@dataclass(eq=False)
class _Job:
    nonce_value: str
    nonce_expires: Any  # adapted for the database
    grant_db_id: Any
    day: Any  # adapted for the database
    counters: Sequence[Counter]
    claim: Claim | None
    done: bool = False
    admission: Admission | None = None
    error: BaseException | None = None
    counts: dict[str, int] = field(default_factory=dict)


def counters_for(*, minute: dt.datetime, day: dt.date, rate_limit: int, daily_quota: int,
                 verify_key_hmac: str | None = None, verify_quota: int = 0) -> list[Counter]:
    """The buckets of a call: per minute, per day and, for verify, per key per day (``UsageCounter`` docs)."""
    out = [Counter(f"m:{minute:%Y%m%d%H%M}", rate_limit, "over_rate_limit"),
           Counter(f"d:{day:%Y%m%d}", daily_quota, "over_daily_quota")]
    if verify_key_hmac is not None:
        out.append(Counter(f"v:{day:%Y%m%d}:{verify_key_hmac}", verify_quota, "over_verify_quota"))
    return out


def admit(*, nonce_value: str, nonce_expires: dt.datetime, grant_db_id: Any, day: dt.date,
          counters: list[Counter], claim: Claim | None = None) -> Admission:
    """Remember the nonce and count the call. Raises ``replayed_nonce`` or the first full counter's code; the
    nonce and the counters raised before the full one stay committed."""
    ops = connection.ops
    job = _Job(nonce_value=nonce_value, nonce_expires=ops.adapt_datetimefield_value(nonce_expires),
               grant_db_id=grant_db_id, day=ops.adapt_datefield_value(day),
               counters=counters if grant_db_id is not None else [], claim=claim if grant_db_id is not None else None)
    if connection.in_atomic_block:  # the caller's transaction (tests): no batching with other threads
        with transaction.atomic():
            _execute([job])
    else:
        _batcher.run(job)
    if job.error is not None:
        raise job.error
    assert job.admission is not None
    return job.admission


class _Batcher:
    """Leader/follower group commit: the first waiting thread runs everything pending in one transaction on its
    own connection; the others wait for their result (and one of them leads the next batch)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._busy = False
        self.batches = 0  # statistics (benchmarks, monitoring)
        self.jobs = 0

    def run(self, job: _Job) -> None:
        with self._cond:
            self._pending.append(job)
        while True:
            with self._cond:
                while not job.done and self._busy:
                    self._cond.wait()
                if job.done:
                    return
                self._busy = True
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                self.batches += 1
                self.jobs += len(batch)
            try:
                _transaction(batch)
            except BaseException as exc:
                for j in batch:
                    j.error, j.admission = exc, None
            finally:
                with self._cond:
                    for j in batch:
                        j.done = True
                    self._busy = False
                    self._cond.notify_all()


_batcher = _Batcher()


def _transaction(batch: list[_Job]) -> None:
    if connection.vendor != "sqlite":
        with transaction.atomic():
            if not _synchronous():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            _execute(batch)
        return
    # SQLite: BEGIN IMMEDIATE waits for the other writer (the audit writer) in SQLite's busy handler, which
    # sleeps 1, 2, 5, 10 … ms between tries. Retry here at once instead, in steps of 0.2–2 ms. In WAL mode only
    # BEGIN IMMEDIATE can meet a busy database, so a failure after it has succeeded is not retried.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        saved = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        delay, deadline = 0.0002, time.monotonic() + max(saved, 1000) / 1000
        while True:
            began = False
            try:
                with transaction.atomic():
                    began = True
                    _execute(batch)
                return
            except OperationalError as exc:
                if began or "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {saved:d}")


def _synchronous() -> bool:
    """``DATAPLANE_ADMISSION_SYNCHRONOUS_COMMIT`` (default true). False lets PostgreSQL acknowledge admission
    commits before their WAL is flushed (``synchronous_commit = off`` for that transaction only): faster, but a
    database crash may forget the last fraction of a second of nonces and counter increments (a replay of those
    requests would pass the nonce check within the timestamp window; quotas could be exceeded by as many calls).
    Audit events are never written this way."""
    from django.conf import settings

    from govshare.exchange.dataplane.conf import DEFAULTS

    name = "DATAPLANE_ADMISSION_SYNCHRONOUS_COMMIT"
    return bool(getattr(settings, "GOVSHARE", {}).get(name, DEFAULTS[name]))


def _gid(value: Any) -> str:
    return str(value).replace("-", "").lower()


def _values(rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    width = len(rows[0])
    group = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([group] * len(rows)), [v for row in rows for v in row]


def _execute(batch: list[_Job]) -> None:
    """Admit ``batch`` in the caller's transaction, call by call in order (sets each job's outcome)."""
    with connection.cursor() as cursor:
        # 1. nonces: the first of equal values in the batch may insert it; a value already stored is a replay
        first: dict[str, _Job] = {}
        for job in batch:
            first.setdefault(job.nonce_value, job)
        sql, params = _values([(j.nonce_value, j.nonce_expires) for j in first.values()])
        cursor.execute(f"INSERT INTO {_NONCE} (value, expires_at) VALUES {sql} "  # noqa: S608 - names from metadata
                       f"ON CONFLICT (value) DO NOTHING RETURNING value", params)
        inserted = {row[0] for row in cursor.fetchall()}
        live = []
        for job in batch:
            if job.nonce_value in inserted and first[job.nonce_value] is job:
                live.append(job)
            else:
                job.error = DataPlaneError("replayed_nonce")
        # 2. counters: make sure the rows exist, lock and read them in a fixed order, decide, write back
        keys = sorted({(_gid(j.grant_db_id), c.bucket): (j.grant_db_id, c.bucket, j.day)
                       for j in live for c in j.counters}.items())
        current: dict[tuple[str, str], int] = {}
        if keys:
            # One statement creates missing rows (count 0), locks existing ones (a no-op update) and reads them.
            sql, params = _values([(g, b, d, 0) for _, (g, b, d) in keys])
            cursor.execute(f"INSERT INTO {_COUNTER} (grant_id, bucket, day, count) VALUES {sql} "  # noqa: S608
                           f"ON CONFLICT (grant_id, bucket) DO UPDATE SET count = {_COUNTER}.count "
                           f"RETURNING grant_id, bucket, count", params)
            current = {(_gid(g), b): int(n) for g, b, n in cursor.fetchall()}
        start = dict(current)
        for job in live:
            for c in job.counters:
                k = (_gid(job.grant_db_id), c.bucket)
                if current.get(k, 0) >= c.limit:
                    job.error = DataPlaneError(c.code, details={"limit": c.limit},
                                               headers=[("Retry-After", _retry_after(c.bucket))])
                    break
                current[k] = current.get(k, 0) + 1
                job.counts[c.bucket] = current[k]
        changed = [(raw[0], raw[1], raw[2], current[k]) for k, raw in keys if current.get(k) != start.get(k)]
        if changed:
            sql, params = _values(changed)
            cursor.execute(f"INSERT INTO {_COUNTER} (grant_id, bucket, day, count) VALUES {sql} "  # noqa: S608
                           f"ON CONFLICT (grant_id, bucket) DO UPDATE SET count = excluded.count", params)
        # 3. distinct claims against one key per day (the enumeration alert)
        claiming = [j for j in live if j.error is None and j.claim is not None]
        distinct = _claims(cursor, claiming)
        for job in live:
            if job.error is None:
                job.admission = Admission(counts=job.counts, distinct_claims=distinct.get(id(job)))


def _claims(cursor: Any, jobs: list[_Job]) -> dict[int, int]:
    """Record the claims; for each job that added a new one, the number of distinct claims on its key that day
    counting its own (as if the calls had run one after the other)."""
    if not jobs:
        return {}
    seen: dict[tuple[str, str, str, str], _Job] = {}
    for job in jobs:
        assert job.claim is not None
        seen.setdefault((_gid(job.grant_db_id), job.claim.key_hmac, job.claim.claim_hash, str(job.day)), job)
    rows = [(j.grant_db_id, j.claim.key_hmac, j.claim.claim_hash, j.day) for j in seen.values() if j.claim]
    sql, params = _values(rows)
    cursor.execute(f"INSERT INTO {_CLAIM} (grant_id, key_hmac, claim_hash, day) VALUES {sql} "  # noqa: S608
                   f"ON CONFLICT (grant_id, key_hmac, claim_hash, day) DO NOTHING "
                   f"RETURNING grant_id, key_hmac, claim_hash, day", params)
    new = {(_gid(g), k, h, str(d)) for g, k, h, d in cursor.fetchall()}
    if not new:
        return {}
    groups = sorted({(g, k, d): seen[(g, k, h, d)] for g, k, h, d in new}.items())
    sql, params = _values([(job.grant_db_id, key[1], job.day) for key, job in groups])
    cursor.execute(f"SELECT grant_id, key_hmac, day, COUNT(*) FROM {_CLAIM} "  # noqa: S608
                   f"WHERE (grant_id, key_hmac, day) IN ({sql}) GROUP BY grant_id, key_hmac, day", params)
    totals = {(_gid(g), k, str(d)): int(n) for g, k, d, n in cursor.fetchall()}
    out: dict[int, int] = {}
    later: dict[tuple[str, str, str], int] = {}
    for (g, k, _h, d), job in reversed([(key, job) for key, job in seen.items() if key in new]):  # batch order
        out[id(job)] = totals.get((g, k, d), 0) - later.get((g, k, d), 0)
        later[(g, k, d)] = later.get((g, k, d), 0) + 1
    return out


def _retry_after(bucket: str) -> str:
    if bucket.startswith("m:"):
        return str(60 - int(time.time()) % 60)
    return "3600"


# ---------------------------------------------------------------------------------------------------------------
# Opportunistic purge of expired nonces and old counters (at most once per interval per process)
# ---------------------------------------------------------------------------------------------------------------

_purge_lock = threading.Lock()
_last_purge = 0.0


def maybe_purge(*, now: dt.datetime, today: dt.date, interval: float, retention_days: int) -> bool:
    """Delete nonces past their window and counters/claims older than ``retention_days``; cheap and rare.
    Returns whether this call purged. Never raises: a failed purge is retried next interval."""
    global _last_purge
    mono = time.monotonic()
    if mono - _last_purge < interval or not _purge_lock.acquire(blocking=False):
        return False
    try:
        _last_purge = mono
        oldest = today - dt.timedelta(days=retention_days)
        with transaction.atomic():
            Nonce.objects.filter(expires_at__lt=now).delete()
            UsageCounter.objects.filter(day__lt=oldest).delete()
            VerifyClaim.objects.filter(day__lt=oldest).delete()
        return True
    except Exception:
        logger.exception("dataplane: purge of nonces and counters failed")
        return False
    finally:
        _purge_lock.release()


def reset_purge_clock() -> None:
    """For tests: let the next call purge."""
    global _last_purge
    _last_purge = 0.0
