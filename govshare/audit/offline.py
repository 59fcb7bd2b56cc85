"""Offline verification of an audit export file — no database, no Django.

For auditors (审计管理员) on their own machine::

    python -m govshare.audit.offline audit-2026.jsonl.gz --pinned-key 04ab…  [--heads heads.jsonl] [--json]

It needs only this package's pure modules (:mod:`govshare.audit.chain`, :mod:`.checks`, :mod:`.heads`,
:mod:`.report`) and :mod:`govshare.core.crypto` (``cryptography`` for SM3, Tongsuo or gmssl for SM2).
It checks every block's head from the events in the file, the links between consecutive blocks, each
block's SM2 signature under the pinned key(s), that each event's seq is the one inside its canonical
text, that no line was lost (the ``end`` line's counts and SM3), and optionally the heads recorded
outside the database. Exit code 0 when everything holds, 1 otherwise, 2 for unusable arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from govshare.audit.checks import (
    Problem,
    check_block,
    check_head,
    check_heads_beyond,
    check_link,
    check_signature,
    pinned_key_map,
    problem,
)
from govshare.audit.heads import read_heads
from govshare.audit.report import VerifyReport
from govshare.core.crypto.errors import InvalidKeyError
from govshare.core.crypto.sm3 import sm3_hasher

EXPORT_FORMAT = "govshare-audit-export/1"


def _open(path: Path) -> Any:
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rb")
    return path.open("rb")


def _inner_seq(canonical: str) -> int | None:
    """The top-level ``seq`` of a canonical event: the last unescaped ``"seq":`` (keys are sorted, and
    only the string fields target_id/target_type follow it)."""
    at = canonical.rfind('"seq":')
    if at < 0:
        return None
    end = canonical.find(",", at)
    try:
        return int(canonical[at + 6:end])
    except ValueError:
        return None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with _open(path) as fh:
        yield from enumerate(fh, start=1)


def verify_export(path: Path, *, pinned_keys: list[str] | None = None,
                  heads_path: Path | None = None) -> VerifyReport:
    started = time.perf_counter()
    report = VerifyReport(key_source="pinned" if pinned_keys else "file")
    keys: dict[str, str] = pinned_key_map(pinned_keys) if pinned_keys else {}
    hasher = sm3_hasher()
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    block: dict[str, Any] | None = None
    events: list[tuple[int, bytes]] = []
    previous: dict[str, Any] | None = None
    heads = read_heads(heads_path).heads if heads_path else {}
    if heads_path is not None and not heads_path.exists():
        report.warnings.append(f"外部头记录文件不存在 (heads file not found): {heads_path}")
    if heads_path is not None:
        report.heads_file = str(heads_path)
    counts = {"block": 0, "event": 0, "unsealed": 0}

    def finish_block() -> None:
        nonlocal block, previous
        if block is None:
            return
        if previous is not None or int(block["number"]) == 1:
            report.add(check_link(block, previous))
        report.add(check_signature(block, keys, pinned=report.key_source == "pinned"))
        outcome = check_block(block, events)
        report.add(outcome.problems)
        rec = heads.pop(int(block["number"]), None)
        if rec is not None:
            found, warns = check_head(rec, block, keys, pinned=report.key_source == "pinned")
            report.add(found)
            report.warnings.extend(warns)
            report.heads_checked += 1
        report.events_checked += outcome.events
        report.blocks += 1
        report.sealed_events += int(block["count"])
        report.gaps += int(block["last_seq"]) - int(block["first_seq"]) + 1 - int(block["count"])
        if report.sealed_first_seq is None:
            report.sealed_first_seq = int(block["first_seq"])
        report.sealed_last_seq = int(block["last_seq"])
        previous = {"number": block["number"], "last_seq": block["last_seq"], "head": block["head"]}
        block = None
        events.clear()

    for lineno, raw in _lines(path):
        if end is not None:
            report.add([problem("file_malformed", detail=f"line {lineno} after the end line")])
            break
        try:
            obj = json.loads(raw)
            kind = obj["type"]
        except (ValueError, TypeError, KeyError):
            report.add([problem("file_malformed", detail=f"line {lineno}")])
            continue
        if kind == "end":
            end = obj
            continue
        hasher.update(raw)
        if lineno == 1:
            if kind != "header" or obj.get("format") != EXPORT_FORMAT:
                report.add([problem("file_malformed", detail="not a govshare audit export")])
                break
            header = obj
            report.node = str(obj.get("node", ""))
            if not pinned_keys:
                keys = {k["key_id"]: k["public_key"] for k in obj.get("keys", [])}
                report.warnings.append("未指定固定公钥，使用文件自带的公钥；请用 --pinned-key (no pinned key: "
                                       "the file's own key was used; pass --pinned-key)")
            continue
        if kind == "block":
            finish_block()
            try:
                obj["tags"] = bytes.fromhex(obj["tags"])
                block = obj
            except (KeyError, ValueError, TypeError):
                report.add([problem("file_malformed", detail=f"line {lineno}: block")])
            counts["block"] += 1
        elif kind in ("event", "unsealed"):
            counts[kind] += 1
            seq, canonical = obj.get("seq"), obj.get("canonical")
            if not isinstance(seq, int) or not isinstance(canonical, str) or _inner_seq(canonical) != seq:
                report.add([problem("file_malformed", seq=seq if isinstance(seq, int) else None,
                                    detail=f"line {lineno}: seq label differs from the event")])
                continue
            if kind == "unsealed":
                finish_block()
                report.unsealed_count += 1
                report.unsealed_first_seq = report.unsealed_first_seq or seq
                report.unsealed_last_seq = seq
            elif block is None:
                report.add([problem("file_malformed", seq=seq, detail=f"line {lineno}: event outside a block")])
            else:
                events.append((seq, canonical.encode("utf-8")))
        else:
            report.add([problem("file_malformed", detail=f"line {lineno}: unknown type {kind!r}")])
    finish_block()

    report.key_ids = sorted(keys)
    if header is None:
        report.add([problem("file_malformed", detail="no header")])
    if end is None:
        report.add([problem("file_truncated", detail="no end line")])
    else:
        if end.get("sm3") != hasher.finalize().hex():
            report.add([problem("file_malformed", detail="end-line SM3 does not match the lines")])
        if (end.get("blocks"), end.get("events"), end.get("unsealed")) != (
                counts["block"], counts["event"], counts["unsealed"]):
            report.add([problem("file_truncated", detail="line counts differ from the end line")])
    if heads and header is not None and header.get("to_end"):
        last_no = int(previous["number"]) if previous else 0
        beyond = [r for n, r in heads.items() if n > last_no]
        found, warns = check_heads_beyond(beyond, last_no, keys, pinned=report.key_source == "pinned")
        report.add(found)
        report.warnings.extend(warns)
        report.heads_checked += len(beyond)
        report.truncated = bool(found)
    report.ok = report.problem_count == 0
    report.seconds = time.perf_counter() - started
    return report


def read_key_file(path: Path) -> list[str]:
    """Public keys from a text file: one hex key per line; ``#`` comments and blank lines ignored."""
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            keys.append(text)
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govshare.audit.offline",
                                     description="离线校验审计导出文件 (verify an audit export file offline)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--pinned-key", action="append", default=[], help="节点公钥 (node public key, hex)")
    parser.add_argument("--pinned-key-file", type=Path, help="公钥文件 (file with public keys, one per line)")
    parser.add_argument("--heads", type=Path, help="外部头记录 heads.jsonl (heads file kept outside the database)")
    parser.add_argument("--json", action="store_true", help="JSON 输出 (JSON output)")
    args = parser.parse_args(argv)
    pinned = list(args.pinned_key)
    try:
        if args.pinned_key_file:
            pinned += read_key_file(args.pinned_key_file)
        if not args.file.exists():
            raise FileNotFoundError(args.file)
        report = verify_export(args.file, pinned_keys=pinned or None, heads_path=args.heads)
    except (OSError, InvalidKeyError) as exc:
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


__all__ = ["Problem", "main", "read_key_file", "verify_export"]

if __name__ == "__main__":
    sys.exit(main())
