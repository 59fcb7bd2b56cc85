"""Rollup tables of the sharing statistics (共享统计): daily figures per department and per resource.

The home page and the stats API read only these tables (DESIGN.md §4: statistics come from rollups, never
from scanning the audit log). :func:`govshare.stats.services.refresh_rollups` writes them from the domain
tables; docs/statistics.md explains every figure.

Two kinds of figures:

- *stock* figures (资源数, 挂接数, 更新不及时, 疑义数据 open/overdue) describe the state at a moment: they are
  snapshotted while the day is current (``RollupDay.snapshot_at`` says when) and kept when a past day is
  re-run;
- *flow* figures (申请, 审核用时, 调用次数) count timestamped events of the day: re-running the day recomputes
  them exactly and replaces the rows.
"""

from __future__ import annotations

from django.db import models


class RollupDay(models.Model):
    """One computed day: when its figures were last computed, when its stock figures were taken and whether
    the day was finalised after it ended (the nightly run)."""

    day = models.DateField(primary_key=True)
    computed_at = models.DateTimeField()
    snapshot_at = models.DateTimeField(null=True, blank=True, help_text="when the stock figures were taken")
    final_at = models.DateTimeField(null=True, blank=True, help_text="recomputed after the day ended")
    departments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name = "统计日"

    def __str__(self) -> str:
        return self.day.isoformat()


class DepartmentDay(models.Model):
    """Daily figures of one department. ``region_code`` and ``node`` are copied at computation time (the
    department's 行政区划, else its node's), so per-region figures are derived without a join back."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    department = models.ForeignKey("organizations.Department", on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey("organizations.Node", on_delete=models.CASCADE, related_name="+")
    region_code = models.CharField(max_length=6, blank=True)

    # stock (snapshot) figures, as the providing department
    resources = models.PositiveIntegerField("已发布资源", default=0)
    mounted = models.PositiveIntegerField("已挂接资源", default=0)
    scheduled = models.PositiveIntegerField("有更新周期的已挂接资源", default=0)
    late = models.PositiveIntegerField("更新不及时", default=0)
    disputes_open = models.PositiveIntegerField("未办结疑义", default=0)
    disputes_overdue = models.PositiveIntegerField("超期疑义", default=0)

    # flow figures of the day
    applications_received = models.PositiveIntegerField("收到的共享申请", default=0)
    applications_made = models.PositiveIntegerField("提出的共享申请", default=0)
    approved = models.PositiveIntegerField("同意", default=0)
    refused = models.PositiveIntegerField("拒绝", default=0)
    review_days = models.JSONField("审核用时分布(工作日→件数)", default=dict, blank=True)
    review_median = models.FloatField("审核用时中位数(工作日)", null=True, blank=True)
    review_p90 = models.FloatField("审核用时90分位(工作日)", null=True, blank=True)
    calls_query = models.PositiveIntegerField("查询及下载调用", default=0)
    calls_verify = models.PositiveIntegerField("核验调用", default=0)
    calls_made = models.PositiveIntegerField("作为使用方的调用", default=0)
    disputes_raised = models.PositiveIntegerField("新增疑义", default=0)

    class Meta:
        ordering = ["day", "department"]
        verbose_name = "部门日统计"
        constraints = [models.UniqueConstraint(fields=["day", "department"], name="uniq_stats_department_day")]
        indexes = [models.Index(fields=["department", "day"], name="stats_deptday_dept")]

    def __str__(self) -> str:
        return f"{self.day} {self.department_id}"


class ResourceDay(models.Model):
    """Daily data-plane calls on one resource (the top-resources list and the department page)."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
    resource = models.ForeignKey("catalog.Resource", on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey("organizations.Department", on_delete=models.CASCADE, related_name="+")
    calls_query = models.PositiveIntegerField(default=0)
    calls_verify = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "resource"]
        verbose_name = "资源日调用"
        constraints = [models.UniqueConstraint(fields=["day", "resource"], name="uniq_stats_resource_day")]
        indexes = [models.Index(fields=["department", "day"], name="stats_resday_dept")]

    def __str__(self) -> str:
        return f"{self.day} {self.resource_id}"
