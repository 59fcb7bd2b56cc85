"""Fixtures of the subscription tests (the world and the receiver are in world.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from govshare.exchange.dataplane import app as dp_app
from govshare.exchange.dataplane import limits
from govshare.subscriptions.tests.world import Received, Receiver, World


@pytest.fixture(name="world")
def world_fixture(city: Any, provider: Any, consumer: Any, data_office: Any) -> World:
    return World(city, provider, consumer, data_office)


@pytest.fixture(autouse=True)
def _fresh_dataplane() -> None:
    dp_app.application.cache.clear()
    limits.reset_purge_clock()


@pytest.fixture(autouse=True)
def _fast_retries(settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SUBSCRIPTION_BACKOFF_BASE_SECONDS": 0,
                         "SUBSCRIPTION_WEBHOOK_TIMEOUT_SECONDS": 5}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = rec.answer()
            item = Received(key=self.headers.get("X-GS-Idempotency-Key", ""),
                            timestamp=self.headers.get("X-GS-Timestamp", ""),
                            signature=self.headers.get("X-GS-Signature", ""), body=body, status=status)
            with rec.lock:
                rec.requests.append(item)
                hang = rec.hang_at is not None and len(rec.requests) == rec.hang_at
            rec.arrived.set()
            if hang:
                rec.release.wait(60)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
