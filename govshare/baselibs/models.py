"""Base libraries (基础库) installed on a node, their source bindings, fusion runs, discrepancies, lineage.

A library is defined as data (``govshare/baselibs/data/*.json``); installing it on a node creates a catalog
resource (基础信息资源) with a mounted dataset, and binds every field to exactly one authoritative source
column (一数一源) and any number of cross-check source columns (多元校核) of other mounted datasets.
"""

from __future__ import annotations

from django.db import models

from govshare.baselibs.choices import (
    DiscrepancyStatus,
    LibraryStatus,
    Resolution,
    RunStatus,
    RunTrigger,
    SourceRole,
)
from govshare.core.models import BaseModel, NodeOwnedModel


class BaseLibrary(NodeOwnedModel):
    code = models.CharField(max_length=32, help_text="the definition's code, e.g. population")
    name = models.CharField(max_length=100)
    definition = models.JSONField(help_text="the definition as installed (a snapshot)")
    resource = models.OneToOneField("catalog.Resource", on_delete=models.PROTECT, related_name="base_library")
    dataset = models.OneToOneField("datasets.Dataset", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=LibraryStatus.choices, default=LibraryStatus.ACTIVE)
    # "Run now" only marks the library due; the periodic job runs it (side effects never inline).
    due = models.BooleanField(default=False)
    due_full = models.BooleanField(default=False)
    due_at = models.DateTimeField(null=True, blank=True, help_text="when the pending run was requested")
    # The lease of the run in progress: a conditional UPDATE takes it, so two workers never fuse one library.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    installed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["code"]
        verbose_name = "基础库"
        constraints = [models.UniqueConstraint(fields=["node", "code"], name="uniq_baselib_node_code")]

    def __str__(self) -> str:
        return self.name


class LibrarySource(BaseModel):
    """One field's binding to a source column: the authoritative one, or a cross-check."""

    library = models.ForeignKey(BaseLibrary, on_delete=models.CASCADE, related_name="sources")
    field = models.CharField(max_length=64, help_text="the library column")
    role = models.CharField(max_length=16, choices=SourceRole.choices)
    position = models.PositiveSmallIntegerField(default=0, help_text="order of the cross-checks of a field")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="+")
    column = models.CharField(max_length=64, help_text="the source column holding the field's value")
    match_column = models.CharField(
        max_length=64, help_text="the source column holding the library key: the dataset's key column, or "
                                 "another column for a grouped (multi-valued) field")
    consumed_seq = models.BigIntegerField(default=0, help_text="the source's change seq fused so far")

    class Meta:
        ordering = ["library", "field", "role", "position"]
        verbose_name = "基础库数据来源"
        constraints = [
            models.UniqueConstraint(fields=["library", "field", "dataset", "column"], name="uniq_baselib_binding"),
            # 一数一源 in the schema too: at most one authoritative binding per field.
            models.UniqueConstraint(fields=["library", "field"], condition=models.Q(role="authoritative"),
                                    name="uniq_baselib_authoritative"),
        ]

    def __str__(self) -> str:
        return f"{self.field} <- {self.dataset_id}.{self.column} ({self.role})"

    @property
    def grouped(self) -> bool:
        return self.match_column != self.dataset.key_column


class FusionRun(BaseModel):
    library = models.ForeignKey(BaseLibrary, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, default=RunTrigger.SCHEDULE)
    full = models.BooleanField(default=False)
    actor_label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="heartbeat: renewed after every chunk")
    source_seqs = models.JSONField(default=dict, help_text="{dataset id: change seq read up to}")
    batches = models.PositiveIntegerField(default=0)
    keys_examined = models.PositiveIntegerField(default=0)
    upserts = models.PositiveIntegerField(default=0, help_text="records inserted or updated in the library")
    deletes = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    discrepancies_new = models.PositiveIntegerField(default=0)
    discrepancies_resolved = models.PositiveIntegerField(default=0)
    disputes_raised = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0, help_text="fused records the library's items refused")
    problems = models.JSONField(default=list, blank=True, help_text="the first refused records: key, field, reason")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "融合作业"
        indexes = [models.Index(fields=["library", "status"], name="fusionrun_library_status")]

    def __str__(self) -> str:
        return f"{self.library_id} run {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class Discrepancy(BaseModel):
    """A cross-check source disagrees with the authoritative source on one field of one record (多元校核).

    Values are stored SM4-encrypted (``encrypt_secret``, purpose ``baselibs.discrepancy``) so that the data
    office and the authoritative department can see them masked per the data element, with an HMAC-SM3
    blind index of the normalised value beside each, so that "still the same disagreement" is decided
    without decrypting."""

    library = models.ForeignKey(BaseLibrary, on_delete=models.CASCADE, related_name="discrepancies")
    key = models.CharField(max_length=128)
    field = models.CharField(max_length=64)
    authoritative = models.ForeignKey(LibrarySource, on_delete=models.CASCADE, related_name="+")
    cross_check = models.ForeignKey(LibrarySource, on_delete=models.CASCADE, related_name="+")
    authoritative_value = models.TextField(blank=True, help_text="encrypted token; empty when missing")
    cross_check_value = models.TextField(help_text="encrypted token")
    authoritative_hash = models.CharField(max_length=64, blank=True)
    cross_check_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN)
    resolution = models.CharField(max_length=24, choices=Resolution.choices, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    times_opened = models.PositiveIntegerField(default=1)
    dispute_id = models.CharField(max_length=64, blank=True, help_text="the 疑义数据 raised against the source")

    class Meta:
        ordering = ["-last_seen"]
        verbose_name = "校核差异"
        constraints = [
            models.UniqueConstraint(fields=["library", "key", "field", "cross_check"], name="uniq_discrepancy"),
        ]
        indexes = [models.Index(fields=["library", "status", "last_seen"], name="discrepancy_lib_status")]

    def __str__(self) -> str:
        return f"{self.library_id}/{self.key}/{self.field} ({self.status})"


class Lineage(models.Model):
    """Where each value of one fused record came from (血缘).

    Compact on purpose: most fields of a record come from the same few source records, so the source
    versions are stored once (``sources``: a list of ``[dataset id, seq]``, seq being the source's change
    sequence number of the record as read) and each field points at one of them by index (``fields``:
    ``{column: index}``). A 人口 record with 11 fields from 4 sources stores 4 versions, not 11."""

    id = models.BigAutoField(primary_key=True)
    library = models.ForeignKey(BaseLibrary, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    sources = models.JSONField(default=list)
    fields = models.JSONField(default=dict)
    run = models.ForeignKey(FusionRun, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "融合血缘"
        constraints = [models.UniqueConstraint(fields=["library", "key"], name="uniq_lineage_key")]

    def __str__(self) -> str:
        return f"{self.library_id}/{self.key}"


class GroupMember(models.Model):
    """Index of a grouped source: which source records (e.g. 行政处罚 by 决定书文号) belong to which library
    key (the subject's 统一社会信用代码). Kept by the fusion job from the source's change log."""

    id = models.BigAutoField(primary_key=True)
    library = models.ForeignKey(BaseLibrary, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    match_column = models.CharField(max_length=64)
    group_key = models.CharField(max_length=128)
    record_key = models.CharField(max_length=128)
    mark = models.CharField(max_length=36, blank=True, help_text="the full run that last saw it (mark and sweep)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["library", "dataset", "match_column", "record_key"],
                                    name="uniq_group_member"),
        ]
        indexes = [models.Index(fields=["library", "dataset", "match_column", "group_key"],
                                name="group_member_group")]

    def __str__(self) -> str:
        return f"{self.group_key} <- {self.record_key}"
