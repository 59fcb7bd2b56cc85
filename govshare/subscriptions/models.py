"""Push subscriptions (订阅) to a consumer's webhook or table (库表交换), and their delivery log.

A subscription belongs to one grant that allows the ``subscription`` exchange mode and follows the change log
of that grant's dataset. Its durable state is the cursor (the last delivered sequence number) plus the batch in
flight (``in_flight``: the exact boundaries of the batch being sent, written BEFORE it is sent), so a worker
killed at any moment resends exactly the same batch with the same idempotency key.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from govshare.core.models import NodeOwnedModel
from govshare.subscriptions.choices import (
    DeliveryStatus,
    SinkEngine,
    SnapshotState,
    SubscriptionKind,
    SubscriptionStatus,
)


class Subscription(NodeOwnedModel):
    grant = models.ForeignKey("exchange.Grant", on_delete=models.PROTECT, related_name="+")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="+")
    consumer = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    name = models.CharField("名称", max_length=100)
    kind = models.CharField(max_length=16, choices=SubscriptionKind.choices)
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    cursor = models.BigIntegerField(default=0, help_text="the last change seq delivered (or skipped)")
    snapshot_state = models.CharField(max_length=16, choices=SnapshotState.choices, default=SnapshotState.NONE)
    snapshot_seq = models.BigIntegerField(null=True, blank=True, help_text="latest seq captured before the snapshot")
    snapshot_after_key = models.CharField(max_length=128, null=True, blank=True)
    in_flight = models.JSONField(null=True, blank=True, help_text="boundaries of the batch being sent")
    batch_size = models.PositiveIntegerField(default=100)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    paused_reason = models.CharField(max_length=200, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # webhook
    url = models.CharField(max_length=2000, blank=True)
    secret_enc = models.TextField(blank=True)
    # table sink (the consumer's own 前置库)
    sink_engine = models.CharField(max_length=16, choices=SinkEngine.choices, blank=True)
    sink_host = models.CharField(max_length=255, blank=True)
    sink_port = models.PositiveIntegerField(null=True, blank=True)
    sink_database = models.CharField(max_length=500, blank=True)
    sink_user = models.CharField(max_length=128, blank=True)
    sink_password_enc = models.TextField(blank=True)
    sink_table = models.CharField(max_length=130, blank=True)
    sink_key_column = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "订阅"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="subscription_due")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Delivery(models.Model):
    """One attempt to send one batch (compact; purged after ``SUBSCRIPTION_DELIVERY_RETENTION_DAYS``)."""

    id = models.BigAutoField(primary_key=True)
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    snapshot = models.BooleanField(default=False, help_text="a page of the initial data, not change-log entries")
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices)
    attempt = models.PositiveIntegerField(default=1)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["subscription", "created_at"], name="delivery_sub_created")]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.first_seq}-{self.last_seq} {self.status}"
