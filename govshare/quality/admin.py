"""Read-only admin for quality rules, runs and dispute metadata. Failing rows (QualityIssue) are not
registered: their record keys are departments' data (DESIGN.md §1: operators have no access to shared data)."""

from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.quality.models import Dispute, QualityRule, QualityRun


@admin.register(QualityRule)
class QualityRuleAdmin(ReadOnlyAdmin):
    list_display = ("kind", "element", "resource", "column_name", "active", "node", "created_at")
    list_filter = ("kind", "active")


@admin.register(QualityRun)
class QualityRunAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "kind", "rows_checked", "rows_failing", "score", "started_at", "finished_at")
    list_filter = ("kind",)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("number", "status", "origin", "category", "provider", "raising_department", "accept_due_at",
                    "resolve_due_at", "escalated_at")
    list_filter = ("status", "origin", "category")
    exclude = ("record_key", "evidence", "open_key")
