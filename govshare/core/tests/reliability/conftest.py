"""Fixtures of the reliability tests: a demo city built once per test session (per backend), copied per test.

The demo is built by a subprocess into a home below pytest's base temporary directory (shared by xdist workers,
built once under a file lock); on PostgreSQL into the database ``<DATABASE_URL's name>_reltpl`` on the same
server, copied per test with ``CREATE DATABASE … TEMPLATE``. While iterating, point
``GOVSHARE_RELIABILITY_DEMO_HOME`` (and on PostgreSQL ``GOVSHARE_RELIABILITY_DEMO_DB``) at a demo built before
with ``python -m govshare.core.testing_processes build-demo`` to skip the build. Each test gets its own home and
database (:class:`govshare.core.testing_processes.Node`), dropped afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govshare.core.testing_processes import Backend, Node, build_demo

DEMO_PEOPLE = 200
DEMO_COMPANIES = 50


@dataclass
class DemoTemplate:
    node: Node
    summary: dict[str, Any]
    lock: Path


@dataclass
class City:
    """A copy of the demo city for one test: its node and the demo summary (logins, credentials, verify example)."""

    node: Node
    summary: dict[str, Any]

    def credential(self) -> dict[str, str]:
        """The data-plane credential of the demo's verify example (the first one the demo prints)."""
        return dict(self.summary["credentials"][0])


def _shared_dir(factory: pytest.TempPathFactory) -> Path:
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplate]:
    backend = Backend.from_env()
    prebuilt = os.environ.get("GOVSHARE_RELIABILITY_DEMO_HOME")
    if prebuilt:  # a demo built before (testing_processes build-demo): saves the build while iterating
        home = Path(prebuilt)
        node = Node(home=home, backend=backend, database=os.environ.get("GOVSHARE_RELIABILITY_DEMO_DB", ""))
        summary = json.loads((home / "demo-summary.json").read_text(encoding="utf-8"))
        yield DemoTemplate(node, summary, home / ".clone.lock")
        return
    shared = _shared_dir(tmp_path_factory) / "reliability-demo"
    shared.mkdir(parents=True, exist_ok=True)
    lock = shared / ".lock"
    users = shared / "users"  # how many pytest processes (xdist workers) use the template now
    summary_file = shared / "home" / "demo-summary.json"
    database = f"{backend.base_name}_reltpl" if backend.vendor == "postgresql" else ""
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if summary_file.exists():
            node = Node(home=shared / "home", backend=backend, database=database)
        else:
            node = Node.create(shared / "home", backend=backend, database=database)
            build_demo(node, people=DEMO_PEOPLE, companies=DEMO_COMPANIES)
        users.write_text(str(int(users.read_text() or 0) + 1 if users.exists() else 1))
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    yield DemoTemplate(node, summary, lock)
    with open(lock, "w") as fh:  # the last user drops the template database (a later one would build it again)
        fcntl.flock(fh, fcntl.LOCK_EX)
        left = int(users.read_text() or 1) - 1
        users.write_text(str(left))
        if left == 0:
            summary_file.unlink(missing_ok=True)
            node.destroy()


@pytest.fixture
def demo_city(demo_template: DemoTemplate, tmp_path: Path) -> Iterator[City]:
    with open(demo_template.lock, "w") as fh:  # one copy at a time: PostgreSQL refuses a busy template
        fcntl.flock(fh, fcntl.LOCK_EX)
        node = demo_template.node.clone(tmp_path / "home")
    # The demo's connector source and subscription sink are SQLite files in its home (``connect/``): point the
    # copy at its own copies of them.
    old, new = str(demo_template.node.home), str(node.home)
    node.execute("UPDATE subscriptions_subscription SET sink_database = REPLACE(sink_database, %s, %s)", (old, new))
    node.execute("UPDATE connectors_sourceconnector SET database = REPLACE(database, %s, %s)", (old, new))
    try:
        yield City(node, demo_template.summary)
    finally:
        node.destroy()
