"""REST API of the quality app (django-ninja router mounted at /api/v1/quality).

One router (``api_common.router``); the endpoints live in ``api_quality`` (rules, scores, runs, failing rows)
and ``api_disputes`` (疑义数据), imported here so that they are registered before the router is mounted.
"""

from __future__ import annotations

from govshare.quality import api_disputes, api_quality
from govshare.quality.api_common import router

__all__ = ["api_disputes", "api_quality", "router"]
