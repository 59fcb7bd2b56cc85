from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from govshare.accounts.choices import ADMIN_ROLES, Role


class User(AbstractUser):
    """A person. One role per account: the three administrators are separate people (三员分立)."""

    role = models.CharField(max_length=32, choices=Role.choices)
    node = models.ForeignKey("organizations.Node", on_delete=models.PROTECT, related_name="users")
    department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    display_name = models.CharField(max_length=100, blank=True)
    # TOTP seed, SM4-encrypted (envelope token); empty when no second factor is enrolled.
    totp_secret_enc = models.TextField(blank=True)
    totp_confirmed = models.BooleanField(default=False)
    totp_last_step = models.BigIntegerField(default=0, help_text="last accepted TOTP time step (no reuse)")
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "用户"
        ordering = ["username"]

    @property
    def is_admin_role(self) -> bool:
        return self.role in ADMIN_ROLES

    def __str__(self) -> str:
        return self.display_name or self.username


class SignInFailure(models.Model):
    """Failed sign-ins, kept to throttle by client address across all processes."""

    at = models.DateTimeField(db_index=True)
    client_ip = models.CharField(max_length=64, db_index=True)
    username = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"{self.username}@{self.client_ip}"


class ExternalIdentity(models.Model):
    """A person's account at the city's identity provider (统一身份认证, OIDC), linked to one platform user.

    Linked on the first single sign-on (by user name), then found by the provider's stable subject."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "统一身份认证关联"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="accounts_extid_issuer_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="accounts_extid_user_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer}#{self.subject}"
