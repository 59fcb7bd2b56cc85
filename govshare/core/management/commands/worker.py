"""``govshare worker``: runs queued background tasks (django-tasks with the database backend).

The exchange and resource-center issues add the heartbeat reaper, retries and the schedule table on top
(DESIGN.md §4); today this runs the django-tasks-db worker as it is.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run background tasks (django-tasks database worker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-name", default="default")
        parser.add_argument("--interval", type=float, default=1.0, help="polling interval in seconds")
        parser.add_argument("--batch", action="store_true", help="process what is queued, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        extra = ["--batch"] if options["batch"] else []
        call_command("db_worker", "--queue-name", options["queue_name"], "--interval", str(options["interval"]),
                     *extra)
