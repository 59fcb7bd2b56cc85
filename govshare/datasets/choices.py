from django.db import models


class UploadStatus(models.TextChoices):
    STAGING = "staging", "暂存中"
    REJECTED = "rejected", "校验未通过"
    APPLIED = "applied", "已生效"
    FAILED = "failed", "失败"
