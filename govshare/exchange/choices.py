"""Vocabularies of the exchange (共享交换): applications, grants, item modes, refusal reasons."""

from django.db import models


class ApplicationStatus(models.TextChoices):
    INTERNAL_REVIEW = "internal_review", "部门内部审核"
    COMPLIANCE_REVIEW = "compliance_review", "符合性审查"
    PROVIDER_REVIEW = "provider_review", "提供方审核"
    PENDING_SUPPLY = "pending_supply", "待提供"
    APPROVED = "approved", "已授权"
    REFUSED = "refused", "已拒绝"
    COORDINATION = "coordination", "协调中"
    RETURNED = "returned", "已退回"
    WITHDRAWN = "withdrawn", "已撤回"
    CLOSED = "closed", "已办结(维持拒绝)"


OPEN_STATUSES = frozenset({
    ApplicationStatus.INTERNAL_REVIEW, ApplicationStatus.COMPLIANCE_REVIEW, ApplicationStatus.PROVIDER_REVIEW,
    ApplicationStatus.PENDING_SUPPLY, ApplicationStatus.COORDINATION,
})


class ApplicationAction(models.TextChoices):
    APPROVE_INTERNAL = "approve_internal", "部门内部审核通过"
    REJECT_INTERNAL = "reject_internal", "部门内部审核退回"
    PASS_COMPLIANCE = "pass_compliance", "符合性审查通过"
    FAIL_COMPLIANCE = "fail_compliance", "符合性审查退回"
    APPROVE = "approve", "提供方同意"
    REFUSE = "refuse", "提供方拒绝"
    SUPPLY = "supply", "已提供(挂接完成)"
    OBJECT = "object", "使用方提出异议"
    REOPEN = "reopen", "协调后重新审核"
    UPHOLD = "uphold", "协调后维持拒绝"
    RESUBMIT = "resubmit", "重新提交"
    WITHDRAW = "withdraw", "撤回申请"


class ExchangeMode(models.TextChoices):
    QUERY = "query", "查询"
    VERIFY = "verify", "核验"
    FILE = "file", "文件"
    SUBSCRIPTION = "subscription", "订阅"


class ItemMode(models.TextChoices):
    PLAIN = "plain", "明文"
    MASKED = "masked", "脱敏"
    VERIFY_ONLY = "verify_only", "仅核验"


class RefusalReason(models.TextChoices):
    """The fixed list: adding conditions that block sharing is not allowed (DESIGN.md §3)."""

    NO_LEGAL_BASIS = "no_legal_basis", "申请事由缺少法律法规或政策依据"
    PURPOSE_MISMATCH = "purpose_mismatch", "申请的信息项超出履职所需(最小必要)"
    NOT_SHAREABLE = "not_shareable", "属于不予共享范围(已载明依据)"
    DATA_NOT_HELD = "data_not_held", "本部门不掌握所申请的数据"
    SECURITY_INSUFFICIENT = "security_insufficient", "使用方系统安全保护措施不满足要求"
    DUPLICATE = "duplicate", "已有有效授权覆盖本申请"


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    SUSPENDED = "suspended", "应急停用"
    REVOKED = "revoked", "已撤销"
    EXPIRED = "expired", "已过期"


class SuspensionScope(models.TextChoices):
    GRANT = "grant", "授权"
    SYSTEM = "system", "信息系统"
    DEPARTMENT = "department", "部门"
