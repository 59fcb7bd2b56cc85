"""Read helpers of the quality portal pages (permission-checked, on top of :mod:`.selectors`).

- :func:`dispute_grants` / :func:`dispute_grant`: the active grants a consumer may raise a dispute from, with the
  items each grant covers (the service checks the grant, item and row filter again);
- :func:`correction_form_data`: for the providing department only, the disputed record's current values and the
  items a correction may change (the key never);
- :func:`correction_changes`: the numbered changes a correction wrote to the dataset's change log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from govshare.core.errors import NotFound
from govshare.datasets.changes import Change, changes_since, live_records
from govshare.datasets.models import ChangeBatch, Dataset
from govshare.datasets.validation import Column, columns_for
from govshare.exchange.choices import GrantStatus
from govshare.exchange.models import Grant
from govshare.quality.models import Dispute
from govshare.quality.services.common import is_consumer_side, is_provider_side


@dataclass(frozen=True)
class DisputeGrant:
    grant: Grant
    dataset: Dataset
    items: list[tuple[str, str]]  # (column name, item name) the grant covers


def _active_grants(user: Any) -> QuerySet[Grant]:
    if not is_consumer_side(user):
        return Grant.objects.none()
    today = timezone.localdate()
    return (Grant.objects.filter(consumer_id=user.department_id, status=GrantStatus.ACTIVE, valid_from__lte=today,
                                 valid_to__gte=today)
            .select_related("resource__published_version", "resource__provider").prefetch_related("items")
            .order_by("resource__code", "created_at"))


def dispute_grants(user: Any) -> list[DisputeGrant]:
    """Active grants of the user's department (consumer side) whose resource is mounted."""
    grants = list(_active_grants(user))
    datasets = {d.resource_id: d for d in Dataset.objects.filter(resource_id__in=[g.resource_id for g in grants])}
    out = []
    for g in grants:
        dataset = datasets.get(g.resource_id)
        if dataset is None:
            continue
        version = g.resource.published_version
        names = {i["column_name"]: i["name"] for i in (version.snapshot.get("items", []) if version else [])}
        out.append(DisputeGrant(g, dataset, [(i.column_name, names.get(i.column_name, i.column_name))
                                             for i in g.items.all()]))
    return out


def dispute_grant(user: Any, grant_id: Any) -> DisputeGrant:
    found = next((d for d in dispute_grants(user) if str(d.grant.pk) == str(grant_id)), None)
    if found is None:
        raise NotFound("授权不存在 (grant not found)")
    return found


@dataclass(frozen=True)
class CorrectionData:
    columns: list[Column]  # the items a correction may change (never the key)
    current: dict[str, Any]  # the record's live values


def correction_form_data(user: Any, dispute: Dispute) -> CorrectionData | None:
    """The record as it is now, for the providing department of an accepted dispute (None for anyone else, or
    when the record has left the live data)."""
    if not is_provider_side(user, department_id=dispute.provider_id):
        return None
    dataset = Dataset.objects.select_related("resource__published_version").get(pk=dispute.dataset_id)
    record = live_records(dataset=dataset, keys=[dispute.record_key]).get(dispute.record_key)
    if record is None:
        return None
    return CorrectionData([c for c in columns_for(dataset.resource) if not c.is_key], dict(record))


def correction_changes(user: Any, dispute: Dispute) -> list[Change]:
    """The change-log entries written by the dispute's correction (providing department only: the change log
    carries old and new values)."""
    if not dispute.correction_batch_id or not is_provider_side(user, department_id=dispute.provider_id):
        return []
    batch = ChangeBatch.objects.filter(dataset_id=dispute.dataset_id, batch_id=dispute.correction_batch_id).first()
    if batch is None or batch.first_seq > batch.last_seq:
        return []
    rows = changes_since(dataset=dispute.dataset_id, after=batch.first_seq - 1,
                         limit=batch.last_seq - batch.first_seq + 1)
    return [c for c in rows if c.batch_id == dispute.correction_batch_id]
