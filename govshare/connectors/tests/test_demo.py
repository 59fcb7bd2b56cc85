"""The demo 前置库 and its connector (wired into the demo builder by the lead)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govshare.connectors.choices import RunStatus
from govshare.connectors.demo import build_demo_connector
from govshare.connectors.tests.sources import person
from govshare.datasets.models import Dataset
from govshare.datasets.services import load_rows
from govshare.registry.models import AllowedHost

pytestmark = pytest.mark.django_db


def test_demo_connector_pulls_and_reconciles(dataset: Dataset, provider: Any, tmp_path: Path, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(tmp_path / "connect")]}
    load_rows(actor=provider, dataset=dataset, rows=[
        {"id_number": p[0], "person_name": p[1], "gender": p[2], "birth_date": p[3], "current_address": p[4]}
        for p in (person(n) for n in range(1, 41))])
    connector = build_demo_connector(dataset=dataset, actor=provider, home=tmp_path, new_rows=5)
    assert Path(connector.database).is_relative_to(tmp_path / "connect") and Path(connector.database).exists()
    assert AllowedHost.objects.filter(node=dataset.node, host="127.0.0.1", purpose="connector").exists()
    runs = {r.kind: r for r in connector.runs.all()}
    assert runs["pull"].status == RunStatus.SUCCEEDED and runs["pull"].inserted == 5
    report = runs["reconcile"].report
    assert runs["reconcile"].status == RunStatus.SUCCEEDED, runs["reconcile"].error
    assert report["drifted"]["count"] == 1 and len(report["drifted"]["sample_keys"]) == 1
    assert report["deleted_at_source"]["count"] == 0 and report["missing_on_platform"]["count"] == 0
    assert Dataset.objects.get(pk=dataset.pk).row_count == 45
    assert build_demo_connector(dataset=dataset, actor=provider, home=tmp_path) == connector  # idempotent
