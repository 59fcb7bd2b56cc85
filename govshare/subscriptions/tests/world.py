"""Shared world of the subscription tests: a mounted population resource (odd people inside the grant's row
filter), a consumer system with a credential, a grant with plain / masked / verify_only items that allows the
subscription mode, a local HTTP receiver, and helpers to compute the granted view a consumer must end up with."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.catalog.services import ItemSpec
from govshare.client import GovshareClient, wsgi_transport
from govshare.core.identifiers import make_resident_id
from govshare.datasets.changes import apply_batch
from govshare.datasets.models import Dataset, DatasetRecord
from govshare.datasets.services import load_rows, mount_resource
from govshare.exchange.choices import ApplicationStatus
from govshare.exchange.dataplane.changes import delivery_key, project_record, usable_grant
from govshare.exchange.models import Application, Grant
from govshare.exchange.services.grants import Decision, create_grant
from govshare.registry.services import add_allowed_host, create_system, issue_credential
from govshare.subscriptions.signing import signature

PERSON_ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
    ItemSpec(name="现住址", element_code="DE0007"),
    ItemSpec(name="手机号码", element_code="DE0008"),
]
GRANT_ITEMS = {"id_number": "plain", "person_name": "masked", "gender": "plain", "current_address": "plain",
               "mobile": "verify_only"}
INSIDE = "广东省潮州市湘桥区"
OUTSIDE = "广东省潮州市潮安区"
ROW_FILTER = f'current_address prefix "{INSIDE}"'
REFS = {"operator": "王五", "case_number": "BJ20250001", "item_code": "11445100MB2D1234XY", "purpose": "社保参保登记"}
_numbers = itertools.count(1)
_batches = itertools.count(1)


def person(n: int, *, inside: bool | None = None) -> dict[str, Any]:
    inside = bool(n % 2) if inside is None else inside
    return {"id_number": make_resident_id("445102", dt.date(1980, 1, 1) + dt.timedelta(days=n), 1),
            "person_name": f"张{n}号", "gender": "男", "birth_date": (dt.date(1980, 1, 1) + dt.timedelta(days=n))
            .isoformat(), "current_address": f"{INSIDE if inside else OUTSIDE}西马路{n}号", "mobile": f"1380013{n:04d}"}


class World:
    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any, *, people: int = 12) -> None:
        self.city, self.provider, self.consumer, self.office = city, provider, consumer, office
        self.consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
        self.system = create_system(actor=self.consumer_admin, department=consumer.department, name="社保经办系统")
        issued = issue_credential(actor=self.consumer_admin, system=self.system)
        self.app_key, self.secret = issued.credential.app_key, issued.app_secret
        self.resource = testing.resource(provider.department, name="人口基本信息", items=PERSON_ITEMS,
                                         share_modes=["api", "file", "table"], publish_by=office)
        self.dataset = mount_resource(actor=provider, resource=self.resource)
        upload = load_rows(actor=provider, dataset=self.dataset, rows=[person(n) for n in range(1, people + 1)])
        assert upload.status == "applied", upload.status
        self.resource.refresh_from_db()
        self.grant = self.make_grant()

    def make_grant(self, items: dict[str, str] | None = None, *, modes: tuple[str, ...] = ("query", "subscription"),
                   row_filter: str | None = ROW_FILTER) -> Grant:
        today = timezone.localdate()
        items = items or GRANT_ITEMS
        app = Application.objects.create(
            node=self.city, number=f"SUB-{next(_numbers):06d}", resource=self.resource,
            resource_version=self.resource.published_version.number, provider=self.resource.provider,
            consumer=self.system.department, system=self.system, applicant=self.consumer, items=list(items),
            modes=list(modes), purpose="办理社会保险参保登记", valid_from=today,
            valid_to=today + dt.timedelta(days=365), status=ApplicationStatus.APPROVED)
        with transaction.atomic():
            return create_grant(actor=self.provider, app=app, decision=Decision(
                items=items, modes=list(modes), row_filter=row_filter), override_reason="测试")

    @property
    def code(self) -> str:
        return str(self.resource.code)

    def client(self) -> GovshareClient:
        from govshare.wsgi import application

        return GovshareClient("http://testserver", self.app_key, self.secret, transport=wsgi_transport(application),
                              **REFS)

    def change(self, *, upserts: Sequence[dict[str, Any]] = (), deletes: Sequence[str] = ()) -> Any:
        return apply_batch(actor=self.provider, dataset=self.dataset, batch_id=f"b{next(_batches)}",
                           upserts=list(upserts), deletes=list(deletes))

    def live(self) -> dict[str, dict[str, Any]]:
        ds = Dataset.objects.get(pk=self.dataset.pk)
        return {k: dict(d) for k, d in DatasetRecord.objects.filter(dataset=ds, generation=ds.generation)
                .values_list("key", "data")}

    def granted_view(self, grant: Grant | None = None) -> dict[str, dict[str, Any]]:
        """What a consumer of ``grant`` must hold: every live record inside the filter, projected."""
        info = usable_grant((grant or self.grant).pk).grant
        assert info is not None
        return {delivery_key(info, k): project_record(info, r) for k, r in self.live().items() if info.matches(r)}

    def allow(self, host: str = "127.0.0.1", purpose: str = "webhook") -> None:
        add_allowed_host(actor=None, node=self.city, host=host, purpose=purpose)


def apply_changes(state: dict[str, dict[str, Any]], changes: list[dict[str, Any]]) -> None:
    for c in changes:
        if c["op"] == "delete":
            state.pop(c["key"], None)
        else:
            state[c["key"]] = c["data"]


# ---------------------------------------------------------------------------------------------------------------
# A local webhook receiver
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Received:
    key: str
    timestamp: str
    signature: str
    body: bytes
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Receiver:
    """Answers 500 to the first ``fail`` requests (or while ``down``), then 200; records every request. With
    ``hang_at`` the n-th request is recorded and then left without an answer until ``release`` is set."""

    fail: int = 0
    down: bool = False
    hang_at: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            if self.down or self.fail > 0:
                self.fail = max(0, self.fail - 1)
                return 500
            return 200

    def delivered(self) -> list[Received]:
        """Successful requests, deduplicated by idempotency key (what a deduping receiver keeps), in order."""
        seen: dict[str, Received] = {}
        for r in self.requests:
            if r.status == 200 and r.key not in seen:
                seen[r.key] = r
        return list(seen.values())

    def verify(self, secret: str) -> bool:
        return all(signature(secret, r.timestamp, r.body) == r.signature for r in self.requests)


def run_until_idle(deliver: Callable[[], dict[str, int]], rounds: int = 50) -> list[dict[str, int]]:
    out = []
    for _ in range(rounds):
        stats = deliver()
        out.append(stats)
        if not stats:
            break
    return out
