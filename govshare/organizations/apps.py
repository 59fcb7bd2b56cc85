from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "govshare.organizations"
    label = "organizations"
    verbose_name = "组织机构 (organizations)"
