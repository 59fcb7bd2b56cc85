"""Read-only admin for operators (house rule: business writes go through the services)."""

from __future__ import annotations

from django.contrib import admin

from govshare.core.admin import ReadOnlyAdmin
from govshare.licences.models import (
    Licence,
    LicenceLibrary,
    LicenceType,
    LicenceUse,
    ServiceItem,
    ServiceMaterial,
    SigningKey,
)


@admin.register(LicenceType)
class LicenceTypeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "department", "holder_kind", "validity_rule", "active")
    search_fields = ("code", "name")


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "department", "valid_from", "retired_at", "active", "node_key_id")
    exclude = ("private_key",)


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    list_display = ("number", "licence_type", "holder_name", "issuer", "valid_to", "status")
    list_filter = ("status",)
    search_fields = ("number",)
    exclude = ("holder_id_enc", "holder_index")


@admin.register(LicenceLibrary)
class LicenceLibraryAdmin(ReadOnlyAdmin):
    list_display = ("node", "resource")


@admin.register(LicenceUse)
class LicenceUseAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "actor_label", "case_number", "item_code")
    exclude = ("holder_index",)


@admin.register(ServiceItem)
class ServiceItemAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "department")


@admin.register(ServiceMaterial)
class ServiceMaterialAdmin(ReadOnlyAdmin):
    list_display = ("item", "position", "name", "licence_type")
