"""Sending one batch: a signed webhook POST, or one transaction on the consumer's table (库表推送).

Both check the destination against the outbound allowlist on every send (:mod:`govshare.registry.netpolicy`;
DNS may have changed since the subscription was made) and connect to the addresses the check resolved.

Webhook signature (docs/subscriptions.md)::

    X-GS-Timestamp: <unix seconds>
    X-GS-Signature: hex(HMAC-SM3(secret, timestamp + "\\n" + body))
    X-GS-Idempotency-Key: <subscription id>:<first_seq>-<last_seq>   (snapshot pages: …:snapshot-<seq>:<page>)
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from govshare.connectors import drivers
from govshare.registry import netpolicy
from govshare.subscriptions.signing import signature

USER_AGENT = "govshare-subscriptions/1"
RESPONSE_READ_LIMIT = 64 * 1024


class SendFailed(Exception):
    """The batch was not delivered; the message is safe to show and store (no secret, no password)."""


@dataclass(frozen=True)
class Item:
    seq: int
    op: str  # upsert | delete
    key: str  # the key as delivered (a pseudonym when the key item is not granted plain)
    data: dict[str, Any] | None


def webhook_body(*, subscription: str, resource: str, first_seq: int, last_seq: int, snapshot: bool,
                 items: Sequence[Item]) -> bytes:
    payload = {"subscription": subscription, "resource": resource, "snapshot": snapshot, "first_seq": first_seq,
               "last_seq": last_seq,
               "changes": [{"seq": i.seq, "op": i.op, "key": i.key, "data": i.data} for i in items]}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to an address the allowlist check resolved, with the URL's host name in the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a resolved address; the certificate is verified against the URL's host name (SNI too)."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post_webhook(*, url: str, secret: str, body: bytes, idempotency_key: str, node: Any, timeout: float,
                 extra_headers: dict[str, str] | None = None) -> int:
    """POST ``body``; answers the HTTP status of a 2xx. Redirects are not followed (a 3xx is a failure)."""
    try:
        addresses = netpolicy.check_url(url, purpose="webhook", node=node, field="url")
    except Exception as exc:  # ValidationFailed: no longer on the allowlist, or cannot be resolved
        raise SendFailed(f"目标地址未通过白名单检查 (url refused): {getattr(exc, 'message', exc)}"[:300]) from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "X-GS-Idempotency-Key": idempotency_key, "X-GS-Timestamp": timestamp,
               "X-GS-Signature": signature(secret, timestamp, body), **(extra_headers or {})}
    last = "no address"
    for address in addresses:
        conn: http.client.HTTPConnection = (
            _PinnedHTTPS(host, port, address, timeout, ssl.create_default_context()) if https
            else _PinnedHTTP(host, port, address, timeout))
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read(RESPONSE_READ_LIMIT)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        finally:
            conn.close()
        if 200 <= status < 300:
            return status
        raise SendFailed(f"接收方返回 HTTP {status} (receiver answered {status})")
    raise SendFailed(f"无法连接接收方 (could not reach the receiver): {last}"[:300])


def write_table(*, endpoint: drivers.Endpoint, table: str, key_column: str, columns: Sequence[str],
                items: Sequence[Item], node: Any, timeout: float) -> None:
    """Apply the batch in ONE transaction on the consumer's database: upserts by key, deletes by key (both
    idempotent, so a resent batch leaves the same table). ``columns`` are the granted items; the key column
    holds the delivered key."""
    try:
        conn = drivers.connect(endpoint, purpose="connector", node=node, timeout=timeout)
    except Exception as exc:  # ValidationFailed (allowlist) or ConnectionFailed (already scrubbed)
        reason = getattr(exc, "message", exc)
        raise SendFailed(f"无法连接目标库 (sink refused or unreachable): {reason}"[:300]) from None
    names = [key_column, *[c for c in columns if c != key_column]]
    try:
        upsert = drivers.upsert_sql(endpoint.engine, table, names, key_column)
        delete = drivers.delete_sql(endpoint.engine, table, key_column)
        cursor = conn.cursor()
        for item in items:
            if item.op == "delete":
                cursor.execute(delete, [item.key])
            else:
                data = item.data or {}
                cursor.execute(upsert, [item.key, *[data.get(c) for c in names[1:]]])
        conn.commit()
    except drivers.driver_errors() as exc:
        _rollback(conn)
        raise SendFailed(f"写入目标表失败 (sink write failed): {drivers.scrub_error(exc, endpoint)}"[:300]) from None
    except Exception:
        _rollback(conn)
        raise
    finally:
        try:
            conn.close()
        except Exception:  # noqa: S110 - closing a broken connection
            pass


def _rollback(conn: Any) -> None:
    try:
        conn.rollback()
    except Exception:  # noqa: S110 - the connection may already be gone; the transaction is then void anyway
        pass
