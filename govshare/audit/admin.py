from django.contrib import admin

from govshare.audit.models import AuditBlock, AuditEvent, NodeKey, VerificationRun
from govshare.core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "occurred_at", "actor_label", "action", "target_type", "target_id", "result")
    list_filter = ("result", "action")
    search_fields = ("action", "target_id", "actor_label")


@admin.register(AuditBlock)
class AuditBlockAdmin(ReadOnlyAdmin):
    list_display = ("number", "first_seq", "last_seq", "count", "head", "key_id", "created_at")
    exclude = ("tags",)


@admin.register(NodeKey)
class NodeKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "node_code", "active", "created_at")
    exclude = ("private_key",)  # an envelope token, but still nothing to show


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "finished_at", "ok", "key_source", "sealed_last_seq", "first_bad_seq", "problem_count",
                    "run_by")
