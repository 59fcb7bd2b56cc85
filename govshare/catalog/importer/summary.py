"""The result of one catalog import, as returned to the CLI and the API."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from govshare.core.errors import ValidationFailed

NOTE_DRAFTS = ("导入的资源均为草稿，须由提供部门提交、数据主管部门审核后发布 "
               "(imported resources are drafts: the provider submits them and the data office publishes)")
NOTE_PLACEHOLDER_USCC = ("自动创建的部门使用按名称生成的占位统一社会信用代码，请尽快更正 "
                         "(departments created by the import carry placeholder 统一社会信用代码 derived from "
                         "the name: correct them)")
NOTE_NO_ITEMS = ("外部目录不含信息项，资源导入为无信息项的草稿，提交前须补充信息项 "
                 "(foreign catalogs carry no data items: add items before submission)")


def max_reported() -> int:
    return int(settings.GOVSHARE.get("UPLOAD_MAX_REPORTED_PROBLEMS", 100))


@dataclass
class Rejection:
    sheet: str
    row: int
    field: str
    reason: str
    value: str = ""


@dataclass
class ImportSummary:
    """Counts and findings of one import. ``rejected`` lists the first 100 problems (a setting)."""

    filename: str
    format: str = ""
    layout: str = ""  # govshare (the 目录编制 workbook) | foreign (an open-data catalog)
    node: str = ""
    mode: str = "all_or_nothing"  # or partial
    committed: bool = False
    rows_read: int = 0
    imported: int = 0
    items_read: int = 0
    items_imported: int = 0
    duplicates_dropped: int = 0
    already_present: int = 0
    rejected_rows: int = 0  # resource rows refused
    items_rejected: int = 0  # item rows refused that belong to no resource row of the file
    mapped: dict[str, dict[str, Any]] = field(default_factory=dict)  # source field → {field, rows}
    unmapped_fields: list[str] = field(default_factory=list)
    defaulted: dict[str, int] = field(default_factory=dict)  # resource field → rows
    duplicates: list[dict[str, int]] = field(default_factory=list)  # {row, duplicate_of}
    rejected: list[Rejection] = field(default_factory=list)
    departments_created: list[dict[str, Any]] = field(default_factory=list)  # name, uscc, placeholder_uscc
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, problem: Rejection) -> None:
        if len(self.rejected) < max_reported():
            self.rejected.append(problem)

    def add_row_counts(self, mapped: Counter[tuple[str, str]], defaulted: Counter[str]) -> None:
        for (source, target), n in mapped.items():
            entry = self.mapped.setdefault(source, {"field": target, "rows": 0})
            entry["rows"] += n
        for target, n in defaulted.items():
            self.defaulted[target] = self.defaulted.get(target, 0) + n

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["defaulted"] = dict(sorted(self.defaulted.items()))
        return d

    def first_problem(self) -> str:
        if not self.rejected:
            return ""
        p = self.rejected[0]
        return f"{p.sheet} 第 {p.row} 行 {p.field}: {p.reason}"

    def render(self) -> str:
        """A human-readable summary for the command line."""
        lines = [
            f"文件 (file): {self.filename} [{self.format}, {self.layout}] → 节点 (node) {self.node}",
            f"模式 (mode): {'部分导入 (partial)' if self.mode == 'partial' else '全部或全不 (all or nothing)'}; "
            f"{'已提交 (committed)' if self.committed else '未写入 (nothing written)'}",
            f"读取 (rows read): {self.rows_read}; 导入 (imported): {self.imported}; "
            f"重复丢弃 (duplicates dropped): {self.duplicates_dropped}; "
            f"已存在跳过 (already present): {self.already_present}; 拒绝 (rejected): {self.rejected_rows}",
            f"信息项 (items): 读取 {self.items_read}, 导入 {self.items_imported}, "
            f"无所属资源而拒绝 (orphans rejected) {self.items_rejected}",
            f"用时 (seconds): {self.seconds:.1f}",
        ]
        if self.mapped:
            lines.append("字段映射 (mapped fields):")
            lines += [f"  {src} → {v['field']}: {v['rows']}" for src, v in self.mapped.items()]
        if self.unmapped_fields:
            lines.append(f"未使用的字段 (unmapped fields): {', '.join(self.unmapped_fields)}")
        if self.defaulted:
            lines.append("取默认值 (defaulted):")
            lines += [f"  {k}: {v}" for k, v in sorted(self.defaulted.items())]
        if self.departments_created:
            lines.append(f"新建部门 (departments created): {len(self.departments_created)}")
            lines += [f"  {d['name']} {d['uscc']}{' (占位 placeholder)' if d['placeholder_uscc'] else ''}"
                      for d in self.departments_created]
        if self.rejected:
            lines.append(f"拒绝明细 (rejected, first {max_reported()}):")
            lines += [f"  {p.sheet} 第 {p.row} 行 [{p.field}] {p.reason}" for p in self.rejected]
        lines += [f"注 (note): {n}" for n in self.notes]
        return "\n".join(lines)


class ImportRejected(ValidationFailed):
    """All-or-nothing import with rejected rows: nothing was written. ``summary`` says which and why."""

    code = "import_rejected"

    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary
        super().__init__(
            f"导入未执行：{summary.rejected_rows + summary.items_rejected} 行被拒绝，未写入任何数据；"
            f"首个问题：{summary.first_problem()} "
            f"(import rolled back: {summary.rejected_rows + summary.items_rejected} rows rejected, nothing written)",
            details={"summary": summary.to_dict(),
                     "errors": [{"sheet": p.sheet, "row": p.row, "field": p.field, "reason": p.reason}
                                for p in summary.rejected]},
        )
