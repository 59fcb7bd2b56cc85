"""Load for the reliability tests, through the public surface of a running server: incremental batches (the
management API, as the provider), data-plane verify calls (signed, as a consumer system) and portal pages.

Every client keeps what the server acknowledged, so a test can check afterwards that nothing acknowledged was
lost and nothing was applied twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from govshare.client import GovshareClient, GovshareError, urllib_transport
from govshare.core.testing_processes import Node, WebSession
from govshare.demo.city import DEMO_PASSWORD
from govshare.demo.people import people_rows

PEOPLE = "人口基本信息"
REFS = {"operator": "综合窗口01", "case_number": "BJ2026-0001", "item_code": "11445100MB2C0871XY",
        "purpose": "政务服务事项受理核验身份"}


def dataset_of(node: Node, resource_name: str) -> tuple[str, str]:
    """(dataset id, provider username) of the demo resource called ``resource_name``."""
    rows = node.query(
        "SELECT d.id, u.username FROM datasets_dataset d JOIN catalog_resource r ON r.id = d.resource_id "
        "JOIN accounts_user u ON u.department_id = r.provider_id AND u.role = 'provider' "
        "WHERE r.name = %s ORDER BY u.username", (resource_name,))
    assert rows, f"no dataset for {resource_name}"
    raw = str(rows[0][0])
    dataset_id = raw if "-" in raw else f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return dataset_id, str(rows[0][1])


def lift_limits(node: Node) -> None:
    """Raise the demo grants' rate limit and quotas (600 calls a minute, 5 verify calls per key and day) above what a
    load test sends: otherwise the limiter answers 429, as it should, and the test measures the limiter."""
    node.execute("UPDATE exchange_grant SET rate_limit_per_minute = 1000000, daily_quota = 100000000, "
                 "verify_quota_per_key = 1000000")


def new_people(start: int, count: int) -> list[dict[str, Any]]:
    """Residents ``start`` … ``start + count - 1`` of the demo's generator: valid records the demo (200 people)
    does not hold yet."""
    rows = list(people_rows(start + count))
    return rows[start:]


@dataclass
class Ingest:
    """Posts batches ``{prefix}-0`` … ``{prefix}-{n-1}`` (``per`` new residents each) in order; a batch whose answer
    did not arrive (server killed, connection refused, 5xx) is sent again with the same batch id until it is
    acknowledged — the client side of "idempotent by batch_id"."""

    node: Node
    base_url: Callable[[], str]
    prefix: str
    batches: int
    per: int = 5
    start: int = 1000
    acked: dict[int, dict[str, Any]] = field(default_factory=dict)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.dataset_id, self.username = dataset_of(self.node, PEOPLE)
        self.rows = new_people(self.start, self.batches * self.per)

    def records(self, i: int) -> list[dict[str, Any]]:
        return self.rows[i * self.per:(i + 1) * self.per]

    def run(self, stop: threading.Event, *, pace: float = 0.0) -> None:
        session: WebSession | None = None
        try:
            for i in range(self.batches):
                body = {"batch_id": f"{self.prefix}-{i}", "upserts": self.records(i)}
                while i not in self.acked:
                    if stop.is_set():
                        return
                    try:
                        if session is None:
                            session = WebSession(self.base_url(), timeout=30)
                            session.sign_in(self.username, DEMO_PASSWORD)
                        status, data = session.request("POST", f"/api/v1/datasets/{self.dataset_id}/batches", body)
                    except OSError as exc:  # killed mid-request, or not up again yet
                        self.retries += 1
                        self.errors.append(f"{i}: {type(exc).__name__}")
                        session = None
                        time.sleep(0.2)
                        continue
                    if status in (200, 201):
                        self.acked[i] = data
                    elif status >= 500 or status == 403:  # 403: CSRF cookie lost with a half-done sign-in
                        self.retries += 1
                        self.errors.append(f"{i}: HTTP {status}")
                        session = None
                        time.sleep(0.2)
                    else:
                        raise AssertionError(f"batch {i} refused: {status} {data}")
                if pace:
                    time.sleep(pace)
        finally:
            self.done.set()


@dataclass
class Verifier:
    """Data-plane verify calls in a loop; keeps the request id of every call answered 200 (each has an audit
    event, committed before the answer) and counts failures by kind."""

    credential: dict[str, str]
    example: dict[str, str]
    base_url: Callable[[], str]
    ok_ids: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def once(self) -> bool:
        gs = GovshareClient(self.base_url(), self.credential["app_key"], self.credential["app_secret"],
                            transport=urllib_transport(timeout=30), **REFS)
        started = time.perf_counter()
        try:
            answer = gs.verify(self.example["resource"], self.example["key"],
                               {"person_name": self.example["name"]})
        except GovshareError as exc:
            kind = f"HTTP {exc.status} {exc.code}"
            self.failures[kind] = self.failures.get(kind, 0) + 1
            return False
        except OSError as exc:
            kind = type(exc).__name__
            self.failures[kind] = self.failures.get(kind, 0) + 1
            return False
        self.latencies.append(time.perf_counter() - started)
        assert answer["all_match"] is True, answer
        request_id = {k.lower(): v for k, v in gs.last_headers.items()}.get("x-gs-request-id", "")
        assert request_id, gs.last_headers
        self.ok_ids.append(request_id)
        return True

    def run(self, stop: threading.Event, *, pace: float = 0.0) -> None:
        while not stop.is_set():
            if not self.once():
                time.sleep(0.2)
            elif pace:
                time.sleep(pace)
