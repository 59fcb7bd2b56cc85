"""Read-only admin views of the rollup tables (derived figures; written only by the rollup service)."""

from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.stats.models import DepartmentDay, ResourceDay, RollupDay


@admin.register(RollupDay)
class RollupDayAdmin(ReadOnlyAdmin):
    list_display = ("day", "computed_at", "snapshot_at", "final_at", "departments")


@admin.register(DepartmentDay)
class DepartmentDayAdmin(ReadOnlyAdmin):
    list_display = ("day", "department", "resources", "mounted", "applications_received", "approved", "refused",
                    "review_median", "calls_query", "calls_verify", "late", "disputes_open")
    list_filter = ("day",)


@admin.register(ResourceDay)
class ResourceDayAdmin(ReadOnlyAdmin):
    list_display = ("day", "resource", "department", "calls_query", "calls_verify")
    list_filter = ("day",)
