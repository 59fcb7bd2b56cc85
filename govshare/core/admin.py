"""Django admin is a read-only window for operators (DESIGN.md §4): business writes go through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# Roles allowed to browse the admin (read-only). Business data of departments stays out of it.
ADMIN_BROWSER_ROLES = frozenset({"sys_admin", "sec_admin", "audit_admin"})


def may_browse_admin(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(user.is_active and user.is_authenticated and getattr(user, "role", "") in ADMIN_BROWSER_ROLES)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg,unused-ignore]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_browse_admin(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_browse_admin(request)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


def _register_job_admins() -> None:
    # Imported here: the models module imports nothing from the admin, but keep admin import order simple.
    from govshare.core.models.jobs import ScheduledJob, WorkerHeartbeat

    @admin.register(ScheduledJob)
    class ScheduledJobAdmin(ReadOnlyAdmin):
        list_display = ("name", "enabled", "every_seconds", "next_run_at", "last_status", "last_finished_at",
                        "consecutive_failures", "runs", "lost_runs", "lease_owner")
        list_filter = ("enabled", "last_status")
        search_fields = ("name",)

    @admin.register(WorkerHeartbeat)
    class WorkerHeartbeatAdmin(ReadOnlyAdmin):
        list_display = ("id", "hostname", "pid", "started_at", "seen_at", "current_job")


_register_job_admins()
