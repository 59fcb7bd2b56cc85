"""``govshare bench``: the command runs a scenario of ``benchmarks/`` in its own process on a throw-away SQLite
database and writes the JSON and the Markdown report with the DESIGN.md §7 target it measures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="未知场景"):
        call_command("bench", "--only", "dataplane,warp", "--out", str(tmp_path))
    assert not (tmp_path / "bench.json").exists()


def test_postgresql_needs_a_server_url(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--database-url"):
        call_command("bench", "--engines", "postgresql", "--out", str(tmp_path))


@pytest.mark.slow
def test_quick_audit_run_writes_json_and_markdown(tmp_path: Path) -> None:
    call_command("bench", "--quick", "--only", "audit", "--out", str(tmp_path))
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["failed"] == {}
    audit = report["results"]["audit-sqlite"]
    # at least the --quick seal size (5000 events) was sealed and verified, at a positive rate
    assert audit["seal_verify"]["events"] >= 5000
    assert audit["seal_verify"]["seal_events_per_s"] > 0 and audit["peak_rss_mb"] > 0
    [target] = report["targets"]
    assert target["engine"] == "sqlite" and target["target"].startswith("audit seal / verify")
    markdown = (tmp_path / "bench.md").read_text()
    assert "## Targets" in markdown and "### Audit log — sqlite" in markdown
