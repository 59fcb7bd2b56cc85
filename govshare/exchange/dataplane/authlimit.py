"""Throttling of failed authentications on the data plane (DESIGN.md §4 "credential brute force throttled").

Every failed signature or unknown AppKey is counted per AppKey and per client address per minute in
``exchange.AuthFailure`` (shared by all server processes). From ``GOVSHARE['DATAPLANE_AUTH_FAILURES_PER_MINUTE']``
failures in the current minute on, requests from that AppKey or that address are answered ``429
over_auth_failure_limit`` with ``Retry-After`` *before* the signature is checked, so guessing a secret costs a
minute per handful of tries. Each refused request is still audited by the caller (app.py)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from govshare.exchange.dataplane.responses import DataPlaneError
from govshare.exchange.models import AuthFailure

DEFAULT_LIMIT = 20
KEEP = dt.timedelta(minutes=5)
COUNTED = frozenset({"bad_signature", "unknown_app_key"})


def _limit() -> int:
    return int(settings.GOVSHARE.get("DATAPLANE_AUTH_FAILURES_PER_MINUTE", DEFAULT_LIMIT))


def _buckets(app_key: str, address: str, now: dt.datetime) -> list[str]:
    stamp = now.strftime("%Y%m%d%H%M")
    out = [f"a:{address[:64]}:{stamp}"] if address else []
    if app_key:
        out.append(f"k:{app_key[:64]}:{stamp}")
    return out


def check(*, app_key: str, address: str, now: dt.datetime) -> None:
    """Refuse before any signature work when the AppKey or the address is over the limit this minute."""
    limit = _limit()
    if limit <= 0:
        return
    buckets = _buckets(app_key, address, now)
    if AuthFailure.objects.filter(bucket__in=buckets, count__gte=limit).exists():
        retry = 60 - now.second
        raise DataPlaneError("over_auth_failure_limit", details={"limit_per_minute": limit},
                             headers=[("Retry-After", str(retry))])


def record(*, app_key: str, address: str, now: dt.datetime) -> None:
    """Count one failure (its own short transaction: it must stay even though the request fails)."""
    minute = now.replace(second=0, microsecond=0)
    with transaction.atomic():
        for bucket in _buckets(app_key, address, now):
            if AuthFailure.objects.filter(bucket=bucket).update(count=F("count") + 1):
                continue
            try:
                with transaction.atomic():
                    AuthFailure.objects.create(bucket=bucket, count=1, minute=minute)
            except IntegrityError:  # another process created it meanwhile
                AuthFailure.objects.filter(bucket=bucket).update(count=F("count") + 1)
        AuthFailure.objects.filter(minute__lt=minute - KEEP).delete()
