from django.apps import AppConfig


class BaselibsConfig(AppConfig):
    name = "govshare.baselibs"
    label = "baselibs"
    verbose_name = "基础库 (base libraries)"
