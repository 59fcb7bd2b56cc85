"""The fair baselines of DESIGN.md §7, as minimal WSGI callables served by the same gunicorn as the data plane.

- ``lookup_audit``: parse the JSON body, the same indexed lookup as the data plane
  (:func:`govshare.exchange.dataplane.records.fetch_by_keys`: one ``IN`` query on dataset, generation and key,
  plus the grant's row filter), the same durable audit insert (``record_event`` in autocommit: INSERT + COMMIT
  of one event and its key reference), a JSON answer. No signature, nonce, counters, masking or routing.
- ``lookup``: the same without the audit insert (the bare lookup).
- ``static``: a fixed 20-byte JSON answer, no database: the ceiling of the server + load generator pair.

The grant (resource, items, row filter) is read once per worker from the data plane's own cache, after the fork.
Environment: ``BENCH_APP_KEY`` and ``BENCH_RESOURCE`` name the credential and the resource.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]
_JSON = [("Content-Type", "application/json; charset=utf-8")]


def _read(environ: dict[str, Any]) -> dict[str, Any]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    payload: dict[str, Any] = json.loads(raw)
    return payload


class LookupApp:
    def __init__(self, *, audit: bool) -> None:
        self.audit = audit
        self.grant: Any = None

    def _grant(self) -> Any:
        if self.grant is None:
            from govshare.exchange.dataplane.app import application as dp
            from govshare.exchange.dataplane.cache import read_epoch

            snap = dp.cache.snapshot(read_epoch(), 3600)
            cred = snap.credential(os.environ["BENCH_APP_KEY"])
            assert cred is not None
            self.grant = snap.grants_for(cred.system_id, os.environ["BENCH_RESOURCE"])[0]
        return self.grant

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        from govshare.audit.services import record_event
        from govshare.exchange.dataplane import audit, records

        grant = self._grant()
        payload = _read(environ)
        keys = payload.get("keys") or [payload["key"]]
        found = records.fetch_by_keys(grant, keys)
        if "claims" in payload:
            data = next(iter(found.values()), {})
            answer: dict[str, Any] = {"ok": True, "matches": {k: str(data.get(k, "")) == str(v)
                                                              for k, v in payload["claims"].items()}}
        else:
            answer = {"ok": True, "count": len(found), "records": [{"key": k, "data": d} for k, d in found.items()]}
        if self.audit:
            record_event(actor="baseline", action="baseline.call", target_type="grant", target_id=grant.id,
                         data={"key_hmacs": [audit.key_hmac(k) for k in keys], "resource": grant.resource.code})
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        start_response("200 OK", [*_JSON, ("Content-Length", str(len(body)))])
        return [body]


def static_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    body = b'{"ok": true, "x": 1}'
    start_response("200 OK", [*_JSON, ("Content-Length", str(len(body)))])
    return [body]


def make_app(name: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    if name == "static":
        return static_app
    if name == "lookup":
        return LookupApp(audit=False)
    if name == "lookup_audit":
        return LookupApp(audit=True)
    raise ValueError(name)
