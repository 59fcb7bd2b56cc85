from __future__ import annotations

import pytest
from django.core.management import call_command

from govshare.core import periodic

pytestmark = pytest.mark.django_db


def test_worker_runs_registered_jobs_once(capsys: pytest.CaptureFixture[str]) -> None:
    names = {j.name for j in periodic.jobs()}
    assert {"exchange.sweep_deadlines", "audit.seal"} <= names
    for job in periodic.jobs():
        job.last_run = 0.0
    call_command("worker", "--once", "--jobs-only")
    out = capsys.readouterr().out
    assert "exchange.sweep_deadlines" in out
    assert all(j.last_run > 0 for j in periodic.jobs())
