from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "govshare.exchange"
    label = "exchange"
    verbose_name = "共享交换 (exchange)"

    def ready(self) -> None:
        from govshare.catalog.hooks import register_tightening_handler
        from govshare.exchange.services.grants import flag_grants_for_tightening

        register_tightening_handler(flag_grants_for_tightening)

        from govshare.core import periodic
        from govshare.exchange.services.applications import sweep_deadlines

        periodic.register("exchange.sweep_deadlines", 300, lambda: sweep_deadlines())
