from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "govshare.registry"
    label = "registry"
    verbose_name = "信息系统 (registry)"
