from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "govshare.subscriptions"
    label = "subscriptions"
    verbose_name = "订阅与库表交换 (subscriptions)"

    def ready(self) -> None:
        from govshare.core import periodic
        from govshare.datasets.hooks import register_change_listener
        from govshare.exchange.dataplane.app import register_endpoint
        from govshare.subscriptions import pull
        from govshare.subscriptions.delivery import deliver_due
        from govshare.subscriptions.services import JOB_NAME, on_changes_committed

        register_endpoint(pull.endpoint())
        periodic.register(JOB_NAME, 2, deliver_due)
        register_change_listener("subscriptions", on_changes_committed)
