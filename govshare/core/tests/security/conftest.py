"""Fixtures of the security suite: a published, mounted 人口 resource of the provider department."""

from __future__ import annotations

import pytest

from govshare import testing
from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.catalog.services import ItemSpec
from govshare.datasets import services
from govshare.datasets.models import Dataset

ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
]


@pytest.fixture
def people(provider_dept: testing.Department, data_office: User) -> Resource:
    return testing.resource(provider_dept, name="人口基本信息", publish_by=data_office, items=ITEMS)


@pytest.fixture
def dataset(people: Resource, provider: User) -> Dataset:
    return services.mount_resource(actor=provider, resource=people)
