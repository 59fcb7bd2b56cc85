"""REST API of the licences app (django-ninja router mounted at /api/v1/licences)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["licences"])
