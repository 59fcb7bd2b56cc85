"""Read helpers of the connector portal pages (on top of :mod:`.selectors`: the providing department only).

:func:`connector_rows` gives each visible connector with its last pull and its last reconciliation (and that
run's report) in two queries, whatever the number of connectors; :func:`mountable_datasets` the datasets a user
may register a connector for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from govshare.connectors.choices import RunKind
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.selectors import PROVIDER_SIDE, connectors_visible_to, runs_of
from govshare.datasets.models import Dataset

DIFF_KINDS = ("missing_on_platform", "deleted_at_source", "drifted")


@dataclass(frozen=True)
class ConnectorRow:
    connector: SourceConnector
    last_pull: ConnectorRun | None
    last_reconcile: ConnectorRun | None

    @property
    def differences(self) -> dict[str, int | None]:
        """Counts of the last reconciliation report (None when there is none)."""
        report = (self.last_reconcile.report or {}) if self.last_reconcile else {}
        return {k: (report.get(k) or {}).get("count") if report else None for k in DIFF_KINDS}


def _last(kind: str) -> Subquery:
    return Subquery(ConnectorRun.objects.filter(connector=OuterRef("pk"), kind=kind)
                    .order_by("-started_at", "-id").values("id")[:1])


def connector_rows(user: Any, *, dataset_id: Any = None) -> list[ConnectorRow]:
    qs = connectors_visible_to(user).annotate(last_pull_id=_last(RunKind.PULL),
                                              last_reconcile_id=_last(RunKind.RECONCILE)).order_by("name", "pk")
    if dataset_id is not None:
        qs = qs.filter(dataset_id=dataset_id)
    connectors = list(qs)
    ids = {i for c in connectors for i in (c.last_pull_id, c.last_reconcile_id) if i}
    runs = {r.pk: r for r in ConnectorRun.objects.filter(pk__in=ids)}
    return [ConnectorRow(c, runs.get(c.last_pull_id), runs.get(c.last_reconcile_id))
            for c in connectors]


def mountable_datasets(user: Any) -> QuerySet[Dataset]:
    """Mounted datasets of the user's providing department (provider staff, department administrator)."""
    if getattr(user, "role", None) not in PROVIDER_SIDE or not getattr(user, "department_id", None):
        return Dataset.objects.none()
    return (Dataset.objects.filter(resource__provider_id=user.department_id).select_related("resource")
            .order_by("resource__code"))


def run_of(user: Any, connector: SourceConnector, run_id: Any) -> ConnectorRun | None:
    """One run of a connector the user can see (None otherwise)."""
    return runs_of(user, connector).filter(pk=run_id).first()
