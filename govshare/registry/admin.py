from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.registry.models import AllowedHost, AppCredential, InformationSystem


@admin.register(InformationSystem)
class InformationSystemAdmin(ReadOnlyAdmin):
    list_display = ("name", "department", "active")


@admin.register(AppCredential)
class AppCredentialAdmin(ReadOnlyAdmin):
    list_display = ("app_key", "system", "status", "expires_at")
    exclude = ("secret_enc",)


@admin.register(AllowedHost)
class AllowedHostAdmin(ReadOnlyAdmin):
    list_display = ("host", "port", "purpose", "node", "active", "note", "created_by", "deactivated_at")
    list_filter = ("purpose", "active")
    search_fields = ("host", "note")
