"""Vocabularies of the catalog (政务信息资源目录编制指南(试行); GB/T 21063; DESIGN.md §3)."""

from django.db import models


class Sensitivity(models.IntegerChoices):
    L1 = 1, "L1 不敏感"
    L2 = 2, "L2 低敏感"
    L3 = 3, "L3 较敏感"
    L4 = 4, "L4 敏感"


class DataType(models.TextChoices):
    STRING = "string", "字符型"
    INTEGER = "integer", "整数型"
    DECIMAL = "decimal", "数值型"
    DATE = "date", "日期型"
    DATETIME = "datetime", "日期时间型"
    BOOLEAN = "boolean", "布尔型"
    ENUM = "enum", "枚举型"


class Validator(models.TextChoices):
    NONE = "", "无"
    RESIDENT_ID = "resident_id", "身份证号 (GB 11643)"
    USCC = "uscc", "统一社会信用代码 (GB 32100)"
    ORG_CODE = "org_code", "组织机构代码 (GB 11714)"
    REGION_CODE = "region_code", "行政区划代码 (GB/T 2260)"
    MOBILE = "mobile", "手机号码"
    REGEX = "regex", "正则表达式"


class Category(models.TextChoices):
    BASIC = "basic", "基础信息资源"
    THEME = "theme", "主题信息资源"
    DEPARTMENT = "department", "部门信息资源"


class ClassLevel(models.TextChoices):
    LEI = "lei", "类"
    XIANG = "xiang", "项"
    MU = "mu", "目"
    XIMU = "ximu", "细目"


class ShareType(models.TextChoices):
    UNCONDITIONAL = "unconditional", "无条件共享"
    CONDITIONAL = "conditional", "有条件共享"
    NONE = "none", "不予共享"


class ShareMode(models.TextChoices):
    API = "api", "接口"
    TABLE = "table", "库表"
    FILE = "file", "文件"


class OpenType(models.TextChoices):
    UNCONDITIONAL = "unconditional", "无条件开放"
    CONDITIONAL = "conditional", "有条件开放"
    NONE = "none", "不予开放"


class UpdateCycle(models.TextChoices):
    REALTIME = "realtime", "实时"
    DAILY = "daily", "每日"
    WEEKLY = "weekly", "每周"
    MONTHLY = "monthly", "每月"
    QUARTERLY = "quarterly", "每季度"
    SEMIANNUAL = "semiannual", "每半年"
    YEARLY = "yearly", "每年"
    IRREGULAR = "irregular", "不定期"


class Secrecy(models.TextChoices):
    NON_SECRET = "non_secret", "非涉密"
    SECRET = "secret", "涉密"


class ResourceFormat(models.TextChoices):
    DATABASE = "database", "数据库"
    SPREADSHEET = "spreadsheet", "电子表格"
    DOCUMENT = "document", "电子文件"
    IMAGE = "image", "图形图像"
    STREAM = "stream", "流媒体"
    API = "api", "接口"
    OTHER = "other", "其他"


class ResourceStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    PENDING = "pending", "待审核"
    PUBLISHED = "published", "已发布"
    WITHDRAWAL_PENDING = "withdrawal_pending", "撤销待审核"
    WITHDRAWN = "withdrawn", "已撤销"


class LifecycleAction(models.TextChoices):
    SUBMIT = "submit", "提交审核"
    PUBLISH = "publish", "审核通过并发布"
    REJECT = "reject", "退回"
    REVISE = "revise", "修订"
    REQUEST_WITHDRAWAL = "request_withdrawal", "申请撤销"
    APPROVE_WITHDRAWAL = "approve_withdrawal", "同意撤销"
    REJECT_WITHDRAWAL = "reject_withdrawal", "驳回撤销"
