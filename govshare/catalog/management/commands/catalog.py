"""``catalog``: import and export the catalog (目录导入导出) on the server, as the system actor.

    govshare catalog import FILE [--node CODE] [--create-departments] [--partial] [--classification CODE]
    govshare catalog export FILE [--node CODE]

FILE: ``.xlsx`` (the govshare 目录编制 workbook or a foreign catalog sheet), ``.csv`` (with
``FILE_items.csv`` next to it when present), ``.json`` (a list of records) or ``.zip`` (the CSV pair).
Export writes ``.xlsx``, or ``.csv`` plus ``FILE_items.csv``. Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from govshare.catalog.exporter import export_catalog
from govshare.catalog.importer import ImportRejected, import_catalog
from govshare.catalog.importer.readers import items_companion
from govshare.core.errors import DomainError
from govshare.organizations.models import Node
from govshare.organizations.services import local_node


class ProgressLine:
    """A one-line ``verb done/total (pct%)`` counter on stderr, redrawn when the percentage changes."""

    def __init__(self, verb: str, stream: OutputWrapper) -> None:
        self.verb = verb
        self.stream = stream
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        if pct != self.last or done == total:
            self.last = pct
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{self.verb} {done}/{total} ({pct}%){end}", ending="")
            self.stream.flush()


def _node(code: str | None, *, required: bool) -> Node | None:
    if code:
        node = Node.objects.filter(code=code).first()
        if node is None:
            raise CommandError(f"没有代码为 {code} 的节点 (no such node)")
        return node
    if not required:
        return None
    configured = settings.GOVSHARE.get("NODE_CODE") or ""
    node = local_node() or (Node.objects.filter(code=configured).first() if configured else None)
    if node is None and Node.objects.count() == 1:
        node = Node.objects.first()
    if node is None:
        raise CommandError("请用 --node CODE 指定目标节点 (which node? give --node CODE)")
    return node


class Command(BaseCommand):
    help = "目录导入导出 (import or export the catalog): catalog import FILE | catalog export FILE"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p_imp = sub.add_parser("import", help="导入目录文件，资源一律为草稿 (import a catalog file as drafts)")
        p_imp.add_argument("file", type=Path)
        p_imp.add_argument("--node", default=None, help="目标节点代码；默认为本节点 (target node code)")
        p_imp.add_argument("--create-departments", action="store_true",
                           help="自动新建未知部门（占位统一社会信用代码）(create unknown departments)")
        p_imp.add_argument("--partial", action="store_true",
                           help="导入无误的行，报告被拒绝的行；默认全部或全不 (import the good rows)")
        p_imp.add_argument("--classification", default=None,
                           help="外部目录的资源分类代码，默认 399001 其他部门信息 (classification for foreign rows)")
        p_imp.add_argument("--json", action="store_true", help="以 JSON 输出摘要 (summary as JSON)")
        p_exp = sub.add_parser("export", help="导出目录为 XLSX 或 CSV (export the catalog)")
        p_exp.add_argument("file", type=Path)
        p_exp.add_argument("--node", default=None, help="只导出该节点的资源 (only this node's resources)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self._import(options)
        else:
            self._export(options)

    def _import(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"文件不存在: {path} (no such file)")
        node = _node(options["node"], required=True)
        assert node is not None
        try:
            summary = import_catalog(
                actor=None, node=node, path_or_stream=path, filename=path.name,
                create_departments=options["create_departments"], partial=options["partial"],
                classification_code=options["classification"], progress=ProgressLine("导入 (import)", self.stderr),
            )
        except ImportRejected as exc:
            self.stdout.write(self._render(exc.summary, options))
            raise CommandError(exc.message) from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self._render(summary, options))

    @staticmethod
    def _render(summary: Any, options: dict[str, Any]) -> str:
        if options.get("json"):
            return json.dumps(summary.to_dict(), ensure_ascii=False, indent=1, default=str)
        return str(summary.render())

    def _export(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        node = _node(options["node"], required=False)
        suffix = path.suffix.lower()
        if suffix not in (".xlsx", ".csv"):
            raise CommandError("导出文件须为 .xlsx 或 .csv (export to .xlsx or .csv)")
        data = export_catalog(user=None, fmt="xlsx" if suffix == ".xlsx" else "csv", node=node,
                              progress=ProgressLine("导出 (export)", self.stderr))
        if isinstance(data, tuple):
            resources, items = data
            path.write_bytes(resources)
            items_companion(path).write_bytes(items)
            self.stdout.write(f"已导出 (exported): {path}, {items_companion(path)}")
        else:
            path.write_bytes(data)
            self.stdout.write(f"已导出 (exported): {path}")
