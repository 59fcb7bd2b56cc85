from django.db import models


class Engine(models.TextChoices):
    POSTGRESQL = "postgresql", "PostgreSQL"
    MYSQL = "mysql", "MySQL / MariaDB"
    SQLITE = "sqlite", "SQLite"


class ConnectorStatus(models.TextChoices):
    ACTIVE = "active", "运行中"
    PAUSED = "paused", "已暂停"


class IncrementalType(models.TextChoices):
    TIMESTAMP = "timestamp", "时间戳 (timestamp: overlap in seconds)"
    NUMBER = "number", "递增数值 (increasing number: overlap in units)"


class RunKind(models.TextChoices):
    PULL = "pull", "增量拉取"
    RECONCILE = "reconcile", "对账"


class RunStatus(models.TextChoices):
    RUNNING = "running", "运行中"
    SUCCEEDED = "succeeded", "成功"
    FAILED = "failed", "失败"


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "按计划"
    MANUAL = "manual", "手动"


# Purpose of the envelope data key that encrypts connection passwords (govshare.core.crypto.encrypt_secret).
PASSWORD_PURPOSE = "connector_password"  # noqa: S105 - a key purpose name, not a secret
