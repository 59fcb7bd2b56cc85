"""Reconciliation (对账): read the whole source and let the change log compute the difference.

The source is streamed (PostgreSQL server-side cursor, MySQL unbuffered cursor, SQLite row by row) into
:func:`govshare.datasets.changes.replace_rows` with batch id ``connector:<id>:reconcile:<run>``: rows missing
on the platform are inserted, rows deleted at the source are deleted, rows whose values drifted are updated,
each change numbered in the change log. A reconciliation that is restarted after a crash and finds its batch
already applied only rebuilds its report.

The report counts the three kinds of difference and keeps up to ``CONNECTOR_REPORT_SAMPLE_KEYS`` (20) sample
keys of each. Keys are identifiers (a 身份证号 …): they are kept only in the run's report, which only the
providing department can read (it holds the data anyway), never in the audit log.

An empty source fails the reconciliation (nothing is replaced): an empty table or view far more often means
a broken export than a department that deleted all its records.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql  # type: ignore[import-untyped,unused-ignore]
from django.conf import settings

from govshare.connectors import values
from govshare.connectors.config import Config, endpoint_of, plan_of
from govshare.connectors.drivers import connect
from govshare.connectors.leases import renew
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.pull import actor_of
from govshare.connectors.source import SourcePlan
from govshare.datasets.changes import BatchResult, changes_since, replace_rows
from govshare.datasets.models import ChangeBatch

FETCH = 2000
HEARTBEAT_ROWS = 20_000
SAMPLE_SCAN_LIMIT = 50_000


@dataclass
class Tally:
    rows: int = 0
    max_inc: Any = None
    samples: dict[str, list[str]] = field(default_factory=dict)


def _rows(conn: Any, plan: SourcePlan, tally: Tally, run_id: int, owner: str) -> Iterator[dict[str, Any]]:
    """Stream the source as dataset rows, renewing the lease now and then."""
    sql = plan.full_sql()
    if isinstance(conn, psycopg.Connection):
        with conn.transaction(), conn.cursor(name=f"govshare_reconcile_{run_id}") as cur:
            cur.itersize = FETCH
            cur.execute(sql)
            yield from _tally(cur, plan, tally, run_id, owner)
    elif isinstance(conn, pymysql.connections.Connection):
        with conn.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(sql)
            yield from _tally(cur, plan, tally, run_id, owner)
    else:
        assert isinstance(conn, sqlite3.Connection)
        lite = conn.execute(sql)
        try:
            yield from _tally(lite, plan, tally, run_id, owner)
        finally:
            lite.close()


def _tally(cur: Any, plan: SourcePlan, tally: Tally, run_id: int, owner: str) -> Iterator[dict[str, Any]]:
    while True:
        chunk = cur.fetchmany(FETCH)
        if not chunk:
            return
        for raw in chunk:
            tally.rows += 1
            inc = plan.inc_of(raw)
            if values.later(inc, tally.max_inc):
                tally.max_inc = inc
            yield plan.to_row(raw)
        if tally.rows % HEARTBEAT_ROWS < FETCH:
            renew(run_id, owner, rows_read=tally.rows)


def _samples(connector: SourceConnector, result: BatchResult) -> dict[str, list[str]]:
    """Up to N keys of each kind of difference, read back from the batch's changes."""
    limit = int(settings.GOVSHARE.get("CONNECTOR_REPORT_SAMPLE_KEYS", 20))
    out: dict[str, list[str]] = {"missing_on_platform": [], "deleted_at_source": [], "drifted": []}
    after, scanned = result.first_seq - 1, 0
    while after < result.last_seq and scanned < SAMPLE_SCAN_LIMIT and any(len(v) < limit for v in out.values()):
        page = changes_since(dataset=connector.dataset_id, after=after, limit=1000)
        page = [c for c in page if c.seq <= result.last_seq]
        if not page:
            break
        for change in page:
            kind = ("deleted_at_source" if change.op == "delete" else
                    "missing_on_platform" if change.old is None else "drifted")
            if len(out[kind]) < limit:
                out[kind].append(change.key)
        scanned += len(page)
        after = page[-1].seq
    return out


def report_of(result: BatchResult, tally: Tally, samples: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "batch_id": result.batch_id, "replayed": result.replayed, "source_rows": tally.rows,
        "first_seq": result.first_seq, "last_seq": result.last_seq,
        "missing_on_platform": {"count": result.inserted, "sample_keys": samples["missing_on_platform"]},
        "deleted_at_source": {"count": result.deleted, "sample_keys": samples["deleted_at_source"]},
        "drifted": {"count": result.updated, "sample_keys": samples["drifted"]},
        "unchanged": result.unchanged,
    }


def reconcile(run: ConnectorRun, connector: SourceConnector, *, owner: str) -> tuple[BatchResult, Tally]:
    """Run (or finish) the reconciliation; answers the batch result and what was read."""
    batch_id = f"connector:{connector.pk}:reconcile:{run.pk}"
    tally = Tally()
    if ChangeBatch.objects.filter(dataset_id=connector.dataset_id, batch_id=batch_id).exists():
        result = replace_rows(actor=actor_of(connector), dataset=connector.dataset, rows=(), batch_id=batch_id,
                              kind="reconcile", source=f"connector:{connector.pk}", delivery=False)
        tally.rows = result.inserted + result.updated + result.unchanged
    else:
        plan = plan_of(connector)
        conn = connect(endpoint_of(Config.of(connector)), purpose="connector", node=connector.node_id,
                       readonly=True, autocommit=True)
        try:
            result = replace_rows(actor=actor_of(connector), dataset=connector.dataset,
                                  rows=_rows(conn, plan, tally, run.pk, owner), batch_id=batch_id, kind="reconcile",
                                  source=f"connector:{connector.pk}", delivery=False)
        finally:
            conn.close()
    tally.samples = _samples(connector, result)
    return result, tally
