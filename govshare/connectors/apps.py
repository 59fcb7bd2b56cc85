from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "govshare.connectors"
    label = "connectors"
    verbose_name = "前置库连接器 (source connectors)"
