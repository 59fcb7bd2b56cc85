"""Data keys for envelope encryption (DESIGN.md §4 "Keys and secrets at rest").

Each row holds one SM4 data key wrapped (SM4-GCM) under the key-encryption key (KEK) named by
``kek_id``; the KEK itself never enters the database. Rows are written only by
:mod:`govshare.core.crypto.envelope`.
"""

from __future__ import annotations

from django.db import models

from govshare.core.models.base import BaseModel


class DataKey(BaseModel):
    """An SM4 data key, wrapped under a KEK. At most one key per purpose is active (used to encrypt);
    inactive keys stay to decrypt what they encrypted."""

    key_id = models.CharField("密钥标识 (key id)", max_length=32, unique=True)
    wrapped_key = models.BinaryField("封装密钥 (wrapped key)")
    kek_id = models.CharField("主密钥标识 (KEK id)", max_length=64)
    purpose = models.CharField("用途 (purpose)", max_length=64, default="default", db_index=True)
    active = models.BooleanField("启用 (active)", default=True)
    deactivated_at = models.DateTimeField("停用时间 (deactivated at)", null=True, blank=True)

    class Meta:
        verbose_name = "数据密钥 (data key)"
        verbose_name_plural = "数据密钥 (data keys)"
        ordering = ["purpose", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose"],
                condition=models.Q(active=True),
                name="core_datakey_one_active_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.active else "inactive"
        return f"{self.key_id} ({self.purpose}, {state})"
