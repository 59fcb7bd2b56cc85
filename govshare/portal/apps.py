from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "govshare.portal"
    label = "portal"
    verbose_name = "资源门户 (portal)"
