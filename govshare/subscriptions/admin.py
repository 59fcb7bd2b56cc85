from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.subscriptions.models import Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "status", "consumer", "cursor", "consecutive_failures", "next_attempt_at")
    list_filter = ("kind", "status")
    exclude = ("secret_enc", "sink_password_enc")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("subscription", "first_seq", "last_seq", "count", "status", "attempt", "created_at")
    list_filter = ("status",)
