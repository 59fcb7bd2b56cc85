"""Vocabularies of the electronic licences (电子证照, GB/T 36901–36905 terms)."""

from django.db import models


class HolderKind(models.TextChoices):
    """持证主体类型: a natural person (公民身份号码) or a legal person / organisation (统一社会信用代码)."""

    PERSON = "person", "自然人"
    COMPANY = "company", "法人和其他组织"


class ValidityRule(models.TextChoices):
    """有效期规则 of a licence type."""

    FIXED_YEARS = "fixed_years", "固定年限"
    NO_EXPIRY = "no_expiry", "长期有效"
    GIVEN_AT_ISSUE = "given_at_issue", "签发时确定"


class LicenceStatus(models.TextChoices):
    VALID = "valid", "有效"
    REVOKED = "revoked", "已注销"
    EXPIRED = "expired", "已过期"


class LicenceAction(models.TextChoices):
    REVOKE = "revoke", "注销 (revoke)"
    EXPIRE = "expire", "到期 (expire)"


class VerifyStatus(models.TextChoices):
    """The answer of a verification: exactly one of these."""

    VALID = "valid", "有效"
    REVOKED = "revoked", "已注销"
    EXPIRED = "expired", "已过期"
    TAMPERED = "tampered", "已被篡改"


class UseChannel(models.TextChoices):
    """Where a 用证 (licence use) came from."""

    WINDOW = "window", "窗口受理"
    DATAPLANE = "dataplane", "部门系统调用"
