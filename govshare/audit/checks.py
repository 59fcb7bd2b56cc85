"""Checks of sealed blocks, shared by the database verifier and the offline (export file) verifier.

Pure Python over :mod:`govshare.audit.chain`: no Django. A block is given as a mapping with
``number, node_code, first_seq, last_seq, count, gaps, tags, prev_head, head, key_id, signature``
and its events as ``(seq, canonical bytes)`` in seq order; every finding is a :class:`Problem`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from govshare.audit.chain import (
    TAG_SIZE,
    covered_seqs,
    event_digest,
    fold_step,
    gaps_count,
    key_id_for,
    valid_gaps,
    verify_checkpoint,
)

# kind -> message (Chinese first, English in parentheses)
MESSAGES = {
    "modified": "事件内容被修改 (event content was changed)",
    "deleted": "已封存的事件被删除 (sealed event deleted)",
    "truncated_tail": "审计日志尾部被截断 (tail of the log cut off)",
    "inserted": "封存范围内出现未封存的事件 (event inside a sealed range that the block does not cover)",
    "block_modified": "区块内事件被修改，无法定位到单条事件 (events of the block changed; the event tags "
                      "do not say which)",
    "block_malformed": "区块记录格式错误 (block row is malformed)",
    "tags_modified": "区块事件标签被改动，事件本身完好 (the block's event tags were changed; events are intact)",
    "chain_break": "区块未链接到上一区块的头 (block does not link to the previous head)",
    "range_break": "区块序号范围与上一区块不衔接 (block range does not follow the previous block)",
    "block_missing": "区块缺失 (block missing)",
    "bad_signature": "区块签名无效 (block signature is not valid)",
    "unknown_key": "签名密钥未知 (signing key unknown)",
    "heads_ahead": "外部头记录中有数据库没有的更新区块 (heads file holds later blocks than the database)",
    "heads_mismatch": "区块与外部头记录不一致 (block differs from the heads file)",
    "sqlite_gap": "SQLite 序号缺口：封存前有事件被删除 (gap in seq on SQLite: events deleted before sealing)",
    "sequence_ahead": "序号高水位高于现存最大序号：未封存尾部被删除 (sequence counter is above the newest "
                      "event: unsealed tail deleted)",
    "triggers_missing": "只追加触发器缺失 (append-only triggers missing)",
    "keyref_mismatch": "查询键索引与事件不一致 (key index rows do not match the events)",
    "file_truncated": "导出文件不完整 (export file is incomplete)",
    "file_malformed": "导出文件格式错误 (export file is malformed)",
}
# Problems located at an event; the smallest such seq is "the first bad event".
EVENT_KINDS = frozenset({"modified", "deleted", "truncated_tail", "inserted", "block_modified", "sqlite_gap"})


@dataclass
class Problem:
    kind: str
    message: str
    seq: int | None = None
    seq_end: int | None = None
    block: int | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    def line(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}" + (f"–{self.seq_end}" if self.seq_end not in (None, self.seq) else ""))
        if self.block is not None:
            where.append(f"区块 (block) {self.block}")
        located = f": {', '.join(where)}" if where else ""
        suffix = f" — {self.detail}" if self.detail else ""
        return f"{self.message}{located}{suffix}"


def problem(kind: str, *, seq: int | None = None, seq_end: int | None = None, block: int | None = None,
            detail: str = "") -> Problem:
    return Problem(kind=kind, message=MESSAGES[kind], seq=seq, seq_end=seq_end, block=block, detail=detail)


def first_bad_seq(problems: Iterable[Problem]) -> int | None:
    seqs = [p.seq for p in problems if p.kind in EVENT_KINDS and p.seq is not None]
    return min(seqs) if seqs else None


@dataclass
class BlockOutcome:
    problems: list[Problem]
    events: int
    head: str


def check_block(block: Mapping[str, Any], events: Iterable[tuple[int, bytes]], *, sqlite: bool = False) -> BlockOutcome:
    """Recompute a block from its events; report changed, deleted and inserted events by seq."""
    number = int(block["number"])
    first, last = int(block["first_seq"]), int(block["last_seq"])
    gaps = block["gaps"]
    problems: list[Problem] = []
    if not valid_gaps(first, last, gaps) or first > last:
        problems.append(problem("block_malformed", block=number, detail="gaps/range"))
        gaps = []
    tags = bytes(block["tags"] or b"")
    expected_count = (last - first + 1) - gaps_count(gaps)
    if int(block["count"]) != expected_count or len(tags) != expected_count * TAG_SIZE:
        problems.append(problem("block_malformed", block=number, detail="count/tags"))
        tags = b""
    if sqlite and gaps:
        for start, end in gaps:
            problems.append(problem("sqlite_gap", seq=start, seq_end=end, block=number))

    head = bytes.fromhex(block["prev_head"])
    expected = covered_seqs(first, last, gaps)
    nxt = next(expected, None)
    index = 0
    mismatched: list[int] = []
    missing: list[list[int]] = []
    seen = 0
    for seq, canonical in events:
        while nxt is not None and nxt < seq:
            if missing and missing[-1][1] == nxt - 1:
                missing[-1][1] = nxt
            else:
                missing.append([nxt, nxt])
            nxt = next(expected, None)
            index += 1
        if nxt == seq:
            digest = event_digest(canonical)
            head = fold_step(head, digest)
            if tags and tags[index * TAG_SIZE:(index + 1) * TAG_SIZE] != digest[:TAG_SIZE]:
                mismatched.append(seq)
            nxt = next(expected, None)
            index += 1
            seen += 1
        else:
            problems.append(problem("inserted", seq=seq, block=number))
    while nxt is not None:
        if missing and missing[-1][1] == nxt - 1:
            missing[-1][1] = nxt
        else:
            missing.append([nxt, nxt])
        nxt = next(expected, None)
    problems.extend(problem("deleted", seq=a, seq_end=b, block=number) for a, b in missing)
    head_hex = head.hex()
    if head_hex == block["head"]:
        if mismatched:
            problems.append(problem("tags_modified", block=number))
    elif mismatched:
        problems.extend(problem("modified", seq=s, block=number) for s in mismatched)
    elif not missing:
        problems.append(problem("block_modified", seq=first, seq_end=last, block=number))
    return BlockOutcome(problems=problems, events=seen, head=head_hex)


def check_link(block: Mapping[str, Any], previous: Mapping[str, Any] | None) -> list[Problem]:
    """Continuity with the previous block (number, range, head); genesis for the first block."""
    from govshare.audit.chain import GENESIS_HEAD

    number = int(block["number"])
    out: list[Problem] = []
    if previous is None:
        if number != 1:
            out.append(problem("block_missing", block=1, detail=f"first block present is {number}"))
        if number == 1 and (int(block["first_seq"]) != 1 or block["prev_head"] != GENESIS_HEAD):
            out.append(problem("chain_break", block=number, detail="genesis"))
        return out
    if number != int(previous["number"]) + 1:
        out.append(problem("block_missing", block=int(previous["number"]) + 1,
                           detail=f"next block present is {number}"))
    if int(block["first_seq"]) != int(previous["last_seq"]) + 1:
        out.append(problem("range_break", block=number))
    if block["prev_head"] != previous["head"]:
        out.append(problem("chain_break", block=number))
    return out


def check_signature(block: Mapping[str, Any], keys: Mapping[str, str], *, pinned: bool) -> list[Problem]:
    """SM2 signature of a block under the key named by its key_id (pinned: any pinned key may match)."""
    number = int(block["number"])
    args = (block["node_code"], int(block["last_seq"]), block["head"], block["signature"])
    key = keys.get(block["key_id"])
    if key is not None and verify_checkpoint(key, *args):
        return []
    if pinned:
        if any(verify_checkpoint(k, *args) for kid, k in keys.items() if kid != block["key_id"]):
            return []
        return [problem("bad_signature", block=number, detail=f"key {block['key_id']}")]
    if key is None:
        return [problem("unknown_key", block=number, detail=str(block["key_id"]))]
    return [problem("bad_signature", block=number, detail=f"key {block['key_id']}")]


def pinned_key_map(public_keys: Iterable[str]) -> dict[str, str]:
    from govshare.core.crypto.sm2 import normalize_public_key

    out: dict[str, str] = {}
    for raw in public_keys:
        key = normalize_public_key(raw.strip())
        out[key_id_for(key)] = key
    return out


def _head_as_block(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {"number": int(rec["number"]), "node_code": rec.get("node", ""), "last_seq": rec["last_seq"],
            "head": rec.get("head", ""), "signature": rec.get("signature", ""), "key_id": rec.get("key_id", "")}


def _bad_head_warning(number: int) -> str:
    return (f"外部头记录第 {number} 块签名无效，已忽略 (heads-file line for block {number} has no valid "
            "signature; ignored)")


def check_head(rec: Mapping[str, Any], block: Mapping[str, Any], keys: Mapping[str, str], *,
               pinned: bool) -> tuple[list[Problem], list[str]]:
    """Compare one heads-file record with the block of the same number."""
    if all(str(block[k]) == str(rec.get(k)) for k in ("head", "last_seq", "first_seq", "prev_head")):
        return [], []
    number = int(rec["number"])
    if check_signature(_head_as_block(rec), keys, pinned=pinned):
        return [], [_bad_head_warning(number)]
    return [problem("heads_mismatch", block=number)], []


def check_heads_beyond(records: Iterable[Mapping[str, Any]], last_db_block: int, keys: Mapping[str, str], *,
                       pinned: bool) -> tuple[list[Problem], list[str]]:
    """Heads-file records of blocks after the database's last block: a cut-off tail when authentic."""
    warnings: list[str] = []
    ahead: list[Mapping[str, Any]] = []
    for rec in sorted(records, key=lambda r: int(r["number"])):
        if check_signature(_head_as_block(rec), keys, pinned=pinned):
            warnings.append(_bad_head_warning(int(rec["number"])))
        else:
            ahead.append(rec)
    if not ahead:
        return [], warnings
    last_no = ahead[-1]["number"]
    return [problem(
        "heads_ahead", seq=int(ahead[0]["first_seq"]), seq_end=int(ahead[-1]["last_seq"]),
        block=int(ahead[0]["number"]),
        detail=f"数据库止于区块 {last_db_block}，外部记录到区块 {last_no} (database ends at block {last_db_block}; "
               f"heads file reaches block {last_no})",
    )], warnings
