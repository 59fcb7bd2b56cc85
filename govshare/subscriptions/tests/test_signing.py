"""The webhook signature: the worked example of docs/subscriptions.md is computed by this code, and the
verification helper refuses tampering and stale timestamps."""

from __future__ import annotations

from pathlib import Path

from govshare.subscriptions.senders import Item, webhook_body
from govshare.subscriptions.signing import signature, verify

DOC_SECRET = "whsec-Example-Do-Not-Use-0001"
DOC_SIGNATURE = "8168e8ed530a2c15e8f08b045d1bdd21f2232dadc4182e0d6737037008c79822"


def doc_body() -> bytes:
    return webhook_body(subscription="3f0c1a52-8d2e-4b7a-9c1e-2f5d6a7b8c9d", resource="445100/101001/000001",
                        first_seq=13, last_seq=15, snapshot=False, items=[
                            Item(13, "upsert", "445102198001020016", {"id_number": "445102198001020016",
                                                                     "person_name": "张*", "gender": "男"}),
                            Item(15, "delete", "445102198001060019", None)])


def test_documented_example() -> None:
    body = doc_body()
    assert len(body) == 341
    assert signature(DOC_SECRET, "1735689600", body) == DOC_SIGNATURE
    text = (Path(__file__).resolve().parents[3] / "docs" / "subscriptions.md").read_text(encoding="utf-8")
    assert DOC_SIGNATURE in text and body.decode("utf-8") in text and "341 bytes" in text


def test_verify_refuses_tampering_and_stale_timestamps() -> None:
    body = doc_body()
    assert verify(DOC_SECRET, "1735689600", body, DOC_SIGNATURE.upper(), now=1735689600 + 299)
    assert not verify(DOC_SECRET, "1735689600", body, DOC_SIGNATURE, now=1735689600 + 301)
    assert not verify(DOC_SECRET, "1735689600", body.replace(b"13,", b"14,", 1), DOC_SIGNATURE, now=1735689600)
    assert not verify("other", "1735689600", body, DOC_SIGNATURE, now=1735689600)
    assert not verify(DOC_SECRET, "1735689601", body, DOC_SIGNATURE, now=1735689600)
    assert not verify(DOC_SECRET, "-1", body, DOC_SIGNATURE, now=0)
