"""Per-block verification, run inline or in worker processes (``verify --jobs N``).

No Django here: a worker process opens its own plain DB-API connection (``sqlite3`` or ``psycopg``)
from a :class:`DbSpec` and, on PostgreSQL, imports the parent's exported snapshot so that every worker
sees the same database state as the parent. The parent keeps the cheap checks (links between blocks,
heads file, tail); workers do the expensive part: reading events, canonical encoding, SM3, SM2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from govshare.audit.chain import ROW_COLUMNS, canonical_row_and_data
from govshare.audit.checks import check_block, check_signature, problem

EVENT_TABLE = "audit_auditevent"
KEYREF_TABLE = "audit_auditkeyref"


def select_list(vendor: str) -> str:
    """The SELECT list giving rows in ``ROW_COLUMNS`` order, ``occurred_at`` as text (no per-row
    datetime parsing: SQLite's stored text, PostgreSQL's canonical UTC form via ``to_char``)."""
    columns = []
    for c in ROW_COLUMNS:
        if c == "occurred_at" and vendor == "sqlite":
            columns.append('CAST("occurred_at" AS TEXT)')
        elif c == "occurred_at" and vendor == "postgresql":
            columns.append('to_char("occurred_at" AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')')
        else:
            columns.append(f'"{c}"')
    return ", ".join(columns)


RowsFn = Callable[[int, int], Iterable[Sequence[Any]]]
CountFn = Callable[[int, int], int]


class EventStream:
    """A block's events as (seq, canonical) for the checker, counting data["key_hmacs"] on the way."""

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self.rows = rows
        self.key_refs = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        for row in self.rows:
            canonical, data = canonical_row_and_data(row)
            if isinstance(data, dict):
                hmacs = data.get("key_hmacs")
                if isinstance(hmacs, list):
                    self.key_refs += len({h for h in hmacs if isinstance(h, str)})
            yield int(row[0]), canonical


@dataclass
class BlocksResult:
    problems: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0


def check_blocks(blocks: Iterable[Mapping[str, Any]], *, keys: Mapping[str, str], pinned: bool, sqlite: bool,
                 check_keyrefs: bool, rows: RowsFn, keyref_count: CountFn) -> BlocksResult:
    """Signature, events and key-index count of each block (not the links between blocks)."""
    result = BlocksResult()
    for block in blocks:
        first, last, number = int(block["first_seq"]), int(block["last_seq"]), int(block["number"])
        found = check_signature(block, keys, pinned=pinned)
        stream = EventStream(rows(first, last))
        outcome = check_block(block, stream, sqlite=sqlite)
        found += outcome.problems
        if check_keyrefs and not outcome.problems:
            actual = keyref_count(first, last)
            if actual != stream.key_refs:
                found.append(problem("keyref_mismatch", block=number, detail=f"{actual} != {stream.key_refs}"))
        result.problems += [p.as_dict() for p in found]
        result.events += outcome.events
    return result


# --------------------------------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbSpec:
    vendor: str  # "sqlite" or "postgresql"
    params: dict[str, Any]  # sqlite: {"database": path}; postgresql: psycopg.connect() keyword arguments
    snapshot: str | None = None  # PostgreSQL exported snapshot id


_conn: Any = None


def _connect(spec: DbSpec) -> Any:
    global _conn
    if _conn is None:
        if spec.vendor == "sqlite":
            import sqlite3

            _conn = sqlite3.connect(spec.params["database"], timeout=30, check_same_thread=False)
        else:
            import psycopg

            _conn = psycopg.connect(**spec.params, autocommit=True)
    return _conn


def run_task(spec: DbSpec, blocks: list[dict[str, Any]], keys: dict[str, str], pinned: bool,
             check_keyrefs: bool) -> BlocksResult:
    """Entry point in a worker process: verify ``blocks`` with its own connection."""
    conn = _connect(spec)
    mark = "?" if spec.vendor == "sqlite" else "%s"
    events_sql = (f'SELECT {select_list(spec.vendor)} FROM "{EVENT_TABLE}" WHERE "seq" >= {mark} AND "seq" <= {mark} '  # noqa: S608
                  'ORDER BY "seq"')
    count_sql = f'SELECT COUNT(*) FROM "{KEYREF_TABLE}" WHERE "seq" >= {mark} AND "seq" <= {mark}'  # noqa: S608
    cur = conn.cursor()

    def rows(first: int, last: int) -> Iterable[Sequence[Any]]:
        cur.execute(events_sql, (first, last))
        return cur.fetchall()

    def keyref_count(first: int, last: int) -> int:
        cur.execute(count_sql, (first, last))
        return int(cur.fetchone()[0])

    if spec.vendor == "postgresql" and spec.snapshot:
        from psycopg import sql

        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(spec.snapshot)))
    try:
        return check_blocks(blocks, keys=keys, pinned=pinned, sqlite=spec.vendor == "sqlite",
                            check_keyrefs=check_keyrefs, rows=rows, keyref_count=keyref_count)
    finally:
        if spec.vendor == "postgresql" and spec.snapshot:
            cur.execute("COMMIT")
        cur.close()
