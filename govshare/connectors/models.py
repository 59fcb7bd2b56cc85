"""Source connectors (前置库 / 中间库 on the provider side) and their runs.

A :class:`SourceConnector` reads a provider department's staging database into a mounted dataset: pulls
by an incremental column with an overlap window, and periodic full reconciliation (对账). A
:class:`ConnectorRun` is one pull or reconciliation; it holds a lease while a worker executes it and its
progress (the keyset cursor of a pull), so a worker killed mid-run leaves a run another worker resumes.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from govshare.connectors.choices import ConnectorStatus, Engine, IncrementalType, RunKind, RunStatus, RunTrigger
from govshare.core.models import NodeOwnedModel


class SourceConnector(NodeOwnedModel):
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="connectors")
    name = models.CharField(max_length=120)
    # Connection. For SQLite ``database`` is the file path (inside SQLITE_CONNECTOR_DIRS) and host is empty.
    engine = models.CharField(max_length=16, choices=Engine.choices)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    database = models.CharField(max_length=500)
    user = models.CharField(max_length=128, blank=True)
    password_enc = models.TextField(blank=True, help_text="SM4 envelope token (purpose connector_password)")
    options = models.JSONField(default=dict, blank=True)
    # What to read: a table (schema.table allowed) or one read-only SELECT / WITH query.
    source_table = models.CharField(max_length=255, blank=True)
    source_query = models.TextField(blank=True)
    column_map = models.JSONField(default=dict, blank=True, help_text="source column -> dataset column")
    key_column = models.CharField(max_length=128, help_text="source column holding the record key")
    incremental_column = models.CharField(max_length=128, blank=True)
    incremental_type = models.CharField(max_length=16, choices=IncrementalType.choices,
                                        default=IncrementalType.TIMESTAMP)
    overlap_seconds = models.PositiveIntegerField(default=300)
    overlap_count = models.PositiveIntegerField(default=1000, help_text="overlap of a number column, in units")
    page_size = models.PositiveIntegerField(default=1000)
    # Schedule. Without an override the pull interval follows the resource's 更新周期.
    pull_interval_seconds = models.PositiveIntegerField(null=True, blank=True)
    reconcile_interval_seconds = models.PositiveIntegerField(default=86400)
    next_pull_at = models.DateTimeField(null=True, blank=True, db_index=True)
    next_reconcile_at = models.DateTimeField(null=True, blank=True, db_index=True)
    watermark = models.JSONField(default=dict, blank=True,
                                 help_text='highest incremental value applied: {"type": ..., "value": ...}')
    status = models.CharField(max_length=16, choices=ConnectorStatus.choices, default=ConnectorStatus.ACTIVE)
    run_requested = models.BooleanField(default=False, help_text='"run now" was asked: the next run is manual')
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]
        verbose_name = "前置库连接器 (source connector)"
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="uniq_connector_name_per_dataset")]

    def __str__(self) -> str:
        return self.name


class ConnectorRun(models.Model):
    id = models.BigAutoField(primary_key=True)
    connector = models.ForeignKey(SourceConnector, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=16, choices=RunKind.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, default=RunTrigger.SCHEDULE)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1, help_text="1 + how many times the run was resumed")
    lost_leases = models.PositiveIntegerField(default=0, help_text="resumes after a worker died holding the run")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveBigIntegerField(default=0)
    inserted = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    deleted = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True, help_text="lower bound and keyset cursor of a pull")
    error = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "连接器运行 (connector run)"
        constraints = [
            # two workers never run the same connector at once
            models.UniqueConstraint(fields=["connector"], condition=Q(status="running"),
                                    name="uniq_running_run_per_connector"),
        ]
        indexes = [models.Index(fields=["status", "lease_until"], name="connrun_status_lease")]

    def __str__(self) -> str:
        return f"{self.connector_id} {self.kind} #{self.pk} ({self.status})"
