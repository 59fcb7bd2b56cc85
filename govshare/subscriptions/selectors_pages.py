"""Read helpers of the subscription portal pages (permission-checked like :mod:`.selectors`).

- :func:`pull_grants`: the grants a consumer department may pull changes with (``GET /dp/v1/changes``); the
  platform keeps no cursor for a pull (the consumer's system does), so the page shows the dataset's latest seq.
- :func:`grants_for_new_subscription`: the grants the user may create a push subscription on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from govshare.datasets.models import Dataset
from govshare.exchange.choices import ExchangeMode, GrantStatus
from govshare.exchange.models import Grant
from govshare.exchange.selectors import grants_visible_to
from govshare.subscriptions.services import is_consumer_side


@dataclass(frozen=True)
class PullGrant:
    grant: Grant
    latest_seq: int | None  # None: the resource has no dataset yet

    @property
    def resource_code(self) -> str:
        return str(self.grant.resource.code)


def _subscription_grants(user: Any) -> QuerySet[Grant]:
    dept = getattr(user, "department_id", None)
    if not dept:
        return Grant.objects.none()
    return grants_visible_to(user).filter(consumer_id=dept).order_by("resource__code", "created_at")


def pull_grants(user: Any) -> list[PullGrant]:
    """Grants of the user's department (as consumer) that allow the subscription mode, with the latest seq of
    their dataset (two queries whatever the number of grants)."""
    grants = [g for g in _subscription_grants(user) if ExchangeMode.SUBSCRIPTION in (g.modes or [])]
    seqs = dict(Dataset.objects.filter(resource_id__in=[g.resource_id for g in grants])
                .values_list("resource_id", "last_seq"))
    return [PullGrant(g, seqs.get(g.resource_id)) for g in grants]


def grants_for_new_subscription(user: Any) -> list[Grant]:
    """Active grants of the user's department allowing subscription, when the user may manage subscriptions."""
    if not is_consumer_side(user, getattr(user, "department_id", None)):
        return []
    return [g for g in _subscription_grants(user).filter(status=GrantStatus.ACTIVE)
            if ExchangeMode.SUBSCRIPTION in (g.modes or []) and g.resource.sensitivity < 4]
