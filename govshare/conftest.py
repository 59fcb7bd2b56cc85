from __future__ import annotations

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User


@pytest.fixture
def city(db: None) -> testing.Node:
    return testing.node("445100", name="潮州市", level="city")


@pytest.fixture
def provider_dept(city: testing.Node) -> testing.Department:
    return testing.department(city, name="市公安局")


@pytest.fixture
def consumer_dept(city: testing.Node) -> testing.Department:
    return testing.department(city, name="市人社局")


@pytest.fixture
def data_office(city: testing.Node) -> User:
    office = testing.department(city, name="市政务服务数据管理局", is_data_office=True)
    return testing.user(Role.DATA_OFFICE, at=city, dept=office)


@pytest.fixture
def provider(provider_dept: testing.Department) -> User:
    return testing.user(Role.PROVIDER, dept=provider_dept)


@pytest.fixture
def consumer(consumer_dept: testing.Department) -> User:
    return testing.user(Role.CONSUMER, dept=consumer_dept)


@pytest.fixture
def sec_admin(city: testing.Node) -> User:
    return testing.user(Role.SEC_ADMIN, at=city)


def client_for(user: User | None) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:  # type: ignore[no-untyped-def]
    # PBKDF2 at production strength costs ~0.3 s per user; tests do not need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(db: None) -> None:
    """The shipped classification tree and data-element dictionary."""
    from govshare.catalog.seeding import seed_catalog

    seed_catalog(actor=None)


@pytest.fixture(autouse=True)
def _fresh_holiday_cache() -> None:
    # The working-day table is cached per process; each test starts from the database.
    from govshare.core import calendar

    calendar.invalidate_cache()
