"""REST API of the baselibs app (django-ninja router mounted at /api/v1/baselibs)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["baselibs"])
