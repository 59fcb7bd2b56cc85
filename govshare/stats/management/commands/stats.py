"""``stats``: compute the sharing-statistics rollups from the command line.

    govshare manage stats refresh                 # today
    govshare manage stats refresh --day 2026-12-01
    govshare manage stats refresh --days 30       # the last 30 days, oldest first (backfill)

The worker does the same every 10 minutes (``stats.rollup``) and at night for yesterday (``stats.finalize``);
``govshare worker --once --jobs 'stats.*'`` runs those jobs once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from govshare.core.errors import DomainError
from govshare.stats import services

CLI_ACTOR = "cli:stats"


class Command(BaseCommand):
    help = "共享统计：汇总每日统计数据 (compute the daily statistics rollups)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("refresh", help="汇总某一天或最近若干天 (refresh one day or the last N days)")
        group = p.add_mutually_exclusive_group()
        group.add_argument("--day", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: today)")
        group.add_argument("--days", type=int, help="最近 N 天 (the last N days up to today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["days"]:
                results = services.refresh_range(actor=CLI_ACTOR, days=options["days"])
            else:
                results = [services.refresh_rollups(actor=CLI_ACTOR, day=options["day"])]
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for r in results:
            self.stdout.write(f"{r.day}: 部门 {r.departments}, 有调用的资源 {r.resources_with_calls}"
                              f"{', 快照' if r.snapshot_taken else ''}{', 调用已重算' if r.calls_recomputed else ''}"
                              f"{', 已定稿' if r.final else ''}")
