"""Quality rules, runs and failing rows (数据质量); disputes (疑义数据) and their steps.

No model copies a record's values: a quality issue names the record key, the column and the rule; a dispute
names the record key and column and carries the raiser's reason and evidence. The values themselves stay in
the dataset and, for corrections, in the change log (``govshare.datasets``).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

from govshare.core.models import BaseModel, NodeOwnedModel
from govshare.quality.choices import (
    DisputeCategory,
    DisputeOrigin,
    DisputeStatus,
    Resolution,
    RuleKind,
    RunKind,
)


class QualityRule(NodeOwnedModel):
    """A configured rule: on a data element (every item carrying it, on this node's datasets) or on one item
    of one resource. Adds to the built-in rules derived from each item's data element."""

    element = models.ForeignKey("catalog.DataElement", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    resource = models.ForeignKey("catalog.Resource", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    column_name = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    params = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=200, blank=True, help_text="reason shown instead of the default")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["created_at"]
        verbose_name = "质量规则"
        constraints = [
            models.CheckConstraint(
                condition=(Q(element__isnull=False, resource__isnull=True, column_name="")
                           | (Q(element__isnull=True, resource__isnull=False) & ~Q(column_name=""))),
                name="quality_rule_target",
            ),
        ]
        indexes = [models.Index(fields=["node", "active"], name="quality_rule_node_active")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.element_id or f'{self.resource_id}.{self.column_name}'}"


class QualityState(models.Model):
    """Per-dataset progress of the quality checks: the change-log cursor, when a full run was requested
    (rules changed) and last made, the lease of a running full run, and the current score."""

    dataset = models.OneToOneField("datasets.Dataset", on_delete=models.CASCADE, primary_key=True,
                                   related_name="+")
    cursor_seq = models.BigIntegerField(default=0, help_text="changes up to this seq have been checked")
    full_requested_at = models.DateTimeField(null=True, blank=True, help_text="a full run is due (rules changed)")
    last_full_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_failing = models.PositiveIntegerField(default=0)
    score = models.FloatField(null=True, blank=True, help_text="share of live rows without failures (0–1)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "质量检查进度"

    def __str__(self) -> str:
        return f"quality state of {self.dataset_id}"


class QualityRun(NodeOwnedModel):
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=RunKind.choices)
    from_seq = models.BigIntegerField(default=0)
    to_seq = models.BigIntegerField(default=0)
    rows_checked = models.PositiveIntegerField(default=0)
    rows_failing = models.PositiveIntegerField(default=0, help_text="of the rows checked")
    issues = models.PositiveIntegerField(default=0, help_text="failures found among the rows checked")
    rows_total = models.PositiveIntegerField(default=0, help_text="live rows after the run")
    rows_failing_total = models.PositiveIntegerField(default=0, help_text="failing live rows after the run")
    score = models.FloatField(null=True, blank=True, help_text="the dataset's score after the run")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "质量检查记录"
        indexes = [models.Index(fields=["dataset", "started_at"], name="quality_run_dataset")]


class QualityIssue(models.Model):
    """One failure of one live row: record key, column, rule and reason. Never the value."""

    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    record_key = models.CharField(max_length=128)
    column_name = models.CharField(max_length=64)
    rule = models.ForeignKey(QualityRule, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    rule_key = models.CharField(max_length=64, help_text="builtin:<kind> or rule:<id>")
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    message = models.CharField(max_length=300)
    found_at = models.DateTimeField()

    class Meta:
        ordering = ["dataset", "record_key", "column_name"]
        verbose_name = "质量问题"
        indexes = [models.Index(fields=["dataset", "record_key"], name="quality_issue_key")]

    def __str__(self) -> str:
        return f"{self.record_key}.{self.column_name}: {self.rule_key}"


class Dispute(NodeOwnedModel):
    """疑义数据: a flagged record (or one item of it) of a dataset, answered by its providing department."""

    number = models.CharField("疑义编号", max_length=32, unique=True)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="+")
    record_key = models.CharField(max_length=128)
    column_name = models.CharField(max_length=64, blank=True)
    reason = models.TextField("疑义说明")
    category = models.CharField(max_length=16, choices=DisputeCategory.choices, default=DisputeCategory.WRONG_VALUE)
    evidence = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=16, choices=DisputeOrigin.choices, default=DisputeOrigin.CONSUMER)
    raised_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    raised_by_label = models.CharField(max_length=100, blank=True, help_text="platform raiser, e.g. fusion")
    raising_department = models.ForeignKey("organizations.Department", null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=24, choices=DisputeStatus.choices, default=DisputeStatus.SUBMITTED)
    submitted_at = models.DateTimeField()
    accept_due_at = models.DateTimeField()
    accept_due_provisional = models.BooleanField(default=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolve_due_at = models.DateTimeField(null=True, blank=True)
    resolve_due_provisional = models.BooleanField(default=False)
    stage_started_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolution_text = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    correction_batch_id = models.CharField(max_length=64, blank=True)
    # Set while open, cleared when closed: one open dispute per (dataset, key, column, raiser).
    open_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = "疑义数据"
        indexes = [
            models.Index(fields=["status", "accept_due_at"], name="dispute_accept_due"),
            models.Index(fields=["status", "resolve_due_at"], name="dispute_resolve_due"),
            models.Index(fields=["provider", "status"], name="dispute_provider"),
            models.Index(fields=["raising_department", "status"], name="dispute_raiser"),
            models.Index(fields=["dataset", "record_key"], name="dispute_record"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def due_at(self) -> dt.datetime | None:
        """The deadline of the current stage (None once closed)."""
        if self.status == DisputeStatus.SUBMITTED:
            return self.accept_due_at
        if self.status == DisputeStatus.ACCEPTED:
            return self.resolve_due_at
        return None


class DisputeStep(BaseModel):
    """One step of a dispute: who did what, from which state to which, with which text."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=16)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dispute", "created_at"]
        verbose_name = "疑义处理步骤"
