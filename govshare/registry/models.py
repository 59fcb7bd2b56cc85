from __future__ import annotations

from django.db import models

from govshare.core.models import NodeOwnedModel
from govshare.registry.choices import CredentialStatus


class InformationSystem(NodeOwnedModel):
    """信息系统: a department's information system. Credentials and grants belong to systems."""

    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="systems")
    name = models.CharField(max_length=120)
    purpose = models.TextField("功能/用途", blank=True)
    active = models.BooleanField(default=True)
    # The system's SM2 public key (uncompressed hex): L4 requests are also signed with the private key,
    # which never leaves the department, so the platform cannot forge a call (谁经手谁负责).
    sm2_public_key = models.CharField(max_length=130, blank=True)

    class Meta:
        ordering = ["department__name", "name"]
        verbose_name = "信息系统"
        constraints = [models.UniqueConstraint(fields=["department", "name"], name="uniq_system_name_per_dept")]

    def __str__(self) -> str:
        return self.name


class AppCredential(NodeOwnedModel):
    """AppKey + AppSecret of a system. The secret is SM4-encrypted (the server recomputes HMACs)."""

    system = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="credentials")
    app_key = models.CharField(max_length=40, unique=True)
    secret_enc = models.TextField()
    status = models.CharField(max_length=16, choices=CredentialStatus.choices, default=CredentialStatus.ACTIVE)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "应用凭证"

    def __str__(self) -> str:
        return self.app_key


class HostPurpose(models.TextChoices):
    """What an outbound destination may be used for (DESIGN.md §6: no SSRF into the government network)."""

    CONNECTOR = "connector", "数据库连接 (connector: source connectors and table sinks)"
    WEBHOOK = "webhook", "Webhook 推送 (webhook)"
    BOTH = "both", "两者 (both)"


class AllowedHost(NodeOwnedModel):
    """出站白名单: a host the platform may connect to, kept by the node's system administrator.

    ``host`` is a DNS name (lower-case, IDNA), an IP address or a CIDR network; ``port`` ``None`` means any
    port. Checked by :mod:`govshare.registry.netpolicy`, the one place outbound destinations are checked.
    """

    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(null=True, blank=True, help_text="empty = any port")
    purpose = models.CharField(max_length=16, choices=HostPurpose.choices, default=HostPurpose.BOTH)
    note = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")

    class Meta:
        ordering = ["host", "port"]
        verbose_name = "出站白名单 (allowed host)"
        indexes = [models.Index(fields=["node", "active"], name="allowedhost_node_active")]

    def __str__(self) -> str:
        return f"{self.host}:{self.port or '*'} ({self.purpose})"
