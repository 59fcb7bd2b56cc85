"""Data-plane settings: keys of ``settings.GOVSHARE`` (DESIGN.md: every number is a setting)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "DATAPLANE_TIMESTAMP_WINDOW_SECONDS": 300,
    "DATAPLANE_MAX_BODY_BYTES": 1024 * 1024,
    "DATAPLANE_MAX_KEYS": 100,
    "DATAPLANE_PAGE_SIZE": 50,
    "DATAPLANE_MAX_PAGE_SIZE": 500,
    "DATAPLANE_SCAN_BUDGET": 5000,
    "DATAPLANE_VERIFY_ENUMERATION_THRESHOLD": 3,
    "DATAPLANE_CACHE_MAX_AGE_SECONDS": 60,
    "DATAPLANE_AUDIT_GROUP_COMMIT": True,
    "DATAPLANE_AUDIT_WAIT_SECONDS": 10,
    "DATAPLANE_PURGE_INTERVAL_SECONDS": 60,
    "DATAPLANE_COUNTER_RETENTION_DAYS": 2,
    "DATAPLANE_FILE_CHUNK_BYTES": 64 * 1024,
    "DATAPLANE_FILE_PAGE_ROWS": 2000,
    "DATAPLANE_ADMISSION_SYNCHRONOUS_COMMIT": True,  # read by limits._synchronous() per batch
}


@dataclass(frozen=True, slots=True)
class Conf:
    timestamp_window: int
    max_body_bytes: int
    max_keys: int
    page_size: int
    max_page_size: int
    scan_budget: int
    enumeration_threshold: int
    cache_max_age: float
    audit_group_commit: bool
    audit_wait: float
    purge_interval: float
    counter_retention_days: int
    file_chunk_bytes: int
    file_page_rows: int
    node_code: str


def get_conf() -> Conf:
    """Read once per request (cheap), so a changed setting applies at once, tests included."""
    g: dict[str, Any] = getattr(settings, "GOVSHARE", {})

    def v(name: str) -> Any:
        return g.get(name, DEFAULTS[name])

    return Conf(
        timestamp_window=int(v("DATAPLANE_TIMESTAMP_WINDOW_SECONDS")),
        max_body_bytes=int(v("DATAPLANE_MAX_BODY_BYTES")),
        max_keys=int(v("DATAPLANE_MAX_KEYS")),
        page_size=int(v("DATAPLANE_PAGE_SIZE")),
        max_page_size=int(v("DATAPLANE_MAX_PAGE_SIZE")),
        scan_budget=int(v("DATAPLANE_SCAN_BUDGET")),
        enumeration_threshold=int(v("DATAPLANE_VERIFY_ENUMERATION_THRESHOLD")),
        cache_max_age=float(v("DATAPLANE_CACHE_MAX_AGE_SECONDS")),
        audit_group_commit=bool(v("DATAPLANE_AUDIT_GROUP_COMMIT")),
        audit_wait=float(v("DATAPLANE_AUDIT_WAIT_SECONDS")),
        purge_interval=float(v("DATAPLANE_PURGE_INTERVAL_SECONDS")),
        counter_retention_days=int(v("DATAPLANE_COUNTER_RETENTION_DAYS")),
        file_chunk_bytes=int(v("DATAPLANE_FILE_CHUNK_BYTES")),
        file_page_rows=int(v("DATAPLANE_FILE_PAGE_ROWS")),
        node_code=str(g.get("NODE_CODE", "")),
    )
