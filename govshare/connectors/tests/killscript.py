"""Helper process for the kill -9 test (run as ``python -m govshare.connectors.tests.killscript VERB ...``).

It uses the platform database named by the environment (DATABASE_URL, or the SQLite file in GOVSHARE_HOME),
already migrated, which a real ``govshare worker`` process shares with it.

- ``setup SOURCE_DB TABLE``: build a provider with a mounted dataset, the allowlist entry and a
  connector on the slow PostgreSQL source (every page waits in ``pg_sleep``); prints JSON ids.
- ``resume``: let the leases of running runs pass (as time would), run dispatcher passes until nothing is
  running or due, and print what the platform holds and what the change log says, as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Any


def _setup(source_db: str, table: str) -> dict[str, Any]:
    from govshare import testing
    from govshare.accounts.choices import Role
    from govshare.connectors import services
    from govshare.connectors.config import Config
    from govshare.connectors.tests.conftest import ITEMS
    from govshare.connectors.tests.sources import COLUMN_MAP
    from govshare.datasets.services import mount_resource
    from govshare.registry.services import add_allowed_host

    city = testing.node("445100", name="潮州市", level="city")
    dept = testing.department(city, name="市公安局")
    office = testing.user(Role.DATA_OFFICE, at=city, dept=testing.department(city, name="数据局", is_data_office=True))
    provider = testing.user(Role.PROVIDER, dept=dept)
    resource = testing.resource(dept, name="人口基本信息", items=ITEMS, publish_by=office, update_cycle="realtime")
    dataset = mount_resource(actor=provider, resource=resource)
    add_allowed_host(actor=None, node=city, host="127.0.0.1", purpose="connector")
    query = (f"SELECT sfzh, xm, xb, csrq, xzz, gxsj FROM {table} "  # noqa: S608 - test table name
             "CROSS JOIN (SELECT pg_sleep(0.15)) AS slow")
    connector = services.create_connector(actor=provider, dataset=dataset, config=Config(
        name="慢速前置库", engine="postgresql", host="127.0.0.1", port=5432, database=source_db, user="postgres",
        password="", source_query=query, column_map=COLUMN_MAP, key_column="sfzh", incremental_column="gxsj",
        page_size=10))
    return {"connector": str(connector.pk), "dataset": str(dataset.pk)}


def _resume() -> dict[str, Any]:
    from django.utils import timezone

    from govshare.connectors.choices import RunStatus
    from govshare.connectors.dispatch import dispatch
    from govshare.connectors.models import ConnectorRun, SourceConnector
    from govshare.datasets.changes import iter_live_records
    from govshare.datasets.models import ChangeBatch, Dataset, DatasetChange

    running = list(ConnectorRun.objects.filter(status=RunStatus.RUNNING).values("pk", "pages", "lease_owner"))
    ConnectorRun.objects.filter(status=RunStatus.RUNNING).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1))  # the dead worker's lease has passed
    passes = []
    for _ in range(10):
        passes.append(dispatch(budget_seconds=120))
        if not ConnectorRun.objects.filter(status=RunStatus.RUNNING).exists():
            break
    connector = SourceConnector.objects.get()
    dataset = Dataset.objects.get(pk=connector.dataset_id)
    changes = list(DatasetChange.objects.filter(dataset=dataset).values_list("seq", "key", "op"))
    return {
        "running_before": running,
        "passes": passes,
        "runs": list(ConnectorRun.objects.order_by("id").values("pk", "status", "pages", "rows_read", "inserted",
                                                                "attempts", "lost_leases", "error")),
        "rows": {k: d for k, d in iter_live_records(dataset=dataset)},
        "row_count": dataset.row_count,
        "last_seq": dataset.last_seq,
        "changes": changes,
        "batches": list(ChangeBatch.objects.filter(dataset=dataset).order_by("first_seq").values_list(
            "batch_id", "first_seq", "last_seq", "inserted")),
    }


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    import django

    django.setup()
    if argv[0] == "setup":
        out = _setup(argv[1], argv[2])
    elif argv[0] == "resume":
        out = _resume()
    else:
        raise SystemExit(f"unknown verb {argv[0]}")
    print(json.dumps(out, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
