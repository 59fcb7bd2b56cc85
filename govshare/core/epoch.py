"""The authorization epoch: bumped in the same transaction as any change to who may call what."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from govshare.core.models.epoch import AuthzEpoch


def bump_authz_epoch() -> None:
    """Invalidate every data-plane process's credential and grant cache (inside the caller's transaction)."""
    assert transaction.get_connection().in_atomic_block
    if not AuthzEpoch.objects.filter(pk=1).update(value=F("value") + 1):
        AuthzEpoch.objects.get_or_create(pk=1, defaults={"value": 1})


def current_epoch() -> int:
    return int(AuthzEpoch.objects.filter(pk=1).values_list("value", flat=True).first() or 0)
