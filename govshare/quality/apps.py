from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "govshare.quality"
    label = "quality"
    verbose_name = "数据质量与疑义数据 (quality and disputes)"

    def ready(self) -> None:
        from govshare.core import periodic
        from govshare.datasets.hooks import register_change_listener
        from govshare.organizations.holidays import register_holidays_loaded_handler
        from govshare.quality.services import runs, sweep
        from govshare.quality.services.common import setting

        periodic.register("quality.incremental", setting("QUALITY_INCREMENTAL_SECONDS"), runs.incremental_job)
        periodic.register("quality.full", setting("QUALITY_FULL_CHECK_SECONDS"), runs.full_job)
        periodic.register("quality.dispute_sweep", setting("DISPUTE_SWEEP_SECONDS"), sweep.sweep_disputes)

        def changes_committed(_dataset_id: object) -> None:
            # New changes in a dataset: check them soon rather than at the next interval.
            periodic.kick("quality.incremental")

        def holidays_loaded(year: int, _source: str) -> None:
            sweep.recompute_provisional_deadlines(actor=None, year=year)

        register_change_listener("quality", changes_committed)
        register_holidays_loaded_handler(holidays_loaded)
