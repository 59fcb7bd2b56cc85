"""The audit log. Only ``govshare.audit.services`` writes it (DESIGN.md §4)."""

from __future__ import annotations

from django.db import models

from govshare.audit.choices import ActorType, Result


class AuditEvent(models.Model):
    # The primary key is the sequence number: gaps and a cut-off tail are detectable by it.
    seq = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True, db_index=True)
    actor_label = models.CharField(max_length=200, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    node_code = models.CharField(max_length=64, blank=True)
    department_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=128, blank=True, db_index=True)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.OK)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id}"
