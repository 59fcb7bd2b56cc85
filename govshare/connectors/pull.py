"""Incremental pulls with an overlap window.

A pull reads the rows whose incremental column is above ``watermark - overlap`` (seconds for timestamps,
units for numbers), keyset-paginated on (incremental column, key), and applies each page as one change-log
batch ``connector:<id>:run:<run>:page:<n>``. Rows re-read through the overlap are identical to what the
platform holds and count as unchanged, so the overlap costs reading only; a row committed late, with a value
below the watermark but inside the overlap, is caught by the next pull (older ones by reconciliation).

Each page is applied in ONE transaction with the run's progress (cursor, counters, lease) and the
watermark: a worker killed between pages resumes exactly after the last applied page; a page whose batch id
was already applied is a no-op (``replayed``), so nothing is lost and nothing is duplicated.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.db.models import F

from govshare.connectors import values
from govshare.connectors.choices import ConnectorStatus
from govshare.connectors.config import Config, endpoint_of, plan_of
from govshare.connectors.drivers import connect
from govshare.connectors.leases import renew
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.datasets.changes import apply_batch

FINISHED, YIELDED, PAUSED = "finished", "yielded", "paused"


def actor_of(connector: SourceConnector) -> str:
    return f"connector:{connector.pk}"


def _start(run: ConnectorRun, connector: SourceConnector, owner: str) -> dict[str, Any]:
    """Fix the run's lower bound (watermark minus overlap) once; a resumed run keeps its own."""
    if "lower" in (run.progress or {}):
        return dict(run.progress)
    watermark = values.decode(connector.watermark)
    lower = values.minus_overlap(watermark, incremental_type=connector.incremental_type,
                                 seconds=connector.overlap_seconds, count=connector.overlap_count)
    progress = {"lower": values.encode(lower), "cursor": None, "watermark_at_start": connector.watermark or None}
    renew(run.pk, owner, progress=progress)
    return progress


def pull(run: ConnectorRun, connector: SourceConnector, *, owner: str, deadline: float) -> str:
    """Pull until the source has no more rows (``finished``), the dispatcher's time budget is spent
    (``yielded``: the run keeps its cursor and is resumed next pass) or the connector was paused."""
    plan = plan_of(connector)
    progress = _start(run, connector, owner)
    lower = values.decode(progress.get("lower"))
    cursor_raw = progress.get("cursor")
    cursor = (values.decode(cursor_raw["inc"]), values.decode(cursor_raw["key"])) if cursor_raw else None
    watermark = values.decode(connector.watermark)
    pages = run.pages
    page_size = connector.page_size
    conn = connect(endpoint_of(Config.of(connector)), purpose="connector", node=connector.node_id, readonly=True,
                   autocommit=True)
    try:
        while True:
            if time.monotonic() > deadline:
                return YIELDED
            if not SourceConnector.objects.filter(pk=connector.pk, status=ConnectorStatus.ACTIVE).exists():
                return PAUSED
            sql, params = plan.page_sql(lower=lower, cursor=cursor, limit=page_size)
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                raw = cur.fetchall()
            finally:
                cur.close()
            if not raw:
                return FINISHED
            pages += 1
            last = raw[-1]
            cursor = (plan.inc_of(last), plan.key_of(last))
            progress = {**progress, "cursor": {"inc": values.encode(cursor[0]), "key": values.encode(cursor[1])}}
            with transaction.atomic():
                result = apply_batch(actor=actor_of(connector), dataset=connector.dataset,
                                     batch_id=f"connector:{connector.pk}:run:{run.pk}:page:{pages}",
                                     upserts=[plan.to_row(r) for r in raw], kind="incremental",
                                     source=f"connector:{connector.pk}", delivery=False)
                renew(run.pk, owner, progress=progress, pages=F("pages") + 1, rows_read=F("rows_read") + len(raw),
                      inserted=F("inserted") + result.inserted, updated=F("updated") + result.updated,
                      deleted=F("deleted") + result.deleted, unchanged=F("unchanged") + result.unchanged)
                if values.later(cursor[0], watermark):
                    watermark = cursor[0]
                    SourceConnector.objects.filter(pk=connector.pk).update(watermark=values.encode(watermark))
            if len(raw) < page_size:
                return FINISHED
    finally:
        conn.close()
