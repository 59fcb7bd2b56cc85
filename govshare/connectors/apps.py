from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "govshare.connectors"
    label = "connectors"
    verbose_name = "前置库连接器 (source connectors)"

    def ready(self) -> None:
        from govshare.connectors.dispatch import dispatch
        from govshare.core import periodic

        # every 15 s: resume runs of dead workers, start due pulls and reconciliations
        periodic.register("connectors.dispatch", 15, dispatch)
