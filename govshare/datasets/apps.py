from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "govshare.datasets"
    label = "datasets"
    verbose_name = "资源中心数据集 (datasets)"
