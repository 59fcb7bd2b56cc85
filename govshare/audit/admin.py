from django.contrib import admin

from govshare.audit.models import AuditEvent
from govshare.core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "occurred_at", "actor_label", "action", "target_type", "target_id", "result")
    list_filter = ("result", "action")
    search_fields = ("action", "target_id", "actor_label")
