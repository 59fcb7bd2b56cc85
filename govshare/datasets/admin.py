"""Read-only admin for dataset metadata. Rows (DatasetRecord) are deliberately not registered: they are
departments' shared data, and operators (sys_admin) have no access to shared data (DESIGN.md §1)."""

from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.datasets.models import Dataset, DatasetUpload


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ("resource", "generation", "row_count", "key_column", "mounted_at", "last_loaded_at")
    search_fields = ("resource__code", "resource__name")


@admin.register(DatasetUpload)
class DatasetUploadAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "generation", "status", "filename", "file_format", "rows_total",
                    "problem_count", "uploaded_by", "created_at")
    list_filter = ("status", "file_format")
