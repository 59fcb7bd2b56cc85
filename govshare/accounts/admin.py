from django.contrib import admin

from govshare.accounts.models import ExternalIdentity, User
from govshare.core.admin import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ("username", "display_name", "role", "node", "department", "totp_confirmed", "locked_until")
    list_filter = ("role",)
    search_fields = ("username", "display_name")
    exclude = ("password", "totp_secret_enc")


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "issuer", "subject", "created_at")
    search_fields = ("user__username", "subject")
