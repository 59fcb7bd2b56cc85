"""Shared world for the data-plane tests (imported by test_dataplane*.py), and the signing test vector."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog.services import ItemSpec
from govshare.client import GovshareClient, wsgi_transport
from govshare.core.crypto import get_sm2_provider, sm3_hex
from govshare.core.identifiers import make_resident_id
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.choices import ApplicationStatus
from govshare.exchange.dataplane import app as dp_app
from govshare.exchange.dataplane import limits
from govshare.exchange.dataplane.app import DataPlane
from govshare.exchange.dataplane.signing import canonical_query, canonical_string, hmac_signature
from govshare.exchange.models import Application, Grant
from govshare.exchange.services.grants import Decision, create_grant
from govshare.registry.services import create_system, issue_credential, set_sm2_public_key

PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
    ItemSpec(name="现住址", element_code="DE0007"),
    ItemSpec(name="手机号码", element_code="DE0008"),
]
BANK_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="银行卡号", element_code="DE0013"),
]
PERSON_GRANT = {"id_number": "plain", "person_name": "masked", "gender": "plain", "current_address": "plain",
                "mobile": "verify_only"}
INSIDE = "广东省潮州市湘桥区"  # the row filter: current_address prefix INSIDE
REFS = {"operator": "王五", "case_number": "BJ20250001", "item_code": "11445100MB2D1234XY",
        "purpose": "社保参保登记核验"}
_numbers = itertools.count(1)


def person(n: int) -> dict[str, Any]:
    region = INSIDE if n % 2 else "广东省潮州市潮安区"
    return {"id_number": make_resident_id("445102", dt.date(1980, 1, n), 1), "person_name": f"张{n}号",
            "gender": "男", "birth_date": f"1980-01-{n:02d}", "current_address": f"{region}西马路{n}号",
            "mobile": f"1380013{n:04d}"}


class World:
    """A provider with a mounted population resource (12 people, odd ones inside the row filter), a consumer
    system with a credential and an SM2 key pair, and a grant with plain, masked and verify_only items."""

    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any) -> None:
        self.city, self.provider, self.consumer, self.office = city, provider, consumer, office
        self.consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
        self.system = create_system(actor=self.consumer_admin, department=consumer.department, name="社保经办系统")
        issued = issue_credential(actor=self.consumer_admin, system=self.system)
        self.credential, self.app_key, self.secret = issued.credential, issued.credential.app_key, issued.app_secret
        self.sm2_private, self.sm2_public = get_sm2_provider().generate_keypair()
        set_sm2_public_key(actor=self.consumer_admin, system=self.system, public_key=self.sm2_public)
        self.resource = self.make_resource("人口基本信息", PERSON_ITEMS, [person(n) for n in range(1, 13)])
        self.grant = self.make_grant(self.resource, PERSON_GRANT, row_filter=f'current_address prefix "{INSIDE}"')
        self.inside = [person(n) for n in range(1, 13, 2)]
        self.outside = [person(n) for n in range(2, 13, 2)]

    def make_resource(self, name: str, items: list[ItemSpec], rows: list[dict[str, Any]]) -> Any:
        r = testing.resource(self.provider.department, name=name, items=items, share_modes=["api", "file"],
                             publish_by=self.office)
        ds = mount_resource(actor=self.provider, resource=r)
        upload = load_rows(actor=self.provider, dataset=ds, rows=rows)
        assert upload.status == "applied", upload.status
        r.refresh_from_db()
        return r

    def make_grant(self, resource: Any, items: dict[str, str], *, system: Any = None,
                   modes: tuple[str, ...] = ("query", "verify", "file"), **decision: Any) -> Grant:
        system = system or self.system
        today = timezone.localdate()
        app = Application.objects.create(
            node=self.city, number=f"DP-{next(_numbers):06d}", resource=resource,
            resource_version=resource.published_version.number, provider=resource.provider,
            consumer=system.department, system=system, applicant=self.consumer, items=list(items), modes=list(modes),
            purpose="办理社会保险参保登记核验身份", valid_from=today, valid_to=today + dt.timedelta(days=365),
            status=ApplicationStatus.APPROVED)
        with transaction.atomic():
            return create_grant(actor=self.provider, app=app, decision=Decision(items=items, modes=list(modes),
                                                                                **decision),
                                override_reason="测试")

    def client(self, app: Callable[..., Any] | None = None, *, refs: bool = True, sm2: bool = False,
               **kw: Any) -> GovshareClient:
        if sm2:
            kw.setdefault("sm2_private_key", self.sm2_private)
            kw.setdefault("sm2_public_key", self.sm2_public)
        return GovshareClient(
            "http://testserver", kw.pop("app_key", self.app_key), kw.pop("secret", self.secret),
            transport=wsgi_transport(app or application()), **(REFS if refs else {}), **kw)

    @property
    def code(self) -> str:
        return str(self.resource.code)


def application() -> Callable[..., Any]:
    """The real WSGI entry (path-prefix dispatch included)."""
    from govshare.wsgi import application as wsgi_app

    return wsgi_app


def events(action: str, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("seq"))


@pytest.fixture(name="world")
def world_fixture(city: Any, provider: Any, consumer: Any, data_office: Any) -> World:
    return World(city, provider, consumer, data_office)


@pytest.fixture(autouse=True)
def _fresh_dataplane() -> None:
    # Test databases roll back, so an epoch number can come back with other contents: start each test cold.
    dp_app.application.cache.clear()
    limits.reset_purge_clock()


def two_processes() -> tuple[DataPlane, DataPlane]:
    return DataPlane(), DataPlane()


# ---------------------------------------------------------------------------------------------------------------
# The documented example (docs/dataplane.md): the values there are computed by this code.
# ---------------------------------------------------------------------------------------------------------------

DOC_SECRET = "R3x9s_Example-Secret-Do-Not-Use-0001"
DOC_BODY = b'{"resource":"445100/101001/000001","keys":["445102198001010011"]}'
DOC_CANONICAL_QUERY = "encrypt=sm4&format=csv&resource=445100%2F101001%2F000001"


def test_signing_vector() -> None:
    """The worked example of docs/dataplane.md (SM3("") and SM3("abc") are the GB/T 32905 vectors)."""
    canonical = canonical_string("POST", "/dp/v1/query", None, DOC_BODY, "1735689600", "5f2c8e1a9b7d4c3e8f6a1b2c")
    assert canonical == ("POST\n/dp/v1/query\n\n"
                         "6863876d2c31edc333be55d18fe6080fa438d06ab0c84dabd170511e014121f3\n"
                         "1735689600\n5f2c8e1a9b7d4c3e8f6a1b2c")
    assert hmac_signature(DOC_SECRET, canonical) == \
        "79f037411ec86adfbb561ba95c0d2da4cea1b357c79c02f2420ab2ccf24d1b0a"
    get = canonical_string("GET", "/dp/v1/file", {"resource": "445100/101001/000001", "format": "csv",
                                                  "encrypt": "sm4"}, b"", "1735689600", "0123456789abcdef0123")
    assert get.split("\n")[2:4] == [DOC_CANONICAL_QUERY,
                                     "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"]
    assert hmac_signature(DOC_SECRET, get) == "1ce2211ad0cc6d52a7b5c708f684008964fe5ffcc62a380f7a25e2cac757498f"
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert canonical_query("b=2&a=%E4%B8%AD+x&a=1") == "a=%E4%B8%AD%2Bx&a=1&b=2"
    assert canonical_query("z&a=") == "a=&z="
    assert canonical_query({"q": "a b~*"}) == "q=a%20b~%2A"
