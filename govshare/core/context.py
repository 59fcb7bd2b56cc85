"""Per-request context: the acting principal and the request id, carried in contextvars."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_request_id: ContextVar[str] = ContextVar("govshare_request_id", default="")
_client_ip: ContextVar[str] = ContextVar("govshare_client_ip", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def get_request_id() -> str:
    rid = _request_id.get()
    if not rid:
        rid = new_request_id()
        _request_id.set(rid)
    return rid


def get_client_ip() -> str:
    return _client_ip.get()


@contextlib.contextmanager
def request_context(request_id: str | None = None, client_ip: str = "") -> Iterator[str]:
    rid = request_id or new_request_id()
    t1 = _request_id.set(rid)
    t2 = _client_ip.set(client_ip)
    try:
        yield rid
    finally:
        _request_id.reset(t1)
        _client_ip.reset(t2)


def client_ip_from_meta(meta: dict[str, Any]) -> str:
    return str(meta.get("REMOTE_ADDR", ""))
