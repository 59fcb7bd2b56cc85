"""Applications (共享申请), their review steps, grants (授权) with per-item modes, suspensions, and the
shared state the data plane reads (authorization epoch, nonces, usage counters)."""

from __future__ import annotations

from django.db import models

from govshare.core.models import BaseModel, NodeOwnedModel
from govshare.exchange.choices import (
    ApplicationStatus,
    GrantStatus,
    ItemMode,
    RefusalReason,
    SuspensionScope,
)


class ReviewPolicy(BaseModel):
    """Per-node review stages and their deadlines in working days (DESIGN.md §3)."""

    node = models.OneToOneField("organizations.Node", on_delete=models.CASCADE, related_name="review_policy")
    internal_review = models.BooleanField("部门内部审核", default=False)
    compliance_review = models.BooleanField("符合性审查", default=True)
    internal_days = models.PositiveSmallIntegerField(default=2)
    compliance_days = models.PositiveSmallIntegerField(default=2)
    provider_days = models.PositiveSmallIntegerField(default=10)
    supply_days = models.PositiveSmallIntegerField(default=5)
    coordination_days = models.PositiveSmallIntegerField(default=5)
    reminder_days = models.PositiveSmallIntegerField("提前提醒(工作日)", default=2)


class Application(NodeOwnedModel):
    """共享申请: a consumer department asks for items of a published resource for a purpose."""

    number = models.CharField("申请编号", max_length=32, unique=True)
    resource = models.ForeignKey("catalog.Resource", on_delete=models.PROTECT, related_name="applications")
    resource_version = models.PositiveIntegerField()
    provider = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    consumer = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="applications")
    system = models.ForeignKey("registry.InformationSystem", on_delete=models.PROTECT, related_name="applications")
    applicant = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="applications")
    items = models.JSONField("申请信息项", default=list)
    modes = models.JSONField("交换方式", default=list)
    purpose = models.TextField("申请事由")
    legal_basis = models.TextField("依据", blank=True)
    valid_from = models.DateField()
    valid_to = models.DateField()
    status = models.CharField(max_length=24, choices=ApplicationStatus.choices)
    stage_started_at = models.DateTimeField(null=True, blank=True)
    stage_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stage_due_provisional = models.BooleanField(default=False)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.CharField(max_length=32, choices=RefusalReason.choices, blank=True)
    refusal_text = models.TextField(blank=True)
    renewal_of = models.ForeignKey("exchange.Grant", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="renewals")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "共享申请"
        indexes = [models.Index(fields=["status", "stage_due_at"])]

    def __str__(self) -> str:
        return self.number


class ApplicationStep(BaseModel):
    """One review step: who acted, from which state to which, with which reason or decision."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["application", "created_at"]


class Grant(NodeOwnedModel):
    """授权: what one consumer system may take from one resource, item by item."""

    application = models.OneToOneField(Application, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="grant")
    resource = models.ForeignKey("catalog.Resource", on_delete=models.PROTECT, related_name="grants")
    provider = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    consumer = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="grants")
    system = models.ForeignKey("registry.InformationSystem", on_delete=models.PROTECT, related_name="grants")
    modes = models.JSONField(default=list)
    purpose = models.TextField()
    valid_from = models.DateField()
    valid_to = models.DateField()
    status = models.CharField(max_length=16, choices=GrantStatus.choices, default=GrantStatus.ACTIVE)
    row_filter = models.JSONField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    daily_quota = models.PositiveIntegerField(default=10000)
    verify_quota_per_key = models.PositiveIntegerField(default=5, help_text="verify calls per (grant, key) per day")
    verify_all_match_only = models.BooleanField(default=False)
    needs_review = models.BooleanField(default=False, help_text="the resource was tightened after granting")
    review_reasons = models.JSONField(default=list, blank=True)
    guard_override_reason = models.TextField(blank=True, help_text="sec_admin override of the inference guard")
    watermark_secret_enc = models.TextField(blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "授权"
        indexes = [models.Index(fields=["system", "status"]), models.Index(fields=["resource", "status"])]

    def __str__(self) -> str:
        return f"grant {self.pk}"


class GrantItem(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="items")
    column_name = models.CharField(max_length=64)
    mode = models.CharField(max_length=16, choices=ItemMode.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grant", "column_name"], name="uniq_grant_item")]

    def __str__(self) -> str:
        return f"{self.column_name}:{self.mode}"


class Suspension(BaseModel):
    """应急停用 by the security administrator: a grant, a system or a whole department, at once."""

    node = models.ForeignKey("organizations.Node", null=True, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=16, choices=SuspensionScope.choices)
    target_id = models.UUIDField(db_index=True)
    reason = models.TextField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.scope}:{self.target_id}"


class Nonce(models.Model):
    """Request nonces remembered across all processes for the timestamp window (replay protection)."""

    value = models.CharField(max_length=100, primary_key=True)  # app_key:nonce
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.value


class UsageCounter(models.Model):
    """Shared counters for rate limits and quotas: (grant, bucket) → count.

    Buckets: ``m:YYYYMMDDHHMM`` (per minute), ``d:YYYYMMDD`` (per day), ``v:YYYYMMDD:<key hmac>`` (verify
    calls per key per day)."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="+")
    bucket = models.CharField(max_length=120)
    count = models.PositiveIntegerField(default=0)
    day = models.DateField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grant", "bucket"], name="uniq_usage_bucket")]

    def __str__(self) -> str:
        return f"{self.bucket}={self.count}"


class VerifyClaim(models.Model):
    """Distinct claims made against one key under one grant per day (enumeration alert)."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="+")
    key_hmac = models.CharField(max_length=64)
    claim_hash = models.CharField(max_length=64)
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grant", "key_hmac", "claim_hash", "day"],
                                               name="uniq_verify_claim")]

    def __str__(self) -> str:
        return self.claim_hash


class Notification(BaseModel):
    """Outbox of messages to people (reminders, escalations, decisions). Written in the same transaction as
    the change; delivered after commit by the worker (e-mail/SMS/IM connectors come later), shown in the
    portal meanwhile."""

    department = models.ForeignKey("organizations.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    role = models.CharField(max_length=32, blank=True, help_text="recipients: this role within the department")
    node = models.ForeignKey("organizations.Node", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    kind = models.CharField(max_length=32)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="notifications")
    grant = models.ForeignKey(Grant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    dedupe_key = models.CharField(max_length=120, unique=True, help_text="re-running a task adds nothing")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


class AuthFailure(models.Model):
    """Failed data-plane authentications per minute, shared by every server process (credential guessing):
    ``bucket`` is ``k:<AppKey>:<YYYYMMDDHHMM>`` or ``a:<client address>:<YYYYMMDDHHMM>``. Rows older than a few
    minutes are purged as new ones are written."""

    bucket = models.CharField(max_length=160, unique=True)
    count = models.PositiveIntegerField(default=0)
    minute = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.bucket}={self.count}"
