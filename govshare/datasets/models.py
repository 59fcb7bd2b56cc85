"""Datasets held by the platform and mounted (挂接) to catalog resources, and their change log.

Rows live in one platform-managed table keyed by (dataset, generation, key). Values of L4 items are stored
sealed (SM4 ciphertext plus a blind index, :mod:`govshare.datasets.sealing`) in ``DatasetRecord.data`` and in
the change log alike; when the key item itself is L4 the stored ``key`` is its blind index. An upload writes a new
generation in chunks (its staging area); when every row validates, the dataset's ``generation``
pointer is switched in one short transaction (all-or-nothing, and the single SQLite writer is never
held for the whole load); rows of older generations are then deleted.
"""

from __future__ import annotations

from django.db import models

from govshare.core.models import NodeOwnedModel
from govshare.datasets.choices import ChangeOp, UploadStatus


class Dataset(NodeOwnedModel):
    resource = models.OneToOneField("catalog.Resource", on_delete=models.PROTECT, related_name="dataset")
    generation = models.PositiveIntegerField(default=0, help_text="the live generation; 0 = no data yet")
    row_count = models.PositiveIntegerField(default=0)
    key_column = models.CharField(max_length=64, blank=True)
    mounted_at = models.DateTimeField(null=True, blank=True)
    last_loaded_at = models.DateTimeField(null=True, blank=True)
    resource_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the published version whose items the live data was validated against"
    )
    last_seq = models.BigIntegerField(default=0, help_text="the highest committed change sequence number")
    last_received_at = models.DateTimeField(
        null=True, blank=True, help_text="when data last arrived (upload, batch or pull), changed or not")
    sealing = models.JSONField(
        default=dict, blank=True,
        help_text="how L4 items of the live data are sealed (govshare.datasets.sealing.Profile); {} = none")

    class Meta:
        verbose_name = "数据集"

    def __str__(self) -> str:
        return f"dataset of {self.resource_id}"


class DatasetRecord(models.Model):
    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    generation = models.PositiveIntegerField()
    key = models.CharField(max_length=128)
    data = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "generation", "key"], name="uniq_record_key"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.generation}/{self.key}"


class DatasetUpload(NodeOwnedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uploads")
    generation = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=UploadStatus.choices, default=UploadStatus.STAGING)
    mode = models.CharField(max_length=16, default="replace")
    resource_version = models.PositiveIntegerField(null=True, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=16, blank=True)
    encoding = models.CharField(max_length=32, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "数据上传"
        indexes = [models.Index(fields=["dataset", "status"], name="upload_dataset_status")]

    def __str__(self) -> str:
        return f"{self.filename or 'upload'} ({self.status})"


class ChangeBatch(models.Model):
    """One applied batch: an upload, an incremental batch, a connector page, a correction, a fusion chunk."""

    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    batch_id = models.CharField(max_length=120, help_text="the caller's idempotency id")
    kind = models.CharField(max_length=16)
    source = models.CharField(max_length=200, blank=True)
    first_seq = models.BigIntegerField(help_text="first_seq > last_seq when the batch changed nothing")
    last_seq = models.BigIntegerField()
    inserted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "batch_id"], name="uniq_change_batch_id")]

    def __str__(self) -> str:
        return f"{self.dataset_id}/{self.batch_id}"


class DatasetChange(models.Model):
    id = models.BigAutoField(primary_key=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.BigIntegerField()
    key = models.CharField(max_length=128)
    op = models.CharField(max_length=8, choices=ChangeOp.choices)
    data = models.JSONField(null=True, help_text="the record after the change; null for a delete")
    old = models.JSONField(null=True, help_text="the record before the change; null for an insert")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "seq"], name="uniq_change_seq")]

    def __str__(self) -> str:
        return f"{self.dataset_id}#{self.seq} {self.op} {self.key}"
