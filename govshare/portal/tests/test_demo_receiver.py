"""The demo webhook receiver: signed deliveries accepted once per idempotency key, bad signatures refused."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from govshare.core.crypto import hmac_sm3_hex
from govshare.demo.receiver import Receiver


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback test server
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    (tmp_path / "secret.json").write_text(json.dumps({"secret": "s3cret"}))
    r = Receiver(tmp_path / "rx.sqlite3", tmp_path / "secret.json").start()
    yield r
    r.stop()


def _signed(body: bytes, key: str, secret: bytes = b"s3cret") -> dict[str, str]:
    stamp = "1700000000"
    return {"X-GS-Timestamp": stamp, "X-GS-Signature": hmac_sm3_hex(secret, stamp.encode() + b"\n" + body),
            "X-GS-Idempotency-Key": key, "Content-Type": "application/json"}


def test_receiver_applies_each_batch_once(receiver: Receiver) -> None:
    batch = {"first_seq": 1, "last_seq": 2, "changes": [
        {"seq": 1, "op": "upsert", "key": "A", "data": {"name": "张*"}},
        {"seq": 2, "op": "upsert", "key": "B", "data": {"name": "李*"}}]}
    body = json.dumps(batch).encode()
    assert _post(receiver.url, body, _signed(body, "sub:1-2")) == 200
    assert _post(receiver.url, body, _signed(body, "sub:1-2")) == 200  # a re-sent batch
    delete = json.dumps({"first_seq": 3, "last_seq": 3, "changes": [{"seq": 3, "op": "delete", "key": "A"}]}).encode()
    assert _post(receiver.url, delete, _signed(delete, "sub:3-3")) == 200
    with sqlite3.connect(receiver.db) as conn:
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 2
        assert conn.execute("SELECT key FROM records").fetchall() == [("B",)]


def test_receiver_refuses_a_bad_signature(receiver: Receiver) -> None:
    body = b'{"changes": []}'
    assert _post(receiver.url, body, _signed(body, "k", secret=b"wrong")) == 401
    with sqlite3.connect(receiver.db) as conn:
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
