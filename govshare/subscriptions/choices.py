"""Vocabularies of subscriptions (订阅) and table delivery (库表交换)."""

from django.db import models


class SubscriptionKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook 推送"
    TABLE = "table", "库表推送(前置库)"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "投递中"
    PAUSED = "paused", "已暂停"
    CANCELLED = "cancelled", "已取消"


class SubscriptionAction(models.TextChoices):
    PAUSE = "pause", "暂停"
    RESUME = "resume", "恢复"
    CANCEL = "cancel", "取消"
    AUTO_PAUSE = "auto_pause", "连续失败自动暂停"
    ROTATE_SECRET = "rotate_secret", "更换签名密钥"
    UPDATE = "update", "修改"


class SnapshotState(models.TextChoices):
    NONE = "none", "不需要初始数据"
    PENDING = "pending", "初始数据投递中"
    DONE = "done", "初始数据已投递"


class DeliveryStatus(models.TextChoices):
    OK = "ok", "成功"
    FAILED = "failed", "失败"


class SinkEngine(models.TextChoices):
    POSTGRESQL = "postgresql", "PostgreSQL"
    MYSQL = "mysql", "MySQL / MariaDB"
    SQLITE = "sqlite", "SQLite"
