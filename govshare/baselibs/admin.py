"""Read-only admin for base-library metadata. Discrepancy values (encrypted) and lineage are not shown: they
concern departments' shared data, which operators (sys_admin) have no access to (DESIGN.md §1)."""

from django.contrib import admin

from govshare.baselibs.models import BaseLibrary, FusionRun, LibrarySource
from govshare.core.admin import ReadOnlyAdmin


@admin.register(BaseLibrary)
class BaseLibraryAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "node", "status", "due", "lease_until", "created_at")
    list_filter = ("status",)
    exclude = ("definition",)


@admin.register(LibrarySource)
class LibrarySourceAdmin(ReadOnlyAdmin):
    list_display = ("library", "field", "role", "dataset", "column", "match_column", "consumed_seq")
    list_filter = ("role",)


@admin.register(FusionRun)
class FusionRunAdmin(ReadOnlyAdmin):
    list_display = ("library", "status", "trigger", "full", "started_at", "finished_at", "keys_examined", "upserts",
                    "deletes", "discrepancies_new", "discrepancies_resolved")
    list_filter = ("status", "trigger", "full")
    exclude = ("problems",)
