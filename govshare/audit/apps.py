from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "govshare.audit"
    label = "audit"
    verbose_name = "审计 (audit)"

    def ready(self) -> None:
        from govshare.audit.seal import seal_pending
        from govshare.core import periodic

        # Bounded sealing lag: the worker chains and signs new events every few seconds.
        periodic.register("audit.seal", 5, lambda: seal_pending())
