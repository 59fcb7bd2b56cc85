"""The demo helper leaves disputes in every state (some overdue and escalated), rules and a full quality pass."""

from __future__ import annotations

import pytest

from govshare.accounts.models import User
from govshare.datasets.changes import changes_since
from govshare.datasets.models import ChangeBatch, Dataset
from govshare.quality.choices import DisputeStatus
from govshare.quality.demo import build_demo_disputes
from govshare.quality.models import Dispute, QualityIssue, QualityRule, QualityRun
from govshare.quality.tests.conftest import build_world

pytestmark = pytest.mark.django_db


def test_demo_disputes_in_every_state(seeded: None, data_office: User, provider: User, consumer: User) -> None:
    w = build_world(office=data_office, provider=provider, consumer=consumer, rows=80)
    lines: list[str] = []
    out = build_demo_disputes(node=w.dataset.node, say=lines.append)
    assert all(out["by_status"][s] >= 1 for s in DisputeStatus.values), out["by_status"]
    assert out["rules"] == 3 and QualityRule.objects.count() == 3
    assert out["runs"] == 1 and QualityRun.objects.filter(kind="full").count() == 1
    assert out["sprinkled"] == 24 and out["rows_failing"] >= 24
    assert QualityIssue.objects.filter(kind="cross_field").exists()
    assert out["escalated"] == 2 and out["reminded"] == 1
    escalated = Dispute.objects.filter(escalated_at__isnull=False)
    assert {d.status for d in escalated} == {"submitted", "accepted"}
    corrected = Dispute.objects.get(pk=out["disputes"]["corrected"])
    batch = ChangeBatch.objects.get(batch_id=corrected.correction_batch_id)
    (change,) = changes_since(dataset=Dataset.objects.get(pk=w.dataset.pk), after=batch.first_seq - 1, limit=1)
    assert change.key == corrected.record_key and change.old != change.data
    assert Dispute.objects.get(pk=out["disputes"]["reopened"]).reopen_count == 1
    assert Dispute.objects.filter(origin="quality").count() == 1
    assert any("疑义数据" in line for line in lines)
