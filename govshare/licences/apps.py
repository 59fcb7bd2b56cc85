from django.apps import AppConfig


class LicencesConfig(AppConfig):
    name = "govshare.licences"
    label = "licences"
    verbose_name = "电子证照 (electronic licences)"
