from __future__ import annotations

from django.db import models


class AuthzEpoch(models.Model):
    """A single counter bumped by every change that affects authorization (credential, grant, suspension).

    Data-plane processes read it once per request and drop their caches when it moved, so revocation and
    suspension take effect on the very next call in every process."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.value)
