"""``dataset``: load data into a resource's dataset from the command line.

    govshare dataset load RESOURCE_CODE FILE [--as USERNAME]

Mounts the resource first when it is not mounted yet. Without ``--as`` the load is recorded as done by
the platform operator (``cli``); with it, the named user's permissions apply. Exit code 1 when the file
is rejected (nothing is written then).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.core.errors import DomainError
from govshare.datasets import services
from govshare.datasets.choices import UploadStatus
from govshare.datasets.models import Dataset

CLI_ACTOR = "cli:dataset"


class Command(BaseCommand):
    help = "数据集：从文件载入数据 (load a dataset from a CSV / XLSX / JSON file)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p_load = sub.add_parser("load", help="载入文件，整体替换数据集 (load a file, replacing the dataset's data)")
        p_load.add_argument("resource_code", help="信息资源代码 (resource code)")
        p_load.add_argument("file", type=Path, help="CSV (UTF-8 / GBK), XLSX or JSON")
        p_load.add_argument("--as", dest="username", default=None,
                            help="以该用户身份执行 (act as this user; default: the platform operator)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            self._load(options["resource_code"], options["file"], options["username"])

    def _load(self, code: str, path: Path, username: str | None) -> None:
        resource = Resource.objects.filter(code=code).select_related("published_version").first()
        if resource is None:
            raise CommandError(f"资源代码不存在：{code} (no such resource)")
        actor: Any = CLI_ACTOR
        if username:
            actor = User.objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"用户不存在或已停用：{username} (no such active user)")
        if not path.is_file():
            raise CommandError(f"文件不存在：{path} (no such file)")
        try:
            dataset = Dataset.objects.filter(resource=resource).first()
            if dataset is None:
                dataset = services.mount_resource(actor=actor, resource=resource)
                self.stdout.write(f"已挂接 {resource.code} {resource.name} (mounted)")
            started = time.monotonic()

            def progress(rows: int) -> None:
                elapsed = max(time.monotonic() - started, 1e-9)
                self.stdout.write(f"  已校验并暂存 {rows:,} 行 ({rows / elapsed:,.0f} 行/秒) (rows staged)")

            with path.open("rb") as fh:
                result = services.upload(actor=actor, dataset=dataset, filename=path.name, stream=fh,
                                         progress=progress)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=1) from exc
        elapsed = time.monotonic() - started
        self.stdout.write(f"文件 (file): {result.filename}  格式 (format): {result.file_format}  "
                          f"编码 (encoding): {result.encoding or '-'}")
        self.stdout.write(f"行数 (rows): {result.rows_total:,}  有效 (valid): {result.rows_valid:,}  "
                          f"用时 (seconds): {elapsed:.2f}")
        if result.status != UploadStatus.APPLIED:
            for p in result.problems:
                where = "，".join(x for x in (f"第 {p['row']} 行" if p["row"] else "",
                                              f"列 {p['column']}" if p["column"] else "") if x)
                self.stderr.write(f"  {where or '文件'}：{p['reason']}")
            shown = len(result.problems)
            if result.problem_count > shown:
                self.stderr.write(f"  …… 另有 {result.problem_count - shown} 个问题未列出 (more problems)")
            raise CommandError(f"上传未通过校验，共 {result.problem_count} 个问题，未写入任何数据 "
                               f"(rejected: nothing was written)", returncode=1)
        self.stdout.write(self.style.SUCCESS(
            f"已生效：第 {result.generation} 代数据，共 {result.rows_total:,} 行 (applied)"))
