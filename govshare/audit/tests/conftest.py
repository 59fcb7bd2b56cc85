from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.audit.pytest_plugin import _audit_append_only_triggers  # noqa: F401 - autouse fixture
from govshare.audit.services import record_event

# The apps transactional audit tests need (their flush then touches only these tables).
AUDIT_APPS = ["django.contrib.contenttypes", "govshare.core", "govshare.audit"]


@pytest.fixture(autouse=True)
def audit_settings(settings: Any, tmp_path: Path) -> Path:
    """A private heads file per test (tests roll the database back; the file would remember)."""
    heads = tmp_path / "audit" / "heads.jsonl"
    settings.GOVSHARE = {
        **settings.GOVSHARE,
        "NODE_CODE": "445100",
        "AUDIT_HEADS_FILE": str(heads),
        "AUDIT_SEAL_SETTLE_SECONDS": 0,
        "AUDIT_SEAL_MAX_WAIT_SECONDS": 2,
    }
    return heads


@pytest.fixture
def heads_file(audit_settings: Path) -> Path:
    return audit_settings


@pytest.fixture
def auditor(city: testing.Node) -> User:
    return testing.user(Role.AUDIT_ADMIN, at=city)


@pytest.fixture
def make_events(db: None) -> Callable[..., list[AuditEvent]]:
    def make(n: int, *, action: str = "test.event", **kw: Any) -> list[AuditEvent]:
        return [record_event(actor=f"tester-{i}", action=action, target_type="thing", target_id=str(i),
                             data={"i": i, "名称": "数据共享", **kw.get("data", {})})
                for i in range(n)]

    return make
