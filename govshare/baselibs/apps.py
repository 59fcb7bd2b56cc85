from typing import Any

from django.apps import AppConfig


class BaselibsConfig(AppConfig):
    name = "govshare.baselibs"
    label = "baselibs"
    verbose_name = "基础库 (base libraries)"

    def ready(self) -> None:
        from govshare.baselibs.conf import FUSE_JOB, setting
        from govshare.baselibs.models import LibrarySource
        from govshare.baselibs.services import fuse_due
        from govshare.core import periodic
        from govshare.datasets.hooks import register_change_listener

        periodic.register(FUSE_JOB, setting("BASELIBS_FUSION_SECONDS"), fuse_due)

        def changes_committed(dataset_id: Any) -> None:
            # New changes in a source of some library: fuse soon rather than at the next interval.
            if LibrarySource.objects.filter(dataset_id=dataset_id).exists():
                periodic.kick(FUSE_JOB)

        register_change_listener("baselibs", changes_committed)
