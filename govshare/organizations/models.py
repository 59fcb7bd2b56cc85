from __future__ import annotations

from django.db import models

from govshare.core.models import BaseModel
from govshare.organizations.choices import NodeLevel, RegionLevel


class Region(models.Model):
    """A GB/T 2260 行政区划 code. Retired codes are kept (``current=False``) for historical data."""

    code = models.CharField(max_length=6, primary_key=True)
    name = models.CharField(max_length=64)
    level = models.CharField(max_length=16, choices=RegionLevel.choices)
    parent_code = models.CharField(max_length=6, blank=True, db_index=True)
    current = models.BooleanField(default=True)
    version = models.CharField(max_length=16, default="2023")

    class Meta:
        ordering = ["code"]
        verbose_name = "行政区划"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Node(BaseModel):
    """A platform node (省-市-县). ``code`` is its own identity; the region is optional
    (a functional zone such as 潮州 枫溪区 has no GB/T 2260 code)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=16, choices=NodeLevel.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_local = models.BooleanField(default=False, help_text="this installation's own node")
    # Prefix of resource codes made on this node, unique across the province–city–county tree.
    code_prefix = models.CharField(max_length=32, unique=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "节点"

    def __str__(self) -> str:
        return self.name


class Department(BaseModel):
    """A government department (政务部门) on one node."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="departments")
    name = models.CharField(max_length=100)
    short_name = models.CharField(max_length=40, blank=True)
    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    is_data_office = models.BooleanField("数据主管部门", default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["node__code", "name"]
        verbose_name = "部门"
        constraints = [models.UniqueConstraint(fields=["node", "name"], name="uniq_department_name_per_node")]

    def __str__(self) -> str:
        return self.name
