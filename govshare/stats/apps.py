from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "govshare.stats"
    label = "stats"
    verbose_name = "共享统计 (sharing statistics)"
    default_auto_field = "django.db.models.BigAutoField"
