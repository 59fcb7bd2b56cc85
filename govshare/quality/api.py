"""REST API of the quality app (django-ninja router mounted at /api/v1/quality)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["quality"])
