"""``govshare regions``: load (or refresh) the GB/T 2260 行政区划代码 table shipped with govshare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from govshare.organizations.models import Region
from govshare.organizations.services import REGIONS_FILE, load_regions


class Command(BaseCommand):
    help = "载入 GB/T 2260 行政区划代码表（可重复运行）(load the GB/T 2260 region table)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, default=REGIONS_FILE,
                            help="区划数据文件（JSON），默认使用随 govshare 发布的表")

    def handle(self, *args: Any, **options: Any) -> None:
        added = load_regions(actor=None, path=options["file"])
        total = Region.objects.count()
        current = Region.objects.filter(current=True).count()
        self.stdout.write(f"行政区划代码：新增 {added} 条，共 {total} 条（现行 {current} 条，"
                          f"停用 {total - current} 条保留用于历史数据）。")
