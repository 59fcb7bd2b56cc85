from __future__ import annotations

from django.db import models

from govshare.catalog.choices import (
    Category,
    ClassLevel,
    DataType,
    OpenType,
    ResourceStatus,
    Secrecy,
    Sensitivity,
    ShareType,
    UpdateCycle,
    Validator,
)
from govshare.core.models import BaseModel, NodeOwnedModel


class DataElement(BaseModel):
    """数据元 (GB/T 19488): one entry of the unified data dictionary, shared by every resource that
    carries it. Sensitivity and mask live here, so two grants never combine two masks of one value."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=64, unique=True)
    column_name = models.CharField(max_length=64, unique=True, help_text="English column name")
    data_type = models.CharField(max_length=16, choices=DataType.choices, default=DataType.STRING)
    length = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=200, blank=True, help_text="format or regular expression")
    validator = models.CharField(max_length=32, choices=Validator.choices, blank=True, default="")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.L1)
    mask_kind = models.CharField(max_length=32, blank=True, default="none")
    mask_params = models.JSONField(default=dict, blank=True)
    enum_values = models.JSONField(default=list, blank=True)
    low_entropy = models.BooleanField(default=False, help_text="few possible values: verify_only refused")
    is_personal = models.BooleanField(default=False, help_text="个人信息")
    description = models.TextField(blank=True)
    # Correlation rules: plain values of these elements let a masked value of this one be rebuilt
    # (身份证号 ← 出生日期 / 性别 / 籍贯). Used by the grant inference guard.
    correlated_with = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="+")

    class Meta:
        ordering = ["code"]
        verbose_name = "数据元"

    def __str__(self) -> str:
        return self.name


class Classification(models.Model):
    """One node of the classification tree (基础 / 主题 / 部门 × 类 / 项 / 目 / 细目)."""

    code = models.CharField(max_length=32, primary_key=True, help_text="full 分类码, e.g. 1 01 001")
    segment = models.CharField(max_length=16, help_text="this level's digits")
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=16, choices=Category.choices)
    level = models.CharField(max_length=8, choices=ClassLevel.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        ordering = ["code"]
        verbose_name = "资源分类"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def segments(self) -> dict[str, str]:
        """The 类/项/目/细目 digits from the root down to this node."""
        out = {"lei": "", "xiang": "", "mu": "", "ximu": ""}
        node: Classification | None = self
        while node is not None:
            out[node.level] = node.segment
            node = node.parent
        return out


class Resource(NodeOwnedModel):
    """信息资源: the working copy; what consumers see is ``published_version``."""

    code = models.CharField("信息资源代码", max_length=64, unique=True)
    sequence = models.PositiveIntegerField()
    name = models.CharField("信息资源名称", max_length=200)
    classification = models.ForeignKey(Classification, on_delete=models.PROTECT, related_name="resources")
    category = models.CharField(max_length=16, choices=Category.choices)
    provider = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="resources")
    source_department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="数源部门 (producing department), when different from the provider",
    )
    summary = models.TextField("摘要", blank=True)
    formats = models.JSONField("格式", default=list, blank=True)
    share_type = models.CharField(max_length=16, choices=ShareType.choices, default=ShareType.CONDITIONAL)
    share_condition = models.TextField("共享条件", blank=True)
    share_modes = models.JSONField("共享方式", default=list, blank=True)
    no_share_basis = models.TextField("不予共享依据", blank=True)
    open_type = models.CharField(max_length=16, choices=OpenType.choices, default=OpenType.NONE)
    open_condition = models.TextField("开放条件", blank=True)
    update_cycle = models.CharField(max_length=16, choices=UpdateCycle.choices, default=UpdateCycle.IRREGULAR)
    published_on = models.DateField("发布日期", null=True, blank=True)
    related_codes = models.JSONField("关联资源代码", default=list, blank=True)
    secrecy = models.CharField(max_length=16, choices=Secrecy.choices, default=Secrecy.NON_SECRET)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.L1)
    status = models.CharField(max_length=24, choices=ResourceStatus.choices, default=ResourceStatus.DRAFT)
    published_version = models.ForeignKey(
        "catalog.ResourceVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_listed = models.BooleanField(default=False, help_text="has a live published version (not withdrawn)")
    review_note = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    search_text = models.TextField(blank=True, help_text="segmented text for full-text search")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["code"]
        verbose_name = "信息资源"
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["is_listed", "provider"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DataItem(BaseModel):
    """信息项: a column of a resource, referencing a data element."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    element = models.ForeignKey(DataElement, on_delete=models.PROTECT, related_name="items")
    column_name = models.CharField(max_length=64)
    data_type = models.CharField(max_length=16, choices=DataType.choices)
    length = models.PositiveIntegerField(null=True, blank=True)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices)
    required = models.BooleanField(default=False)
    is_key = models.BooleanField(default=False, help_text="the lookup key (e.g. 身份证号)")

    class Meta:
        ordering = ["resource", "position"]
        verbose_name = "信息项"
        constraints = [
            models.UniqueConstraint(fields=["resource", "column_name"], name="uniq_item_column"),
            models.UniqueConstraint(fields=["resource", "position"], name="uniq_item_position"),
        ]

    def __str__(self) -> str:
        return self.name


class ResourceVersion(BaseModel):
    """An immutable published snapshot of a resource and its items."""

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    published_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    change_summary = models.JSONField(default=dict, blank=True)
    tightened = models.BooleanField(default=False, help_text="share attributes or levels became stricter")

    class Meta:
        ordering = ["resource", "number"]
        verbose_name = "资源版本"
        constraints = [models.UniqueConstraint(fields=["resource", "number"], name="uniq_version_number")]


class ReviewRecord(BaseModel):
    """One lifecycle step of a resource (who did what, from which state, with which reason)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="reviews")
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24)
    to_status = models.CharField(max_length=24)
    actor = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["resource", "created_at"]


class CodeSequence(models.Model):
    """Per (node, classification) counter for the 顺序码 of resource codes."""

    node = models.ForeignKey("organizations.Node", on_delete=models.CASCADE, related_name="+")
    classification = models.ForeignKey(Classification, on_delete=models.CASCADE, related_name="+")
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "classification"], name="uniq_code_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id}/{self.classification_id}={self.last}"
