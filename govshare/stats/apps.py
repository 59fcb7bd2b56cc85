from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "govshare.stats"
    label = "stats"
    verbose_name = "共享统计 (sharing statistics)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from govshare.core import periodic
        from govshare.stats.services import FINALIZE_JOB, ROLLUP_JOB, finalize_job, rollup_job, setting

        # Today's figures every 10 minutes; at night, yesterday recomputed once it has ended.
        periodic.register(ROLLUP_JOB, setting("STATS_ROLLUP_SECONDS"), rollup_job)
        periodic.register(FINALIZE_JOB, setting("STATS_FINALIZE_SECONDS"), lambda: finalize_job())
