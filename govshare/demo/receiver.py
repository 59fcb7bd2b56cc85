"""The demo's webhook receiver: stands in for a consuming department's system that subscribes to changes.

It runs beside the demo server (a thread of the ``govshare demo`` process), checks each delivery's HMAC-SM3
signature with the subscription secret the demo stored for it, drops a delivery whose idempotency key it has
already seen (at-least-once delivery + dedupe = each change applied once), and keeps what it received in a
SQLite file under ``GOVSHARE_HOME/connect/`` so a newcomer can open it:

- ``deliveries(idempotency_key PRIMARY KEY, received_at, first_seq, last_seq, count)``
- ``records(key PRIMARY KEY, data)`` — the consumer's copy of the granted, masked view.

Not for production: a real receiver is the consumer's own system.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings

from govshare.core.crypto import hmac_sm3_verify

log = logging.getLogger("govshare.demo")

PATH = "/hook"


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=10)
    conn.execute("CREATE TABLE IF NOT EXISTS deliveries (idempotency_key TEXT PRIMARY KEY, received_at REAL, "
                 "first_seq INTEGER, last_seq INTEGER, count INTEGER)")
    conn.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, data TEXT)")
    return conn


class Receiver:
    """A threaded HTTP server on 127.0.0.1 accepting signed deliveries at ``/hook``."""

    def __init__(self, db: Path, secret_file: Path, port: int = 0) -> None:
        self.db = db
        self.secret_file = secret_file
        _connect(db).close()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver.accept(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("demo receiver: " + format, *args)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="demo-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _secret(self) -> bytes | None:
        try:
            return str(json.loads(self.secret_file.read_text())["secret"]).encode()
        except (OSError, ValueError, KeyError):
            return None

    def accept(self, path: str, headers: dict[str, str], body: bytes) -> int:
        if path.split("?")[0] != PATH:
            return 404
        lower = {k.lower(): v for k, v in headers.items()}
        secret = self._secret()
        stamp, signature = lower.get("x-gs-timestamp", ""), lower.get("x-gs-signature", "")
        if secret is None or not hmac_sm3_verify(secret, stamp.encode() + b"\n" + body, signature):
            return 401
        key = lower.get("x-gs-idempotency-key", "")
        if not key:
            return 400
        try:
            batch = json.loads(body)
        except ValueError:
            return 400
        with _connect(self.db) as conn:
            seen = conn.execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?)",
                                (key, time.time(), batch.get("first_seq"), batch.get("last_seq"),
                                 len(batch.get("changes", [])))).rowcount == 0
            if not seen:  # a re-sent batch (same key) was applied already
                for change in batch.get("changes", []):
                    if change.get("op") == "delete":
                        conn.execute("DELETE FROM records WHERE key = ?", (change["key"],))
                    else:
                        conn.execute("INSERT INTO records VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET data = "
                                     "excluded.data", (change["key"], json.dumps(change.get("data"),
                                                                                 ensure_ascii=False)))
        return 200


def receiver_paths() -> tuple[Path, Path]:
    """(database, secret file) of the demo receiver under ``GOVSHARE_HOME/connect``."""
    folder = Path(settings.GOVSHARE_HOME) / "connect"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "demo_receiver.sqlite3", folder / "demo_receiver_secret.json"


def start_demo_receiver(port: int) -> Receiver:
    db, secret = receiver_paths()
    return Receiver(db, secret, port=port).start()


def save_secret(secret: str) -> None:
    """The demo builder stores the webhook subscription's secret (shown once) for the receiver."""
    _, path = receiver_paths()
    path.write_text(json.dumps({"secret": secret}))
    path.chmod(0o600)
