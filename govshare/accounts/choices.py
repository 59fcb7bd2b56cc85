from django.db import models


class Role(models.TextChoices):
    DATA_OFFICE = "data_office", "数据主管部门"
    SYS_ADMIN = "sys_admin", "系统管理员"
    SEC_ADMIN = "sec_admin", "安全管理员"
    AUDIT_ADMIN = "audit_admin", "审计管理员"
    DEPT_ADMIN = "dept_admin", "部门管理员"
    PROVIDER = "provider", "提供方"
    CONSUMER = "consumer", "使用方"
    WINDOW_CLERK = "window_clerk", "窗口人员"


# 三员分立 plus the data office and department administrators: all sign in with a second factor.
ADMIN_ROLES = frozenset({Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN, Role.DEPT_ADMIN, Role.DATA_OFFICE})
# Roles scoped to one department; the others are scoped to a node.
DEPARTMENT_ROLES = frozenset({Role.DEPT_ADMIN, Role.PROVIDER, Role.CONSUMER, Role.WINDOW_CLERK})
