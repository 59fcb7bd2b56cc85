"""Raw reads of the audit tables for sealing, verification and export (no model instances: speed).

Rows come back in :data:`govshare.audit.chain.ROW_COLUMNS` order, ready for
:func:`govshare.audit.chain.canonical_row`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, connections, transaction

from govshare.audit.models import AuditEvent
from govshare.audit.verify_worker import select_list

EVENT_TABLE = AuditEvent._meta.db_table
FETCH_SIZE = 5000



def vendor(using: str = "default") -> str:
    return str(connections[using].vendor)


def event_rows(first_seq: int, last_seq: int, *, using: str = "default") -> Iterator[tuple[Any, ...]]:
    """Event rows with ``first_seq <= seq <= last_seq`` in seq order, fetched in pages (bounded memory)."""
    connection = connections[using]
    columns = select_list(connection.vendor)
    lo = first_seq
    while lo <= last_seq:
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT {columns} FROM "{EVENT_TABLE}" WHERE "seq" >= %s AND "seq" <= %s '  # noqa: S608
                f'ORDER BY "seq" LIMIT {FETCH_SIZE}',
                [lo, last_seq],
            )
            rows = cursor.fetchall()
        yield from rows
        if len(rows) < FETCH_SIZE:
            return
        lo = int(rows[-1][0]) + 1


def max_seq(*, using: str = "default") -> int | None:
    with connections[using].cursor() as cursor:
        cursor.execute(f'SELECT MAX("seq") FROM "{EVENT_TABLE}"')  # noqa: S608
        row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def count_between(first_seq: int, last_seq: int, *, using: str = "default") -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(
            f'SELECT COUNT(*) FROM "{EVENT_TABLE}" WHERE "seq" >= %s AND "seq" <= %s',  # noqa: S608
            [first_seq, last_seq],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def nth_seq_from(first_seq: int, n: int, *, using: str = "default") -> int | None:
    """The seq of the n-th existing event (1-based) with seq >= first_seq, or None when fewer exist."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f'SELECT "seq" FROM "{EVENT_TABLE}" WHERE "seq" >= %s ORDER BY "seq" '  # noqa: S608
            f"LIMIT 1 OFFSET {int(n) - 1}",
            [first_seq],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def seqs_between(first_seq: int, last_seq: int, *, using: str = "default") -> list[int]:
    with connections[using].cursor() as cursor:
        cursor.execute(
            f'SELECT "seq" FROM "{EVENT_TABLE}" WHERE "seq" >= %s AND "seq" <= %s ORDER BY "seq"',  # noqa: S608
            [first_seq, last_seq],
        )
        return [int(r[0]) for r in cursor.fetchall()]


def tail_stats(after_seq: int, *, using: str = "default") -> tuple[int, int | None, int | None, Any]:
    """(count, min seq, max seq, oldest occurred_at) of the events with seq > after_seq."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            f'SELECT COUNT(*), MIN("seq"), MAX("seq"), MIN("occurred_at") FROM "{EVENT_TABLE}" '  # noqa: S608
            'WHERE "seq" > %s',
            [after_seq],
        )
        row = cursor.fetchone()
    if not row or not row[0]:
        return 0, None, None, None
    return int(row[0]), int(row[1]), int(row[2]), row[3]


def sequence_high_water(*, using: str = "default") -> int | None:
    """The highest seq the database has ever handed out (SQLite ``sqlite_sequence``; PostgreSQL the
    identity sequence), or None when unknown. Above ``max_seq`` it means rows were removed from the
    tail (SQLite) or transactions rolled back (PostgreSQL, harmless)."""
    connection = connections[using]
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [EVENT_TABLE])
                row = cursor.fetchone()
                return None if row is None else int(row[0])
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'seq')", [EVENT_TABLE])
                name = cursor.fetchone()
                if not name or not name[0]:
                    return None
                cursor.execute(f"SELECT last_value, is_called FROM {name[0]}")  # noqa: S608 - catalog name
                row = cursor.fetchone()
                if row is None:
                    return None
                return int(row[0]) if row[1] else int(row[0]) - 1
    except DatabaseError:  # informational only; a compatible database may lack these catalogs
        return None
    return None
