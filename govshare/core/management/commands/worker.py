"""``govshare worker``: runs the periodic jobs apps register (deadline sweep, audit sealing …) and the
queued django-tasks (database backend), until stopped.

kill -9 loses nothing: jobs keep their state in domain tables and are idempotent; a queued task that was
running is picked up again (the reaper of the resource-center issue handles stale RUNNING rows).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from govshare.core import periodic


class Command(BaseCommand):
    help = "Run periodic jobs and background tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
        parser.add_argument("--once", action="store_true", help="one round of every job and queued task, then exit")
        parser.add_argument("--jobs-only", action="store_true", help="run the periodic jobs, not the task queue")

    def handle(self, *args: Any, **options: Any) -> None:
        names = ", ".join(j.name for j in periodic.jobs()) or "none"
        self.stdout.write(f"govshare worker: periodic jobs: {names}")
        while True:
            close_old_connections()
            periodic.run_due()
            if not options["jobs_only"]:
                call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
            if options["once"]:
                return
            time.sleep(options["interval"])
