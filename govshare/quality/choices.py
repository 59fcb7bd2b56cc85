"""Vocabularies of data quality (数据质量) and disputes (疑义数据)."""

from django.db import models


class RuleKind(models.TextChoices):
    REQUIRED = "required", "必填"
    TYPE = "type", "数据类型"
    LENGTH = "length", "长度"
    ENUMERATION = "enumeration", "取值范围(枚举)"
    PATTERN = "pattern", "格式(正则表达式)"
    IDENTIFIER = "identifier", "证件号码校验位"
    DATE_RANGE = "date_range", "日期范围"
    REGION_CODE = "region_code", "行政区划代码存在"
    CROSS_FIELD = "cross_field", "跨字段一致(身份证号与出生日期、性别)"


class IdentifierKind(models.TextChoices):
    RESIDENT_ID = "resident_id", "身份证号 (GB 11643)"
    USCC = "uscc", "统一社会信用代码 (GB 32100)"
    ORG_CODE = "org_code", "组织机构代码 (GB 11714)"


class RunKind(models.TextChoices):
    INCREMENTAL = "incremental", "增量检查"
    FULL = "full", "全量检查"


class DisputeStatus(models.TextChoices):
    SUBMITTED = "submitted", "待受理"
    ACCEPTED = "accepted", "已受理(核查中)"
    RESOLVED_CONFIRMED = "resolved_confirmed", "已办结(数据无误)"
    RESOLVED_CORRECTED = "resolved_corrected", "已办结(已更正)"
    REJECTED = "rejected", "不予受理"
    WITHDRAWN = "withdrawn", "已撤回"


OPEN_DISPUTE_STATUSES = frozenset({DisputeStatus.SUBMITTED, DisputeStatus.ACCEPTED})


class DisputeAction(models.TextChoices):
    ACCEPT = "accept", "受理"
    REJECT = "reject", "不予受理"
    CONFIRM = "confirm", "核实无误"
    CORRECT = "correct", "更正数据"
    WITHDRAW = "withdraw", "撤回"
    REOPEN = "reopen", "对核实结果有异议，重新核查"
    ESCALATE = "escalate", "超期上报数据主管部门"


class DisputeOrigin(models.TextChoices):
    CONSUMER = "consumer", "使用部门反馈"
    FUSION = "fusion", "基础库多元校核"
    QUALITY = "quality", "质量检查"


PLATFORM_ORIGINS = frozenset({DisputeOrigin.FUSION, DisputeOrigin.QUALITY})


class DisputeCategory(models.TextChoices):
    WRONG_VALUE = "wrong_value", "数据错误"
    OUTDATED = "outdated", "数据过期未更新"
    MISSING = "missing", "数据缺失"
    DUPLICATE = "duplicate", "重复记录"
    INCONSISTENT = "inconsistent", "与其他来源不一致"
    OTHER = "other", "其他"


class Resolution(models.TextChoices):
    CONFIRMED = "confirmed", "核实无误"
    CORRECTED = "corrected", "已更正"
