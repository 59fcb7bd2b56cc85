"""``govshare demo``: migrate, build (or reuse) the demo city 潮州市, print the logins, and serve it.

    govshare demo [--reset] [--no-serve] [--no-worker] [--host 127.0.0.1] [--port 8000]
                  [--people 100000] [--companies 20000] [--workers N] [--receiver-port 8701]

Beside the server it runs one ``govshare worker`` (connector pulls, subscription deliveries, fusion, quality
checks, deadline sweeps, audit sealing) and the demo webhook receiver (:mod:`govshare.demo.receiver`), which
stands in for a consuming department's system.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from govshare.portal.management.commands.serve import default_workers, display_url


class Command(BaseCommand):
    help = "生成演示城市（潮州市）并启动服务；再次运行时沿用已有演示数据 (build the demo city and serve it)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true",
                            help="删除演示数据库（SQLite 删除文件；PostgreSQL 删除 govshare 的数据表）后重新生成")
        parser.add_argument("--no-serve", action="store_true", help="只生成数据，不启动服务")
        parser.add_argument("--host", default="127.0.0.1", help="监听地址，默认 127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="端口，默认 8000")
        parser.add_argument("--workers", type=int, default=default_workers(), help="服务工作进程数")
        parser.add_argument("--people", type=int, default=100_000, help="人口基本信息的居民人数，默认 100000")
        parser.add_argument("--companies", type=int, default=20_000, help="法人基本信息的企业数，默认 20000")
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务进程 (govshare worker)")
        parser.add_argument("--receiver-port", type=int, default=8701,
                            help="演示订阅接收端（模拟使用方系统）的端口，默认 8701")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: the demo package loads the whole platform, other commands need not.
        from govshare.demo.builder import DemoError, ensure_demo
        from govshare.demo.receiver import start_demo_receiver
        from govshare.demo.report import format_summary
        from govshare.demo.reset import reset_database

        start = time.perf_counter()
        say = self.stdout.write

        def stamp(text: str) -> None:
            say(f"[{time.perf_counter() - start:6.1f}s] {text}")

        try:
            if options["reset"]:
                stamp(reset_database())
            call_command("migrate", interactive=False, verbosity=0)
            stamp("数据库结构已就绪（migrate）")
            summary = ensure_demo(people=options["people"], companies=options["companies"], out=say,
                                  started=start)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        if not summary.reused:
            stamp(f"全部完成，共用时 {time.perf_counter() - start:.1f} 秒")
        url = display_url(options["host"], options["port"])
        say(format_summary(summary, url))
        if options["no_serve"]:
            say(f"未启动服务（--no-serve）。启动：govshare serve --host {options['host']} --port {options['port']}")
            return
        connections.close_all()
        try:
            receiver = start_demo_receiver(options["receiver_port"])
            say(f"演示订阅接收端已启动：{receiver.url}（收到的数据存于 {receiver.db}）")
        except OSError as exc:  # the port is taken: the demo still serves, without the stand-in receiver
            say(f"演示订阅接收端未启动（端口 {options['receiver_port']}：{exc}）")
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "govshare.cli", "worker"], env=os.environ.copy())
            atexit.register(worker.terminate)
            say(f"后台任务进程已启动（govshare worker，pid {worker.pid}）")
        call_command("serve", host=options["host"], port=options["port"], workers=options["workers"])
