"""Self-contained export of the audit chain for auditors (``govshare audit export FILE``).

The file is JSON Lines (gzip-compressed when the name ends in ``.gz``), one object per line:

- ``{"type": "header", "format": "govshare-audit-export/1", "node", "exported_at", "from_seq", "to_seq",
  "to_end", "keys": [{"key_id", "node_code", "public_key", ...}], "chain": ..., "genesis_head", "tag_size"}``
- per block overlapping the requested range (whole blocks, so every head can be recomputed):
  ``{"type": "block", "number", "node_code", "first_seq", "last_seq", "count", "gaps", "tags" (hex),
  "prev_head", "head", "key_id", "signature", "created_at"}`` followed by the block's events
  ``{"type": "event", "seq", "canonical"}`` — ``canonical`` is the exact string that was hashed;
- events of the requested range not sealed yet: ``{"type": "unsealed", "seq", "canonical"}`` (shown,
  not provable);
- ``{"type": "end", "blocks", "events", "unsealed", "sm3"}`` where ``sm3`` is SM3 over all previous lines
  (bytes, newlines included) — a file cut short or edited by accident is noticed.

:mod:`govshare.audit.offline` verifies such a file without a database.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.db.models import Q
from django.utils import timezone

from govshare.audit import store
from govshare.audit.chain import CHAIN_FORMAT, GENESIS_HEAD, TAG_SIZE, canonical_row
from govshare.audit.keys import node_code
from govshare.audit.models import AuditBlock, NodeKey
from govshare.core.crypto import sm3_hasher

EXPORT_FORMAT = "govshare-audit-export/1"


@dataclass
class ExportResult:
    path: str
    blocks: int = 0
    events: int = 0
    unsealed: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    sm3: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _LineWriter:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.hasher = sm3_hasher()

    def write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        self.hasher.update(line)
        self.fh.write(line)


def open_binary(path: Path, mode: str) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "b")  # type: ignore[return-value]
    return path.open(mode + "b")


def export_file(path: Path, *, from_seq: int | None = None, to_seq: int | None = None, actor: Any = None,
                using: str = "default") -> ExportResult:
    """Write the export file; records an ``audit.export`` event. ValueError for a bad range."""
    from govshare.audit.services import record_event

    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise ValueError("--from-seq 大于 --to-seq (from-seq is above to-seq)")
    lo = from_seq if from_seq is not None else 1
    hi = to_seq if to_seq is not None else (store.max_seq(using=using) or 0)
    result = ExportResult(path=str(path))
    keys = [{"key_id": k.key_id, "node_code": k.node_code, "public_key": k.public_key,
             "created_at": k.created_at.isoformat(), "active": k.active}
            for k in NodeKey.objects.using(using).order_by("created_at")]
    blocks = (AuditBlock.objects.using(using).filter(Q(last_seq__gte=lo) & Q(first_seq__lte=hi))
              .order_by("number"))
    last_sealed = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_binary(path, "w") as fh:
        out = _LineWriter(fh)
        out.write({
            "type": "header", "format": EXPORT_FORMAT, "chain": CHAIN_FORMAT, "node": node_code(),
            "exported_at": timezone.now().isoformat(), "from_seq": lo, "to_seq": to_seq, "to_end": to_seq is None,
            "keys": keys, "genesis_head": GENESIS_HEAD, "tag_size": TAG_SIZE,
            "note": "用固定公钥校验 (verify with a pinned key): python -m govshare.audit.offline FILE --pinned-key HEX",
        })
        for block in blocks.iterator(chunk_size=100):
            out.write({
                "type": "block", "number": block.number, "node_code": block.node_code,
                "first_seq": block.first_seq, "last_seq": block.last_seq, "count": block.count, "gaps": block.gaps,
                "tags": bytes(block.tags).hex(), "prev_head": block.prev_head, "head": block.head,
                "key_id": block.key_id, "signature": block.signature, "created_at": block.created_at.isoformat(),
            })
            for row in store.event_rows(block.first_seq, block.last_seq, using=using):
                out.write({"type": "event", "seq": int(row[0]), "canonical": canonical_row(row).decode("utf-8")})
                result.events += 1
            result.blocks += 1
            result.first_seq = result.first_seq if result.first_seq is not None else block.first_seq
            result.last_seq = block.last_seq
            last_sealed = max(last_sealed, block.last_seq)
        if not last_sealed:
            last_sealed = int(AuditBlock.objects.using(using).order_by("-number").values_list(
                "last_seq", flat=True).first() or 0)
        start = max(lo, last_sealed + 1)
        if start <= hi:
            for row in store.event_rows(start, hi, using=using):
                out.write({"type": "unsealed", "seq": int(row[0]), "canonical": canonical_row(row).decode("utf-8")})
                result.unsealed += 1
                result.first_seq = result.first_seq if result.first_seq is not None else int(row[0])
                result.last_seq = int(row[0])
        result.sm3 = out.hasher.finalize().hex()
        tail = {"type": "end", "blocks": result.blocks, "events": result.events, "unsealed": result.unsealed,
                "sm3": result.sm3}
        fh.write(json.dumps(tail, separators=(",", ":")).encode("ascii") + b"\n")
    record_event(actor=actor, action="audit.export", target_type="audit_chain", target_id=path.name,
                 data={"from_seq": lo, "to_seq": to_seq, "blocks": result.blocks, "events": result.events,
                       "unsealed": result.unsealed, "sm3": result.sm3})
    return result
