from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "govshare.audit"
    label = "audit"
    verbose_name = "审计 (audit)"
