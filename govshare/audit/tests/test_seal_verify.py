"""Sealing and verification against the database, including a malicious DBA's edits."""
# ruff: noqa: S608 - tests play a database administrator with raw SQL on fixed table names

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection, transaction

from govshare.audit import heads, seal, store, triggers
from govshare.audit.chain import (
    GENESIS_HEAD,
    TAG_SIZE,
    canonical_row,
    checkpoint_message,
    covered_seqs,
    event_digest,
    fold_step,
    key_id_for,
    verify_checkpoint,
)
from govshare.audit.models import AuditBlock, AuditEvent, AuditKeyRef, NodeKey, VerificationRun
from govshare.audit.seal import seal_pending
from govshare.audit.services import audit_key_hmac, record_event
from govshare.audit.verify import record_run, verify_chain
from govshare.core.crypto import decrypt_secret, get_sm2_provider

pytestmark = pytest.mark.django_db
EVENTS = AuditEvent._meta.db_table


def _sql(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def _as_dba(sql: str, params: list[object] | None = None) -> None:
    """What a malicious database administrator does: drop the triggers, then edit."""
    triggers.uninstall(connection)
    _sql(sql, params)


def _pinned() -> list[str]:
    return [NodeKey.objects.get(active=True).public_key]


def _kinds(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.kind for p in report.problems}


def test_nothing_to_seal(db: None) -> None:
    result = seal_pending()
    assert result.blocks == [] and result.events == 0
    report = verify_chain()
    assert report.ok and report.blocks == 0 and any("nothing sealed" in w for w in report.warnings)


def test_seal_creates_a_signed_block_and_verifies(make_events: Callable, heads_file: Path) -> None:
    events = make_events(5)
    result = seal_pending()
    assert result.events == 5 and len(result.blocks) == 1 and result.unsealed == 0
    block = AuditBlock.objects.get()
    assert block.number == 1 and block.first_seq == 1 and block.prev_head == GENESIS_HEAD
    assert block.last_seq == events[-1].seq and block.count == 5
    assert block.count + sum(b - a + 1 for a, b in block.gaps) == block.last_seq - block.first_seq + 1
    key = NodeKey.objects.get()
    assert key.node_code == "445100" and key.private_key.startswith("sm4v1:")
    assert verify_checkpoint(key.public_key, "445100", block.last_seq, block.head, block.signature)
    # the private key is envelope-encrypted and matches the public key
    private_hex = decrypt_secret(key.private_key, purpose="node_sm2").decode()
    sig = get_sm2_provider().sign(private_hex, key.public_key, checkpoint_message("445100", 1, "x"))
    assert get_sm2_provider().verify(key.public_key, checkpoint_message("445100", 1, "x"), sig)
    # one heads line per block, outside the database
    line = json.loads(heads_file.read_text().splitlines()[0])
    assert line["number"] == 1 and line["head"] == block.head and line["public_key"] == key.public_key
    report = verify_chain(pinned_keys=_pinned())
    assert report.ok, report.lines()
    assert report.key_source == "pinned" and report.sealed_events == 5 and report.events_checked == 5
    assert report.sealed_last_seq == events[-1].seq and report.heads_checked == 1


def test_blocks_chain_and_unsealed_tail(make_events: Callable) -> None:
    make_events(7)
    result = seal_pending(block_events=3)
    assert [b["count"] for b in result.blocks] == [3, 3, 1]
    blocks = list(AuditBlock.objects.order_by("number"))
    for prev, nxt in itertools.pairwise(blocks):
        assert nxt.prev_head == prev.head and nxt.first_seq == prev.last_seq + 1
    tail = make_events(2)
    report = verify_chain(pinned_keys=_pinned())
    assert report.ok and report.blocks == 3
    assert report.unsealed_count == 2
    assert (report.unsealed_first_seq, report.unsealed_last_seq) == (tail[0].seq, tail[1].seq)
    assert "未封存尾部 (unsealed tail): 2" in "\n".join(report.lines())
    again = seal_pending(max_events=1)
    assert again.events == 1 and again.unsealed == 1


def test_default_key_source_warns_and_wrong_pinned_key_fails(make_events: Callable) -> None:
    make_events(3)
    seal_pending()
    report = verify_chain()
    assert report.ok and report.key_source == "database"
    assert any("pinned" in w for w in report.warnings)
    _, other = get_sm2_provider().generate_keypair()
    bad = verify_chain(pinned_keys=[other])
    assert not bad.ok and _kinds(bad) == {"bad_signature"} and bad.first_bad_seq is None


def test_changed_row_is_found_and_located(make_events: Callable) -> None:
    events = make_events(20)
    seal_pending(block_events=8)
    victim = events[11]
    _as_dba(f'UPDATE "{EVENTS}" SET "target_id" = %s WHERE "seq" = %s', ["forged", victim.seq])
    report = verify_chain(pinned_keys=_pinned())
    assert not report.ok
    assert report.first_bad_seq == victim.seq
    assert {p.kind for p in report.problems} >= {"modified", "triggers_missing"}
    modified = [p for p in report.problems if p.kind == "modified"]
    assert [p.seq for p in modified] == [victim.seq] and modified[0].block == 2
    assert f"第一个异常事件 (first bad event): seq {victim.seq}" in report.lines()


def test_changed_json_data_is_found(make_events: Callable) -> None:
    events = make_events(4)
    seal_pending()
    _as_dba(f'UPDATE "{EVENTS}" SET "data" = %s WHERE "seq" = %s', ['{"i": 999}', events[2].seq])
    report = verify_chain(pinned_keys=_pinned())
    assert report.first_bad_seq == events[2].seq


def test_changed_row_and_its_tag_still_fails_at_block_level(make_events: Callable) -> None:
    events = make_events(6)
    seal_pending()
    _as_dba(f'UPDATE "{EVENTS}" SET "action" = %s WHERE "seq" = %s', ["forged", events[3].seq])
    # ... and rewrites the event's tag in the block to match the forged row
    block = AuditBlock.objects.get()
    row = next(store.event_rows(events[3].seq, events[3].seq))
    tags = bytearray(bytes(block.tags))
    index = list(covered_seqs(block.first_seq, block.last_seq, block.gaps)).index(events[3].seq)
    tags[index * TAG_SIZE:(index + 1) * TAG_SIZE] = event_digest(canonical_row(row))[:TAG_SIZE]
    _sql(f'UPDATE "{AuditBlock._meta.db_table}" SET "tags" = %s', [bytes(tags)])
    report = verify_chain(pinned_keys=_pinned())
    assert "block_modified" in _kinds(report)
    assert report.first_bad_seq == block.first_seq  # located to the block


def test_deleted_row_in_the_middle_is_found(make_events: Callable) -> None:
    events = make_events(10)
    seal_pending()
    _as_dba(f'DELETE FROM "{EVENTS}" WHERE "seq" IN (%s, %s)', [events[4].seq, events[5].seq])
    report = verify_chain(pinned_keys=_pinned())
    deleted = [p for p in report.problems if p.kind == "deleted"]
    assert [(p.seq, p.seq_end) for p in deleted] == [(events[4].seq, events[5].seq)]
    assert report.first_bad_seq == events[4].seq and not report.truncated


def test_deleted_sealed_tail_is_detected(make_events: Callable) -> None:
    events = make_events(10)
    seal_pending()
    _as_dba(f'DELETE FROM "{EVENTS}" WHERE "seq" >= %s', [events[7].seq])
    report = verify_chain(pinned_keys=_pinned())
    assert report.truncated and not report.ok
    assert "truncated_tail" in _kinds(report) and "deleted" not in _kinds(report)
    assert report.first_bad_seq == events[7].seq


def test_deleted_tail_with_its_blocks_is_detected_by_the_heads_file(make_events: Callable, heads_file: Path) -> None:
    events = make_events(9)
    seal_pending(block_events=3)
    assert heads.last_number(heads_file) == 3
    # The DBA removes the last block and its events: the database alone looks consistent ...
    _as_dba(f'DELETE FROM "{AuditBlock._meta.db_table}" WHERE "number" = 3')
    _sql(f'DELETE FROM "{EVENTS}" WHERE "seq" >= %s', [events[6].seq])
    triggers.install(connection)
    # (a fresh heads file would not know: only SQLite's sequence counter gives it away)
    alone = verify_chain(pinned_keys=_pinned(), heads_path=heads_file.parent / "elsewhere.jsonl")
    assert {p.kind for p in alone.problems} <= {"sequence_ahead"}
    # ... but the heads kept outside the database know block 3
    report = verify_chain(pinned_keys=_pinned())
    ahead = [p for p in report.problems if p.kind == "heads_ahead"]
    assert report.truncated and len(ahead) == 1 and ahead[0].block == 3 and ahead[0].seq == events[6].seq


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_deleted_unsealed_tail_on_sqlite_shows_in_the_sequence_counter(make_events: Callable) -> None:
    events = make_events(5)
    seal_pending()
    make_events(3)
    _as_dba(f'DELETE FROM "{EVENTS}" WHERE "seq" > %s', [events[-1].seq])
    report = verify_chain(pinned_keys=_pinned())
    assert report.truncated and "sequence_ahead" in _kinds(report)


def test_heads_file_mismatch_and_forged_lines(make_events: Callable, heads_file: Path) -> None:
    make_events(4)
    seal_pending(block_events=2)
    lines = heads_file.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["head"] = "ab" * 32  # a forged line without a valid signature is ignored with a warning
    forged = dict(rec, number=5, first_seq=100, last_seq=120)
    heads_file.write_text("\n".join([lines[0], json.dumps(rec), json.dumps(forged), "garbage"]) + "\n")
    report = verify_chain(pinned_keys=_pinned())
    assert report.ok, report.lines()
    assert sum("no valid signature" in w for w in report.warnings) == 2
    assert any("unreadable" in w for w in report.warnings)


def test_rewritten_block_breaks_signature_and_link(make_events: Callable) -> None:
    make_events(6)
    seal_pending(block_events=3)
    _as_dba(f'UPDATE "{AuditBlock._meta.db_table}" SET "head" = %s WHERE "number" = 1', ["cd" * 32])
    report = verify_chain(pinned_keys=_pinned())
    kinds = _kinds(report)
    assert {"bad_signature", "chain_break", "heads_mismatch"} <= kinds
    assert "block_modified" in kinds  # the recomputed head differs from the stored one


def test_row_inserted_into_a_gap_is_found(make_events: Callable) -> None:
    first = make_events(2)
    if connection.vendor == "postgresql":
        # a rolled-back insert leaves a hole in the identity sequence
        with pytest.raises(RuntimeError), transaction.atomic():
            record_event(actor=None, action="test.rolled_back")
            raise RuntimeError
    else:
        # SQLite reuses rolled-back seqs; a hole there means a deleted row
        record_event(actor=None, action="test.deleted")
        _as_dba(f'DELETE FROM "{EVENTS}" WHERE "action" = %s', ["test.deleted"])
        triggers.install(connection)
    later = make_events(2)
    result = seal_pending()
    assert result.gaps >= 1
    block = AuditBlock.objects.get()
    hole = later[0].seq - 1
    assert hole > first[-1].seq and [hole, hole] in block.gaps
    clean = verify_chain(pinned_keys=_pinned())
    if connection.vendor == "postgresql":
        assert clean.ok, clean.lines()  # a rolled-back seq is not a problem
    else:
        assert [p.kind for p in clean.problems] == ["sqlite_gap"] and clean.first_bad_seq == hole
    _as_dba(
        f'INSERT INTO "{EVENTS}" ("seq", "occurred_at", "actor_type", "actor_id", "actor_label", "actor_role", '
        '"node_code", "department_id", "action", "target_type", "target_id", "result", "request_id", '
        '"client_ip", "data") SELECT %s, "occurred_at", "actor_type", "actor_id", "actor_label", "actor_role", '
        f'"node_code", "department_id", %s, "target_type", "target_id", "result", "request_id", "client_ip", '
        f'"data" FROM "{EVENTS}" WHERE "seq" = %s',
        [hole, "test.backdated", first[0].seq],
    )
    report = verify_chain(pinned_keys=_pinned())
    inserted = [p for p in report.problems if p.kind == "inserted"]
    assert [p.seq for p in inserted] == [hole] and report.first_bad_seq == hole


def test_key_index_rows_are_checked(db: None) -> None:
    record_event(actor=None, action="data.query", data={"key_hmacs": [audit_key_hmac("A1"), audit_key_hmac("B2")]})
    seal_pending()
    assert verify_chain(pinned_keys=_pinned()).ok
    _as_dba(f'DELETE FROM "{AuditKeyRef._meta.db_table}"')
    report = verify_chain(pinned_keys=_pinned())
    assert "keyref_mismatch" in _kinds(report) and report.first_bad_seq is None


def test_missing_triggers_are_a_problem(make_events: Callable) -> None:
    make_events(1)
    seal_pending()
    triggers.uninstall(connection)
    report = verify_chain(pinned_keys=_pinned())
    assert [p.kind for p in report.problems] == ["triggers_missing"]


def test_concurrent_sealer_loses_cleanly(make_events: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    make_events(3)
    seal_pending()
    make_events(2)
    monkeypatch.setattr(seal, "last_block", lambda using="default": None)  # a sealer with a stale view
    result = seal_pending()
    assert result.conflict and result.blocks == []
    assert AuditBlock.objects.count() == 1


def test_heads_file_is_repaired_after_a_crash(make_events: Callable, heads_file: Path) -> None:
    make_events(4)
    seal_pending(block_events=2)
    heads_file.write_text(heads_file.read_text().splitlines()[0] + "\n")  # lost the second line
    assert seal.sync_heads_file() == 1
    assert heads.last_number(heads_file) == 2


def test_record_run_keeps_the_outcome_and_audits_it(make_events: Callable) -> None:
    make_events(2)
    seal_pending()
    report = verify_chain(pinned_keys=_pinned())
    run = record_run(report, actor="cli:test")
    assert VerificationRun.objects.get() == run and run.ok and run.key_source == "pinned"
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None and event.action == "audit.verify" and event.target_id == str(run.pk)


def test_database_rows_encode_like_the_reference(db: None) -> None:
    import datetime as dt

    from govshare.audit.chain import canonical_event

    whole = AuditEvent.objects.create(occurred_at=dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.UTC),
                                      actor_type="system", action="test.whole", data={"b": [1, {"z": None}], "a": "甲"})
    fine = record_event(actor="x", action="test.fine", data={"k": 1.5, "引号": 'say "hi"\n'})
    for event in (whole, fine):
        event.refresh_from_db()
        row = next(store.event_rows(event.seq, event.seq))
        fields = {f: getattr(event, f) for f in ("seq", "occurred_at", "action", "actor_id", "actor_label",
                                                  "actor_role", "actor_type", "client_ip", "data", "department_id",
                                                  "node_code", "request_id", "result", "target_id", "target_type")}
        assert canonical_row(row) == canonical_event(fields)


def test_a_forged_chain_under_a_replaced_key_fails_only_with_the_pinned_key(make_events: Callable) -> None:
    events = make_events(4)
    seal_pending()
    pinned = _pinned()
    # The DBA changes an event, recomputes the block and signs it with a key of their own.
    _as_dba(f'UPDATE "{EVENTS}" SET "action" = %s WHERE "seq" = %s', ["forged", events[1].seq])
    block = AuditBlock.objects.get()
    head = bytes.fromhex(block.prev_head)
    tags = b""
    for row in store.event_rows(block.first_seq, block.last_seq):
        digest = event_digest(canonical_row(row))
        head, tags = fold_step(head, digest), tags + digest[:TAG_SIZE]
    private_hex, public_hex = get_sm2_provider().generate_keypair()
    key_id = key_id_for(public_hex)
    signature = get_sm2_provider().sign(private_hex, public_hex,
                                        checkpoint_message(block.node_code, block.last_seq, head.hex())).hex()
    _sql(f'UPDATE "{AuditBlock._meta.db_table}" SET "head" = %s, "tags" = %s, "signature" = %s, "key_id" = %s',
         [head.hex(), tags, signature, key_id])
    _sql(f'UPDATE "{NodeKey._meta.db_table}" SET "key_id" = %s, "public_key" = %s', [key_id, public_hex])
    triggers.install(connection)
    fooled = verify_chain(heads_path=Path("/nonexistent/heads.jsonl"))
    assert fooled.ok and fooled.key_source == "database"  # the database vouches for itself ...
    caught = verify_chain(pinned_keys=pinned, heads_path=Path("/nonexistent/heads.jsonl"))
    assert [p.kind for p in caught.problems] == ["bad_signature"]  # ... the pinned key does not
    assert not verify_chain(pinned_keys=pinned).ok  # and the heads file disagrees as well
