"""Export files and their offline verification (no database, no Django)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from govshare.audit.export import export_file
from govshare.audit.models import AuditEvent, NodeKey
from govshare.audit.offline import main as offline_main
from govshare.audit.offline import verify_export
from govshare.audit.seal import seal_pending
from govshare.core.crypto import get_sm2_provider

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[3]


def _key() -> str:
    return NodeKey.objects.get(active=True).public_key


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in lines),
                    encoding="utf-8")


@pytest.fixture
def exported(make_events: Callable, tmp_path: Path) -> Path:
    make_events(12)
    seal_pending(block_events=5)
    make_events(2)  # unsealed
    path = tmp_path / "audit.jsonl"
    result = export_file(path, actor="test")
    assert (result.blocks, result.events, result.unsealed) == (3, 12, 2)
    return path


def test_export_is_self_contained_and_verifies_offline(exported: Path) -> None:
    lines = _lines(exported)
    assert lines[0]["type"] == "header" and lines[0]["keys"][0]["public_key"] == _key()
    assert [x["type"] for x in lines].count("block") == 3 and lines[-1]["type"] == "end"
    report = verify_export(exported, pinned_keys=[_key()])
    assert report.ok, report.lines()
    assert (report.blocks, report.events_checked, report.unsealed_count) == (3, 12, 2)
    assert report.node == "445100"
    assert AuditEvent.objects.filter(action="audit.export").count() == 1


def test_offline_without_pinned_key_warns(exported: Path) -> None:
    report = verify_export(exported)
    assert report.ok and report.key_source == "file" and any("pinned" in w for w in report.warnings)


def test_wrong_pinned_key_fails(exported: Path) -> None:
    _, other = get_sm2_provider().generate_keypair()
    report = verify_export(exported, pinned_keys=[other])
    assert not report.ok and {p.kind for p in report.problems} == {"bad_signature"}


def test_tampered_event_is_located(exported: Path, tmp_path: Path) -> None:
    lines = _lines(exported)
    target = [x for x in lines if x["type"] == "event"][6]
    target["canonical"] = target["canonical"].replace('"action":"test.event"', '"action":"test.forged"')
    bad = tmp_path / "bad.jsonl"
    _write(bad, lines)
    report = verify_export(bad, pinned_keys=[_key()])
    assert not report.ok
    assert report.first_bad_seq == target["seq"]
    assert {p.kind for p in report.problems} == {"modified", "file_malformed"}  # and the end-line SM3


def test_removed_event_and_cut_file_are_found(exported: Path, tmp_path: Path) -> None:
    lines = _lines(exported)
    events = [x for x in lines if x["type"] == "event"]
    gone = events[3]
    _write(tmp_path / "gone.jsonl", [x for x in lines if x is not gone])
    report = verify_export(tmp_path / "gone.jsonl", pinned_keys=[_key()])
    assert report.first_bad_seq == gone["seq"]
    assert {"deleted", "file_truncated"} <= {p.kind for p in report.problems}
    _write(tmp_path / "cut.jsonl", lines[:-1])
    cut = verify_export(tmp_path / "cut.jsonl", pinned_keys=[_key()])
    assert [p.kind for p in cut.problems] == ["file_truncated"]


def test_relabelled_seq_is_found(exported: Path, tmp_path: Path) -> None:
    lines = _lines(exported)
    events = [x for x in lines if x["type"] == "event"]
    events[2]["seq"] += 1000
    _write(tmp_path / "relabel.jsonl", lines)
    report = verify_export(tmp_path / "relabel.jsonl", pinned_keys=[_key()])
    assert not report.ok and "file_malformed" in {p.kind for p in report.problems}


def test_partial_and_gzip_exports(make_events: Callable, tmp_path: Path) -> None:
    events = make_events(20)
    seal_pending(block_events=5)
    path = tmp_path / "part.jsonl.gz"
    result = export_file(path, from_seq=events[7].seq, to_seq=events[11].seq)
    assert result.blocks == 2 and result.events == 10  # widened to whole blocks
    report = verify_export(path, pinned_keys=[_key()])
    assert report.ok, report.lines()
    with pytest.raises(ValueError):
        export_file(tmp_path / "x.jsonl", from_seq=5, to_seq=2)


def test_heads_file_against_export(exported: Path, heads_file: Path, tmp_path: Path) -> None:
    assert verify_export(exported, pinned_keys=[_key()], heads_path=heads_file).ok
    # an export made after the tail was cut: the heads file knows more blocks
    lines = _lines(exported)
    last_block = max(i for i, x in enumerate(lines) if x["type"] == "block")
    short = [*lines[:last_block], {"type": "end"}]
    counts = {t: sum(1 for x in short if x["type"] == t) for t in ("block", "event")}
    from govshare.core.crypto import sm3_hasher

    hasher = sm3_hasher()
    for x in short[:-1]:
        hasher.update((json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
    short[-1] = {"type": "end", "blocks": counts["block"], "events": counts["event"], "unsealed": 0,
                 "sm3": hasher.finalize().hex()}
    _write(tmp_path / "short.jsonl", short)
    alone = verify_export(tmp_path / "short.jsonl", pinned_keys=[_key()])
    assert alone.ok, alone.lines()
    report = verify_export(tmp_path / "short.jsonl", pinned_keys=[_key()], heads_path=heads_file)
    assert report.truncated and [p.kind for p in report.problems] == ["heads_ahead"]


def test_offline_verifier_runs_without_django(exported: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "node.pub"
    key_file.write_text(f"# 潮州市节点公钥\n{_key()}\n")
    code = (
        "import sys, runpy\n"
        "from govshare.audit import offline\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'\n"
        "sys.exit(offline.main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env["PYTHONPATH"] = str(REPO)
    run = subprocess.run([sys.executable, "-c", code, str(exported), "--pinned-key-file", str(key_file), "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["ok"] is True
    assert offline_main([str(exported), "--pinned-key", _key()]) == 0
    assert offline_main([str(tmp_path / "missing.jsonl")]) == 2
