"""Durable state of the background worker (DESIGN.md §4 "Background work").

``ScheduledJob``: one row per periodic job registered with :func:`govshare.core.periodic.register` — when
it runs next, who holds it now (a lease), and how its last run went. ``WorkerHeartbeat``: one row per
running ``govshare worker`` process, refreshed every few seconds, so the reaper can tell a dead worker
from a busy one. Both are framework tables, not business data: they are written by
:mod:`govshare.core.periodic` and :mod:`govshare.core.reaper` only, and are not audited.
"""

from __future__ import annotations

from django.db import models


class JobStatus(models.TextChoices):
    NEVER = "", "未运行 (never ran)"
    RUNNING = "running", "运行中 (running)"
    OK = "ok", "成功 (ok)"
    FAILED = "failed", "失败 (failed)"
    LOST = "lost", "进程失联 (worker lost)"


class ScheduledJob(models.Model):
    """The schedule table: a periodic job's next run, its lease and its last outcome."""

    name = models.CharField(max_length=100, unique=True)
    every_seconds = models.FloatField()
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True)
    # Set by ``periodic.kick``: new work arrived while the job may have been running, run again at once.
    kicked = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=64, blank=True, default="", db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_duration_seconds = models.FloatField(null=True, blank=True)
    last_status = models.CharField(max_length=16, choices=JobStatus.choices, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    lost_runs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "定时任务 (scheduled job)"
        verbose_name_plural = "定时任务 (scheduled jobs)"

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """A running ``govshare worker`` process; ``seen_at`` is refreshed every few seconds while it lives."""

    id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    current_job = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["started_at"]
        verbose_name = "工作进程 (worker)"
        verbose_name_plural = "工作进程 (workers)"

    def __str__(self) -> str:
        return f"{self.id} ({self.hostname}:{self.pid})"
