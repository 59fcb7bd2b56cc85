from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "govshare.catalog"
    label = "catalog"
    verbose_name = "目录系统 (catalog)"
