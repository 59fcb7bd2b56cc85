from django.db import models


class UploadStatus(models.TextChoices):
    STAGING = "staging", "暂存中"
    REJECTED = "rejected", "校验未通过"
    APPLIED = "applied", "已生效"
    FAILED = "failed", "失败"


class ChangeOp(models.TextChoices):
    UPSERT = "upsert", "新增或更新"
    DELETE = "delete", "删除"


class BatchKind(models.TextChoices):
    REPLACE = "replace", "全量替换"
    INCREMENTAL = "incremental", "增量批次"
    RECONCILE = "reconcile", "对账"
    CORRECTION = "correction", "疑义更正"
    FUSION = "fusion", "基础库融合"
