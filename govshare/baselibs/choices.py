"""Vocabularies of the base libraries (基础库)."""

from django.db import models


class LibraryKind(models.TextChoices):
    FUSION = "fusion", "融合库"  # built by the fusion job from mounted source datasets
    LICENCES = "licences", "电子证照库"  # records are licences, kept by the licences module


class LibraryStatus(models.TextChoices):
    ACTIVE = "active", "运行中"
    PAUSED = "paused", "已暂停"


class SourceRole(models.TextChoices):
    AUTHORITATIVE = "authoritative", "权威来源"  # 一数一源
    CROSS_CHECK = "cross_check", "校核来源"  # 多元校核


class RunStatus(models.TextChoices):
    RUNNING = "running", "运行中"
    SUCCEEDED = "succeeded", "已完成"
    FAILED = "failed", "失败"
    ABANDONED = "abandoned", "已中断"  # its worker died; the next run starts over from the consumed cursors


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "定时"
    MANUAL = "manual", "手动"
    INSTALL = "install", "安装"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "未消除"
    RESOLVED = "resolved", "已消除"


class Resolution(models.TextChoices):
    AGREED = "agreed", "两源一致"
    CROSS_CHECK_MISSING = "cross_check_missing", "校核来源已无此值"
    AUTHORITATIVE_MISSING = "authoritative_missing", "权威来源已无此记录"
    RECORD_DELETED = "record_deleted", "记录已删除"
