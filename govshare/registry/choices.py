from django.db import models


class CredentialStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    REVOKED = "revoked", "已吊销"


MAX_ACTIVE_SECRETS = 2  # two active secrets per system allow rotation without downtime
