from django.contrib import admin

from govshare.catalog.models import Classification, DataElement, Resource, ResourceVersion
from govshare.core.admin import ReadOnlyAdmin


@admin.register(DataElement)
class DataElementAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "column_name", "data_type", "sensitivity", "mask_kind")
    search_fields = ("code", "name")


@admin.register(Classification)
class ClassificationAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "category", "level")


@admin.register(Resource)
class ResourceAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "provider", "status", "share_type", "sensitivity")
    list_filter = ("status", "share_type", "category")
    search_fields = ("code", "name")


@admin.register(ResourceVersion)
class ResourceVersionAdmin(ReadOnlyAdmin):
    list_display = ("resource", "number", "tightened", "created_at")
