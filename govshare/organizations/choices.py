from django.db import models


class NodeLevel(models.TextChoices):
    PROVINCE = "province", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"


class RegionLevel(models.TextChoices):
    PROVINCE = "province", "省级"
    CITY = "city", "地级"
    COUNTY = "county", "县级"
