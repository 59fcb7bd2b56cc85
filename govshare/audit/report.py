"""The verification report shared by the database verifier and the offline verifier (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govshare.audit.checks import Problem, first_bad_seq

MAX_LISTED_PROBLEMS = 200
KEY_SOURCES = {
    "pinned": "固定公钥 (pinned key)",
    "database": "数据库中的节点公钥 (node key from the database)",
    "file": "导出文件自带的公钥 (key carried by the file itself)",
}


@dataclass
class VerifyReport:
    ok: bool = True
    node: str = ""
    key_source: str = "database"  # "pinned", "database" or "file"
    key_ids: list[str] = field(default_factory=list)
    blocks: int = 0
    sealed_first_seq: int | None = None
    sealed_last_seq: int | None = None
    sealed_events: int = 0
    gaps: int = 0
    events_checked: int = 0
    unsealed_count: int = 0
    unsealed_first_seq: int | None = None
    unsealed_last_seq: int | None = None
    max_seq: int | None = None
    truncated: bool = False
    first_bad_seq: int | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[str] = field(default_factory=list)
    heads_file: str = ""
    heads_checked: int = 0
    seconds: float = 0.0

    def add(self, found: list[Problem]) -> None:
        self.problem_count += len(found)
        room = MAX_LISTED_PROBLEMS - len(self.problems)
        if room > 0:
            self.problems.extend(found[:room])
        bad = first_bad_seq(found)
        if bad is not None and (self.first_bad_seq is None or bad < self.first_bad_seq):
            self.first_bad_seq = bad

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "node": self.node, "key_source": self.key_source, "key_ids": self.key_ids,
            "sealed": {"blocks": self.blocks, "first_seq": self.sealed_first_seq, "last_seq": self.sealed_last_seq,
                       "events": self.sealed_events, "gaps": self.gaps},
            "unsealed": {"count": self.unsealed_count, "first_seq": self.unsealed_first_seq,
                         "last_seq": self.unsealed_last_seq},
            "max_seq": self.max_seq, "events_checked": self.events_checked, "truncated": self.truncated,
            "first_bad_seq": self.first_bad_seq, "problem_count": self.problem_count,
            "problems": [p.as_dict() for p in self.problems], "warnings": self.warnings,
            "heads_file": self.heads_file, "heads_checked": self.heads_checked, "seconds": round(self.seconds, 3),
        }

    def lines(self) -> list[str]:
        """Human-readable report, Chinese with English in parentheses."""
        out = [f"审计链校验 (audit chain verification) — 节点 (node) {self.node}"]
        if self.blocks:
            out.append(f"已封存范围 (sealed range): seq {self.sealed_first_seq}–{self.sealed_last_seq}，"
                       f"{self.blocks} 个区块 (blocks)，{self.sealed_events} 条事件 (events)，"
                       f"{self.gaps} 个空号 (unused seqs)")
        else:
            out.append("尚无已封存区块 (nothing sealed yet)")
        if self.unsealed_count:
            out.append(f"未封存尾部 (unsealed tail): {self.unsealed_count} 条 (events)，"
                       f"seq {self.unsealed_first_seq}–{self.unsealed_last_seq}")
        else:
            out.append("未封存尾部 (unsealed tail): 无 (none)")
        src = KEY_SOURCES.get(self.key_source, self.key_source)
        out.append(f"验签公钥 (signature key): {src} {', '.join(self.key_ids)}")
        if self.heads_file:
            out.append(f"外部头记录 (heads file): {self.heads_file}，核对 {self.heads_checked} 条 (lines checked)")
        out += [f"警告 (warning): {w}" for w in self.warnings]
        if self.truncated:
            out.append("尾部被截断 (tail truncated): 是 (yes)")
        for p in self.problems:
            out.append(f"问题 (problem): {p.line()}")
        if self.problem_count > len(self.problems):
            out.append(f"… 另有 {self.problem_count - len(self.problems)} 个问题 (more problems)")
        if self.first_bad_seq is not None:
            out.append(f"第一个异常事件 (first bad event): seq {self.first_bad_seq}")
        verdict = "通过 (OK)" if self.ok else f"发现 {self.problem_count} 个问题 (problems found)"
        out.append(f"结果 (result): {verdict}")
        out.append(f"已校验事件 (events checked): {self.events_checked}，用时 (seconds) {self.seconds:.2f}")
        return out
