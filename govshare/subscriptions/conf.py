"""Subscription settings: keys of ``settings.GOVSHARE`` (every number is a setting), read on every use."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "SUBSCRIPTION_MAX_FAILURES": 10,  # consecutive failed batches before the subscription pauses
    "SUBSCRIPTION_BACKOFF_BASE_SECONDS": 2.0,  # retry after ~2, 4, 8 … seconds
    "SUBSCRIPTION_BACKOFF_CAP_SECONDS": 600.0,  # … at most 10 minutes
    "SUBSCRIPTION_LEASE_SECONDS": 120.0,  # a worker holds a subscription this long per batch (then another may)
    "SUBSCRIPTION_WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "SUBSCRIPTION_SINK_TIMEOUT_SECONDS": 10.0,
    "SUBSCRIPTION_DEFAULT_BATCH_SIZE": 100,
    "SUBSCRIPTION_MAX_BATCH_SIZE": 1000,
    "SUBSCRIPTION_MAX_PER_GRANT": 5,
    "SUBSCRIPTION_DELIVERY_RETENTION_DAYS": 30,  # Delivery rows older than this are purged
    "SUBSCRIPTION_RUN_SECONDS": 20.0,  # one run of the delivery job stops starting batches after this
    "SUBSCRIPTION_GRANT_RECHECK_SECONDS": 60.0,  # a suspended grant (or a delivery that raised) is retried after
    "SUBSCRIPTION_SNAPSHOT_SCAN_BUDGET": 5000,  # rows examined per snapshot page at most
}


def setting(name: str) -> Any:
    return getattr(settings, "GOVSHARE", {}).get(name, DEFAULTS[name])


def number(name: str) -> float:
    return float(setting(name))


def integer(name: str) -> int:
    return int(setting(name))
