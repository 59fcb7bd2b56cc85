from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "govshare.subscriptions"
    label = "subscriptions"
    verbose_name = "订阅与库表交换 (subscriptions)"
