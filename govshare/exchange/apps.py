from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "govshare.exchange"
    label = "exchange"
    verbose_name = "共享交换 (exchange)"

    def ready(self) -> None:
        from govshare.catalog.hooks import register_tightening_handler
        from govshare.exchange.services.grants import flag_grants_for_tightening

        register_tightening_handler(flag_grants_for_tightening)
