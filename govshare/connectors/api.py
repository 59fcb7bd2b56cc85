"""REST API of the connectors app (django-ninja router mounted at /api/v1/connectors)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["connectors"])
