"""REST API of the subscriptions app (django-ninja router mounted at /api/v1/subscriptions)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["subscriptions"])
