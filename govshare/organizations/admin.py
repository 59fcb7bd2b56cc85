from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.organizations.models import Department, Node, Region


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "level", "current")
    search_fields = ("code", "name")


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "level", "parent", "region", "is_local")


@admin.register(Department)
class DepartmentAdmin(ReadOnlyAdmin):
    list_display = ("name", "uscc", "node", "is_data_office", "active")
    search_fields = ("name", "uscc")
