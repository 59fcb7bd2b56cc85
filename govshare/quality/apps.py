from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "govshare.quality"
    label = "quality"
    verbose_name = "数据质量与疑义数据 (quality and disputes)"
