from django.apps import AppConfig

EXPIRY_SWEEP_SECONDS = 3600


class LicencesConfig(AppConfig):
    name = "govshare.licences"
    label = "licences"
    verbose_name = "电子证照 (electronic licences)"

    def ready(self) -> None:
        from django.conf import settings

        from govshare.core import periodic
        from govshare.exchange.dataplane.app import register_endpoint
        from govshare.licences.dataplane import ENDPOINT
        from govshare.licences.services.expiry import mark_expired

        register_endpoint(ENDPOINT)
        every = int(getattr(settings, "GOVSHARE", {}).get("LICENCE_EXPIRY_SWEEP_SECONDS", EXPIRY_SWEEP_SECONDS))
        periodic.register("licences.mark_expired", every, lambda: mark_expired())
