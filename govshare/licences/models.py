"""Electronic licences (电子证照): the licence catalogue (证照目录), department signing keys, issued licences,
the licence library's catalog resource, licence uses (用证记录) and the 事项 → 材料 → 证照类型 mapping.

The holder's identifier (公民身份号码 / 统一社会信用代码) is stored only as an envelope token
(:func:`govshare.core.crypto.encrypt_secret`) plus an HMAC-SM3 blind index for lookups. Every licence carries
the SM2 signature of its canonical payload (:mod:`govshare.licences.payload`) by its issuing department's key;
the key itself is certified by the node's SM2 key, so a row edited in the database no longer verifies.
"""

from __future__ import annotations

from django.db import models

from govshare.core.models import BaseModel, NodeOwnedModel
from govshare.licences.choices import HolderKind, LicenceStatus, UseChannel, ValidityRule


class LicenceType(NodeOwnedModel):
    """证照类型 (one entry of the 证照目录): code, name, issuing department, holder kind, 照面 fields, validity."""

    code = models.CharField("证照类型代码", max_length=32)
    name = models.CharField("证照名称", max_length=100)
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT,
                                   related_name="licence_types", verbose_name="颁发部门")
    holder_kind = models.CharField("持证主体类型", max_length=16, choices=HolderKind.choices)
    # [{"name": "登记日期", "element": "DE0033", "required": true}, ...] in display order
    fields = models.JSONField("照面信息项", default=list, blank=True)
    validity_rule = models.CharField("有效期规则", max_length=16, choices=ValidityRule.choices)
    validity_years = models.PositiveSmallIntegerField("有效年限", null=True, blank=True)
    description = models.TextField("说明", blank=True)
    active = models.BooleanField("启用", default=True)
    last_number = models.PositiveIntegerField(default=0, help_text="counter of generated licence numbers")

    class Meta:
        ordering = ["node", "code"]
        verbose_name = "证照类型"
        constraints = [
            models.UniqueConstraint(fields=["node", "code"], name="licences_type_code_per_node"),
            models.UniqueConstraint(fields=["node", "name"], name="licences_type_name_per_node"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SigningKey(BaseModel):
    """An issuing department's SM2 signing key. Retired keys stay (public key and certification) so that
    licences signed before a rotation still verify; at most one key per department is active.

    ``certification`` is the node key's SM2 signature over the canonical (department code, key id, public key,
    valid_from, node) message (:func:`govshare.licences.payload.key_certificate_message`)."""

    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    key_id = models.CharField(max_length=32, unique=True)
    public_key = models.CharField(max_length=130)
    private_key = models.TextField(help_text="envelope token (purpose licence_sm2), never the key itself")
    valid_from = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    node_code = models.CharField(max_length=64, help_text="the certifying node")
    node_key_id = models.CharField(max_length=32, help_text="the node key (audit.NodeKey) that certified it")
    certification = models.TextField(help_text="hex DER SM2 signature of the node key")

    class Meta:
        ordering = ["department", "valid_from"]
        verbose_name = "证照签名密钥"
        constraints = [
            models.UniqueConstraint(fields=["department"], condition=models.Q(active=True),
                                    name="licences_one_active_key_per_department"),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({'active' if self.active else 'retired'})"


class Licence(NodeOwnedModel):
    """一张电子证照. The signed facts are the columns named in :func:`govshare.licences.payload.canonical`."""

    licence_type = models.ForeignKey(LicenceType, on_delete=models.PROTECT, related_name="licences")
    number = models.CharField("证照编号", max_length=64, unique=True)
    holder_kind = models.CharField(max_length=16, choices=HolderKind.choices)
    holder_id_enc = models.TextField(help_text="持证主体代码, envelope token (purpose licence_holder)")
    holder_index = models.CharField(max_length=64, db_index=True, help_text="blind index of the holder id")
    holder_masked = models.CharField(max_length=32, help_text="the holder id masked for lists (脱敏, not secret)")
    holder_name = models.CharField("持证主体", max_length=200)
    fields = models.JSONField("照面信息", default=dict, blank=True)
    issuer = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    issuer_code = models.CharField("颁发机构代码", max_length=18)
    valid_from = models.DateField("有效期起")
    valid_to = models.DateField("有效期至", null=True, blank=True)
    issued_at = models.DateTimeField("签发时间")
    signing_key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="licences")
    signature = models.TextField(help_text="hex DER SM2 signature of the canonical payload")
    status = models.CharField(max_length=16, choices=LicenceStatus.choices, default=LicenceStatus.VALID)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    # Bulk issue from a mounted dataset: the source row, so that a re-run issues nothing twice.
    source_dataset = models.ForeignKey("datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    source_key = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = "电子证照"
        constraints = [
            models.UniqueConstraint(fields=["licence_type", "source_dataset", "source_key"],
                                    condition=models.Q(source_dataset__isnull=False),
                                    name="licences_one_licence_per_source_row"),
        ]
        indexes = [
            models.Index(fields=["node", "holder_index"], name="licences_holder_idx"),
            models.Index(fields=["status", "valid_to"], name="licences_status_valid_to"),
        ]

    def __str__(self) -> str:
        return self.number


class LicenceLibrary(NodeOwnedModel):
    """The node's 电子证照库 and the catalog resource that represents it (grants for holder lookups are on it)."""

    resource = models.OneToOneField("catalog.Resource", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "电子证照库"
        constraints = [models.UniqueConstraint(fields=["node"], name="licences_one_library_per_node")]

    def __str__(self) -> str:
        return f"电子证照库 {self.node_id}"


class LicenceUse(NodeOwnedModel):
    """用证记录: one holder lookup (一号申请) and the licences it returned."""

    channel = models.CharField(max_length=16, choices=UseChannel.choices)
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    system = models.ForeignKey("registry.InformationSystem", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    grant_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    operator = models.CharField("经办人", max_length=64, blank=True)
    case_number = models.CharField("办件编号", max_length=64)
    item_code = models.CharField("事项编码", max_length=64)
    holder_index = models.CharField(max_length=64, db_index=True)
    licences = models.ManyToManyField(Licence, related_name="uses", blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "用证记录"
        indexes = [models.Index(fields=["user", "channel", "created_at"], name="licences_use_quota")]

    def __str__(self) -> str:
        return f"{self.case_number} {self.item_code}"


class ServiceItem(NodeOwnedModel):
    """政务服务事项 (事项编码, 名称, 实施部门) whose materials may be covered by licences in the library."""

    code = models.CharField("事项编码", max_length=64)
    name = models.CharField("事项名称", max_length=200)
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["node", "code"]
        verbose_name = "政务服务事项"
        constraints = [models.UniqueConstraint(fields=["node", "code"], name="licences_item_code_per_node")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ServiceMaterial(BaseModel):
    """申请材料 of a service item; with a licence type, a valid licence in the library replaces it (免提交)."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="materials")
    position = models.PositiveSmallIntegerField()
    name = models.CharField("材料名称", max_length=200)
    licence_type = models.ForeignKey(LicenceType, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        ordering = ["item", "position"]
        verbose_name = "申请材料"
        constraints = [models.UniqueConstraint(fields=["item", "position"], name="licences_material_position")]

    def __str__(self) -> str:
        return self.name

