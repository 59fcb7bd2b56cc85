"""Checkpoint heads kept OUTSIDE the database: one JSON line per sealed block.

Default file ``GOVSHARE_HOME/audit/heads.jsonl`` (setting ``GOVSHARE['AUDIT_HEADS_FILE']``). Each line
carries the block's range, heads and SM2 signature, so a copy (on another machine, with the parent
node, in the auditor's hands) proves what the chain looked like: a database whose tail was cut off,
or whose blocks were rewritten, no longer matches it. Lines are appended after the block's
transaction commits; a crash in between is repaired by the next seal (missing lines are appended).

Pure Python (no Django) except :func:`default_path`, so the offline verifier can read heads files.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEAD_FORMAT = "govshare-audit-head/1"
HEAD_FIELDS = ("number", "node", "first_seq", "last_seq", "count", "prev_head", "head", "key_id", "signature")

try:  # POSIX advisory locks keep concurrent sealers' lines whole; elsewhere appends are still atomic-ish
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def default_path() -> Path:
    from django.conf import settings

    configured = getattr(settings, "GOVSHARE", {}).get("AUDIT_HEADS_FILE")
    if configured:
        return Path(configured)
    return Path(settings.GOVSHARE_HOME) / "audit" / "heads.jsonl"


def head_line(block: dict[str, Any]) -> dict[str, Any]:
    """The heads-file record of a block given as a dict of its columns (``node_code`` or ``node``)."""
    return {
        "format": HEAD_FORMAT,
        "number": int(block["number"]),
        "node": block.get("node_code", block.get("node", "")),
        "first_seq": int(block["first_seq"]),
        "last_seq": int(block["last_seq"]),
        "count": int(block["count"]),
        "prev_head": block["prev_head"],
        "head": block["head"],
        "key_id": block["key_id"],
        "public_key": block.get("public_key", ""),
        "signature": block["signature"],
        "created_at": str(block.get("created_at", "")),
    }


@dataclass
class HeadsFile:
    heads: dict[int, dict[str, Any]] = field(default_factory=dict)
    bad_lines: list[int] = field(default_factory=list)
    exists: bool = True

    @property
    def last(self) -> dict[str, Any] | None:
        return self.heads[max(self.heads)] if self.heads else None


def read_heads(path: Path) -> HeadsFile:
    """Parse a heads file; malformed lines are listed by line number, not fatal."""
    result = HeadsFile()
    if not path.exists():
        result.exists = False
        return result
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or any(k not in rec for k in HEAD_FIELDS):
                    raise ValueError
                rec["number"] = int(rec["number"])
                rec["first_seq"] = int(rec["first_seq"])
                rec["last_seq"] = int(rec["last_seq"])
            except (ValueError, TypeError):
                result.bad_lines.append(lineno)
                continue
            result.heads[rec["number"]] = rec
    return result


def _last_number(fh: Any) -> int:
    """Block number of the last complete line of an open (binary) heads file; 0 when empty."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    if size == 0:
        return 0
    chunk = min(size, 65536)
    fh.seek(size - chunk)
    lines = [ln for ln in fh.read(chunk).split(b"\n") if ln.strip()]
    for raw in reversed(lines):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            return int(json.loads(raw)["number"])
    return 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "r+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def append_heads(path: Path, blocks: Iterable[dict[str, Any]], *, after: int | None = None) -> int:
    """Append the lines of ``blocks`` (dicts, in number order) whose number is above the file's last.

    ``blocks`` may be a lazy iterable; it is consumed under the file lock. Returns lines written.
    The file is fsynced before returning.
    """
    written = 0
    with _locked(path) as fh:
        last = _last_number(fh) if after is None else after
        fh.seek(0, os.SEEK_END)
        for block in blocks:
            if int(block["number"]) <= last:
                continue
            line = json.dumps(head_line(block), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            fh.write(line.encode("utf-8") + b"\n")
            last = int(block["number"])
            written += 1
        if written:
            fh.flush()
            os.fsync(fh.fileno())
    return written


def last_number(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return _last_number(fh)
