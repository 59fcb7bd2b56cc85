from django.db import models


class ActorType(models.TextChoices):
    USER = "user", "用户"
    SYSTEM = "system", "系统"
    ANONYMOUS = "anonymous", "匿名"


class Result(models.TextChoices):
    OK = "ok", "成功"
    DENIED = "denied", "拒绝"
    FAILED = "failed", "失败"
