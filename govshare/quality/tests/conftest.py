"""A mounted 人口 dataset, a consumer department holding a grant on it, and helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.catalog.models import Resource
from govshare.catalog.services import ItemSpec
from govshare.core.identifiers import make_resident_id
from govshare.datasets.changes import replace_rows
from govshare.datasets.models import Dataset
from govshare.datasets.services import mount_resource
from govshare.exchange.models import Grant
from govshare.exchange.services import applications as app_services
from govshare.exchange.services.grants import Decision
from govshare.organizations.models import Department
from govshare.registry.services import create_system

PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
    ItemSpec(name="现住址", element_code="DE0007"),
]
GRANTED = {"id_number": "plain", "person_name": "plain", "gender": "plain", "birth_date": "plain"}


def birth_of(n: int) -> dt.date:
    return dt.date(1960, 1, 1) + dt.timedelta(days=97 * n)


def rid(n: int) -> str:
    return make_resident_id("445102", birth_of(n), n)


def person(n: int, **over: Any) -> dict[str, Any]:
    row = {"id_number": rid(n), "person_name": f"居民{n}", "gender": "男" if n % 2 else "女",
           "birth_date": birth_of(n).isoformat(), "current_address": f"潮州市湘桥区西马路{n}号"}
    row.update(over)
    return row


@dataclass
class World:
    resource: Resource
    dataset: Dataset
    office: User
    provider: User
    consumer: User
    consumer_admin: User
    provider_dept: Department
    consumer_dept: Department
    grant: Grant
    rows: int


def build_world(*, office: User, provider: User, consumer: User, rows: int = 6) -> World:
    provider_dept, consumer_dept = provider.department, consumer.department
    assert provider_dept is not None and consumer_dept is not None
    consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer_dept)
    resource = testing.resource(provider_dept, name="人口基本信息", items=PERSON_ITEMS, share_type="conditional",
                                share_modes=["api", "table"], publish_by=office)
    dataset = mount_resource(actor=provider, resource=resource)
    replace_rows(actor=provider, dataset=dataset, rows=[person(n) for n in range(rows)], batch_id="load-1")
    system = create_system(actor=consumer_admin, department=consumer_dept, name="社保经办系统")
    app = app_services.submit_application(
        actor=consumer, resource=resource, system=system, items=list(GRANTED), modes=["query"],
        purpose="办理社会保险参保登记核验身份", valid_to=timezone.localdate() + dt.timedelta(days=365))
    app = app_services.act(actor=office, application=app, action="pass_compliance")
    app = app_services.act(actor=provider, application=app, action="approve", decision=Decision(items=GRANTED))
    dataset.refresh_from_db()
    return World(resource=resource, dataset=dataset, office=office, provider=provider, consumer=consumer,
                 consumer_admin=consumer_admin, provider_dept=provider_dept, consumer_dept=consumer_dept,
                 grant=Grant.objects.get(application=app), rows=rows)


@pytest.fixture
def world(seeded: None, data_office: User, provider: User, consumer: User) -> World:
    return build_world(office=data_office, provider=provider, consumer=consumer)


def build_default_world() -> World:
    testing.seed()
    city = testing.node("445100", name="潮州市", level="city")
    office_dept = testing.department(city, name="市政务服务数据管理局", is_data_office=True)
    office = testing.user(Role.DATA_OFFICE, at=city, dept=office_dept)
    provider = testing.user(Role.PROVIDER, dept=testing.department(city, name="市公安局"))
    consumer = testing.user(Role.CONSUMER, dept=testing.department(city, name="市人社局"))
    return build_world(office=office, provider=provider, consumer=consumer, rows=12)


@pytest.fixture(scope="module")
def shared_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once per module inside an outer transaction; every test runs in a savepoint of it (pytest-django's
    ``db``), so what one test writes never reaches the next."""
    atomic = transaction.atomic()
    with django_db_blocker.unblock(), override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        atomic.__enter__()
        try:
            built = build_default_world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)
