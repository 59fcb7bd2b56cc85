"""``govshare audit seal|verify|export|verify-file|status|public-key``."""
# ruff: noqa: S608 - tests play a database administrator with raw SQL on fixed table names

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from govshare.audit import triggers
from govshare.audit.models import AuditEvent, NodeKey, VerificationRun
from govshare.core.crypto import get_sm2_provider

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_seal_and_verify(make_events: Callable, tmp_path: Path) -> None:
    make_events(6)
    code, text = run("seal", "--block-events", "4")
    assert code == 0 and "封存 (sealed): 6 条事件 (events)，2 个区块 (blocks)" in text
    code, key = run("public-key")
    key = key.strip()
    assert code == 0 and key == NodeKey.objects.get().public_key
    code, text = run("verify", "--pinned-key", key)
    assert code == 0 and "结果 (result): 通过 (OK)" in text and "固定公钥 (pinned key)" in text
    key_file = tmp_path / "node.pub"
    key_file.write_text(key + "\n")
    code, text = run("verify", "--pinned-key-file", str(key_file), "--json")
    data = json.loads(text)
    assert code == 0 and data["ok"] and data["sealed"]["events"] == 6 and data["unsealed"]["count"] == 1
    assert VerificationRun.objects.count() == 2
    assert AuditEvent.objects.filter(action="audit.verify").count() == 2


def test_verify_reports_problems_with_exit_code_1(make_events: Callable) -> None:
    events = make_events(5)
    run("seal")
    triggers.uninstall(connection)
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{AuditEvent._meta.db_table}" SET "result" = %s WHERE "seq" = %s',
                       ["denied", events[2].seq])
    code, text = run("verify", "--pinned-key", NodeKey.objects.get().public_key, "--no-record")
    assert code == 1
    assert f"第一个异常事件 (first bad event): seq {events[2].seq}" in text
    assert "事件内容被修改 (event content was changed)" in text
    assert VerificationRun.objects.count() == 0
    _, other = get_sm2_provider().generate_keypair()
    code, text = run("verify", "--pinned-key", other, "--json", "--no-record")
    assert code == 1 and any(p["kind"] == "bad_signature" for p in json.loads(text)["problems"])
    with pytest.raises(CommandError):
        run("verify", "--pinned-key", "04zz")


def test_export_and_verify_file(make_events: Callable, tmp_path: Path) -> None:
    events = make_events(8)
    run("seal", "--block-events", "3")
    path = tmp_path / "out" / "audit.jsonl"
    code, text = run("export", str(path), "--from-seq", str(events[0].seq), "--to-seq", str(events[-1].seq))
    assert code == 0 and path.exists() and "SM3:" in text
    key = NodeKey.objects.get().public_key
    code, text = run("verify-file", str(path), "--pinned-key", key)
    assert code == 0 and "通过 (OK)" in text
    path.write_text(path.read_text().replace("test.event", "test.evenT", 1))
    code, _ = run("verify-file", str(path), "--pinned-key", key)
    assert code == 1
    with pytest.raises(CommandError):
        run("verify-file", str(tmp_path / "none.jsonl"))
    with pytest.raises(CommandError):
        run("export", str(path), "--from-seq", "9", "--to-seq", "1")


def test_status(make_events: Callable) -> None:
    make_events(3)
    run("seal")
    make_events(1)
    code, text = run("status", "--json")
    data = json.loads(text)
    assert code == 0 and data["sealed"]["blocks"] == 1 and data["unsealed"]["count"] == 1
    code, text = run("status")
    assert "未封存 (unsealed): 1 条 (events)" in text
