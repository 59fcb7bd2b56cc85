"""``baselibs``: the base-library definitions and installed libraries.

    govshare baselibs definitions            list the shipped definitions
    govshare baselibs validate [--dir DIR]   validate definitions (shape, data elements, classification)
    govshare baselibs list                   installed libraries with their last fusion run
    govshare baselibs fuse CODE [--node NODE] [--full]   run the fusion of one library now (as the operator)

``validate`` exits with status 1 and lists every problem when a definition is invalid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from govshare.baselibs.definitions import validate_definitions
from govshare.baselibs.models import BaseLibrary, FusionRun
from govshare.baselibs.services import fuse
from govshare.core.errors import DomainError

CLI_ACTOR = "cli:baselibs"


class Command(BaseCommand):
    help = "基础库：列出、校验定义，查看已安装的库，手动融合 (base-library definitions and fusion)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("definitions", help="列出基础库定义 (list the definitions)")
        p_val = sub.add_parser("validate", help="校验基础库定义 (validate the definitions)")
        p_val.add_argument("--dir", type=Path, default=None, help="定义所在目录 (default: the shipped ones)")
        sub.add_parser("list", help="已安装的基础库 (installed libraries)")
        p_fuse = sub.add_parser("fuse", help="立即融合一个基础库 (run one library's fusion now)")
        p_fuse.add_argument("code", help="基础库代码，如 population (library code)")
        p_fuse.add_argument("--node", default=None, help="节点代码 (node code; needed when several nodes have it)")
        p_fuse.add_argument("--full", action="store_true", help="全量融合 (walk every key)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action in ("definitions", "validate"):
            self._definitions(options.get("dir"), only_problems=action == "validate")
        elif action == "list":
            self._list()
        else:
            self._fuse(options["code"], options["node"], options["full"])

    def _definitions(self, directory: Path | None, *, only_problems: bool) -> None:
        defs, problems = validate_definitions(directory)
        if not only_problems:
            for d in defs.values():
                key = d.key_field
                self.stdout.write(f"{d.code:<14} {d.name}  [{d.kind}] 分类 {d.classification}  "
                                  f"主键 {key.name}({key.column})  字段 {len(d.fields)} 个")
                for f in d.fields:
                    cross = f"，校核：{'、'.join(f.cross_checks)}" if f.cross_checks else ""
                    multi = "（多值）" if f.multi else ""
                    self.stdout.write(f"    {f.name}{multi} {f.column} {f.element} 权威来源：{f.authoritative}{cross}")
        if problems:
            for p in problems:
                self.stderr.write(p)
            raise CommandError(f"{len(problems)} 处问题 (problems found)")
        if only_problems:
            self.stdout.write(f"基础库定义有效，共 {len(defs)} 个 ({len(defs)} definitions are valid)")

    def _list(self) -> None:
        for lib in BaseLibrary.objects.select_related("node", "resource", "dataset").order_by("node__code", "code"):
            run = FusionRun.objects.filter(library=lib).order_by("-started_at").first()
            last = (f"{run.status} {run.started_at:%Y-%m-%d %H:%M} 记录 {run.keys_examined} "
                    f"差异+{run.discrepancies_new}" if run else "尚未融合")
            self.stdout.write(f"{lib.node.code} {lib.code:<14} {lib.resource.code} 行数 {lib.dataset.row_count}  "
                              f"{last}")

    def _fuse(self, code: str, node: str | None, full: bool) -> None:
        qs = BaseLibrary.objects.filter(code=code)
        if node:
            qs = qs.filter(node__code=node)
        libraries = list(qs.select_related("node")[:2])
        if not libraries:
            raise CommandError(f"没有已安装的基础库 {code} (no such installed library)")
        if len(libraries) > 1:
            raise CommandError("多个节点安装了该基础库，请用 --node 指定 (several nodes have it: use --node)")
        try:
            run = fuse(actor=CLI_ACTOR, library=libraries[0], full=full)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"融合完成 (done): 记录 {run.keys_examined}，写入 {run.upserts}，删除 {run.deletes}，"
                          f"新差异 {run.discrepancies_new}，已消除 {run.discrepancies_resolved}")
