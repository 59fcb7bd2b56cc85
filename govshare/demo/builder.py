"""Build (or find) the demo city: 潮州市 with its county-level nodes, departments, accounts, information
systems, a catalog in every lifecycle state, and synthetic datasets (DESIGN.md §5).

Every write goes through the apps' services, as the platform's own users would make it: the provider
staff draft and submit, the data office publishes, department administrators register systems.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.audit.services import record_event
from govshare.catalog.choices import ResourceStatus
from govshare.catalog.models import Resource
from govshare.catalog.seeding import seed_catalog
from govshare.catalog.services import ResourceFields, apply_action, create_resource, update_resource
from govshare.core.crypto.envelope import decrypt_secret
from govshare.core.identifiers import make_uscc
from govshare.datasets.choices import UploadStatus
from govshare.datasets.models import Dataset
from govshare.datasets.services import load_rows, mount_resource
from govshare.demo import catalog_spec as st
from govshare.demo.accounts import Login, create_users, demo_logins
from govshare.demo.catalog_basic import BASIC
from govshare.demo.catalog_more import DEPARTMENT, THEME
from govshare.demo.city import CITY_CODE, DEPARTMENTS, NODE_REGION, NODES, SYSTEMS
from govshare.demo.companies import company_rows
from govshare.demo.exchange import VerifyExample, build_exchange, seal_audit, verify_example
from govshare.demo.people import people_rows
from govshare.demo.resource_center import build_resource_center
from govshare.demo.small import hospital_rows, penalty_rows, pension_rows, property_rows, school_rows
from govshare.demo.traffic import make_calls
from govshare.exchange.models import Application, Grant
from govshare.organizations.holidays import seed_holidays, supported_seed_years
from govshare.organizations.models import Department, Node
from govshare.organizations.services import create_department, create_node, load_regions
from govshare.registry.models import AppCredential, InformationSystem
from govshare.registry.services import create_system, issue_credential
from govshare.stats.services import refresh_range

RESOURCES: tuple[st.ResourceSpec, ...] = (*BASIC, *THEME, *DEPARTMENT)
STARTED_EVENT = "demo.started"  # written first: marks this database as a demo database
BUILT_EVENT = "demo.built"
DEFAULT_PEOPLE = 100_000
DEFAULT_COMPANIES = 20_000


class DemoError(Exception):
    """The demo cannot be built or reused here (message in Chinese, for the operator)."""


@dataclass(frozen=True)
class Credential:
    system: str
    department: str
    app_key: str
    app_secret: str


@dataclass
class DemoSummary:
    reused: bool
    people: int
    companies: int
    seconds: float
    logins: list[Login] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    verify: VerifyExample | None = None


Out = Callable[[str], None]


class _Clock:
    def __init__(self, out: Out, start: float | None = None) -> None:
        self.out = out
        self.start = time.perf_counter() if start is None else start

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def say(self, text: str) -> None:
        self.out(f"[{self.elapsed():6.1f}s] {text}")


# ---------------------------------------------------------------------------------------------
# Finding an existing demo
# ---------------------------------------------------------------------------------------------


def find_demo() -> AuditEvent | None:
    """The audit event of a finished demo build on this database, or None on an empty database.

    Raises :class:`DemoError` when the database holds something else: a real installation (a local
    node the demo did not make), or a demo build that did not finish.
    """
    state = database_state()
    if state == "empty":
        return None
    if state == "other":
        raise DemoError(f"此数据库已有{describe_other_data()}，不能在其中生成演示数据。"
                        "请为演示另设 GOVSHARE_HOME 或 DATABASE_URL。")
    event = AuditEvent.objects.filter(action=BUILT_EVENT).order_by("-seq").first()
    if event is None:
        raise DemoError("发现未完成的演示数据（上次生成可能被中断），请运行 govshare demo --reset 重新生成。")
    return event


def database_state() -> str:
    """``"demo"`` when ``govshare demo`` started building here (its first audit event), ``"other"`` when
    the database holds nodes, departments, users or resources the demo did not make, else ``"empty"``."""
    if AuditEvent.objects.filter(action=STARTED_EVENT).exists():
        return "demo"
    for model in (Node, Department, User, Resource):
        if model.objects.exists():
            return "other"
    return "empty"


def describe_other_data() -> str:
    local = Node.objects.filter(is_local=True).first()
    if local is not None:
        return f"节点“{local.name}”（{local.code}）的正式数据"
    return "非演示数据（节点、部门、用户或目录）"


# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------


@dataclass
class _City:
    nodes: dict[str, Node] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def office_for(self, node: Node) -> User | None:
        """The data office reviewer of a node (None: the platform itself reviews)."""
        return next((u for u in self.users.values() if u.role == "data_office" and u.node_id == node.pk), None)


def _base_data(clock: _Clock) -> None:
    regions = load_regions(actor=None)
    classes, elements = seed_catalog(actor=None)
    years = seed_holidays(actor=None, years=supported_seed_years())
    clock.say(f"基础数据：行政区划 {regions} 条，资源分类 {classes} 个，数据元 {elements} 个，节假日 {len(years)} 年")


def _organizations(city: _City, clock: _Clock) -> None:
    for n in NODES:
        city.nodes[n.code] = create_node(
            actor=None, code=n.code, name=n.name, level=n.level, region_code=n.region,
            parent=city.nodes[n.parent] if n.parent else None, is_local=n.code == CITY_CODE,
        )
    for d in DEPARTMENTS:
        region = d.region or NODE_REGION[d.node]
        uscc_region = d.uscc_region or region or CITY_CODE
        city.departments[d.slug] = create_department(
            actor=None, node=city.nodes[d.node], name=d.name, short_name=d.short,
            # 机关: 登记管理部门码 1 (机构编制), 机构类别码 1 (机关).
            uscc=make_uscc("1", "1", uscc_region, d.org_body), region_code=region, is_data_office=d.data_office,
        )
    clock.say(f"节点 {len(city.nodes)} 个（市级 1，县级 {len(city.nodes) - 1}，含无区划代码的枫溪区）；"
              f"部门 {len(city.departments)} 个")


def _accounts(city: _City, clock: _Clock) -> None:
    city.users = create_users(nodes=city.nodes, departments=city.departments)
    admins = sum(1 for u in city.users.values() if u.totp_secret_enc)
    clock.say(f"用户 {len(city.users)} 个（其中 {admins} 个管理员已绑定动态口令）")


def _systems(city: _City, clock: _Clock) -> None:
    issued = 0
    for s in SYSTEMS:
        admin = city.users[f"{s.dept}_admin"]
        system = create_system(actor=admin, department=city.departments[s.dept], name=s.name, purpose=s.purpose)
        if s.credential:
            issue_credential(actor=admin, system=system, label="演示凭证")
            issued += 1
    clock.say(f"信息系统 {len(SYSTEMS)} 个，应用凭证 {issued} 个")


def _fields(city: _City, spec: st.ResourceSpec, **override: Any) -> ResourceFields:
    values: dict[str, Any] = {
        "name": spec.name, "classification_code": spec.cls, "summary": spec.summary,
        "source_department": city.departments[spec.source] if spec.source else None,
        "formats": list(spec.formats), "share_type": spec.share,
        "share_condition": spec.condition or (st.DEFAULT_CONDITION if spec.share == "conditional" else ""),
        "share_modes": list(spec.modes), "no_share_basis": spec.basis, "open_type": spec.open,
        "open_condition": spec.open_condition, "update_cycle": spec.cycle, "tags": list(spec.tags),
    }
    values.update(override)
    return ResourceFields(**values)


def _resource(city: _City, spec: st.ResourceSpec) -> Resource:
    dept = city.departments[spec.provider]
    staff = city.users[f"{spec.provider}_provider"]
    office = city.office_for(dept.node)
    first = _fields(city, spec, share_type="unconditional", share_condition="") if spec.state == st.TIGHTENED \
        else _fields(city, spec)
    r = create_resource(actor=staff, provider=dept, fields=first, items=spec.items)
    if spec.state == st.DRAFT:
        return r
    r = apply_action(actor=staff, resource=r, action="submit")
    if spec.state == st.PENDING:
        return r
    if spec.state == st.REJECTED:
        return apply_action(actor=office, resource=r, action="reject", reason=spec.note)
    r = apply_action(actor=office, resource=r, action="publish")
    if spec.state in (st.TIGHTENED, st.REVISING):
        r = apply_action(actor=staff, resource=r, action="revise")
        summary = spec.summary if spec.state == st.TIGHTENED else f"{spec.summary}（修订中：{spec.note}）"
        r = update_resource(actor=staff, resource=r, fields=_fields(city, spec, summary=summary))
        if spec.state == st.TIGHTENED:
            r = apply_action(actor=staff, resource=r, action="submit")
            r = apply_action(actor=office, resource=r, action="publish")
    elif spec.state in (st.WITHDRAWAL_PENDING, st.WITHDRAWN):
        r = apply_action(actor=staff, resource=r, action="request_withdrawal", reason=spec.note)
        if spec.state == st.WITHDRAWN:
            r = apply_action(actor=office, resource=r, action="approve_withdrawal")
    return r


def lifecycle_label(r: Resource) -> str:
    """The status label, telling apart a revision in progress and a draft sent back by the reviewer."""
    if r.status == ResourceStatus.DRAFT and r.published_version_id:
        return "已发布（修订中）"
    if r.status == ResourceStatus.DRAFT and r.review_note:
        return "草稿（已退回）"
    return str(ResourceStatus(r.status).label)


def _catalog(city: _City, clock: _Clock) -> dict[str, Resource]:
    made = {spec.name: _resource(city, spec) for spec in RESOURCES}
    by_status: dict[str, int] = {}
    for r in made.values():
        label = lifecycle_label(r)
        by_status[label] = by_status.get(label, 0) + 1
    states = "，".join(f"{k} {v}" for k, v in by_status.items())
    clock.say(f"目录资源 {len(made)} 个（{states}）")
    return made


def _rows(kind: str, people: int, companies: int) -> Iterable[dict[str, str]]:
    if kind == "people":
        return people_rows(people)
    if kind == "companies":
        return company_rows(companies)
    if kind == "properties":
        return property_rows(min(3000, people // 4), people=people)
    if kind == "penalties":
        return penalty_rows(min(400, companies // 5), companies=companies)
    if kind == "pensions":
        return pension_rows(min(2000, max(people // 20, 50)), people=people)
    if kind == "hospitals":
        return hospital_rows()
    if kind == "schools":
        return school_rows()
    raise ValueError(f"unknown demo dataset {kind!r}")


def _datasets(city: _City, resources: dict[str, Resource], clock: _Clock, people: int, companies: int) -> None:
    for spec in RESOURCES:
        if spec.dataset is None:
            continue
        staff = city.users[f"{spec.provider}_provider"]
        dataset = mount_resource(actor=staff, resource=resources[spec.name])

        def report(rows: int, name: str = spec.name) -> None:
            if rows % 50_000 == 0:
                clock.say(f"  {name}：已校验并写入 {rows} 行")

        up = load_rows(actor=staff, dataset=dataset, rows=_rows(spec.dataset, people, companies),
                       label=f"demo:{spec.dataset}", progress=report)
        if up.status != UploadStatus.APPLIED:
            raise DemoError(f"演示数据集“{spec.name}”载入失败：{up.problems[:3]}")
        clock.say(f"数据集“{spec.name}”：{up.rows_total} 行")


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def build_demo(*, people: int = DEFAULT_PEOPLE, companies: int = DEFAULT_COMPANIES,
               out: Out = print, started: float | None = None) -> DemoSummary:
    """Build the demo city on an empty (migrated) database. Deterministic for given sizes.

    ``out`` receives one progress line per phase, stamped with seconds since ``started``
    (a ``time.perf_counter()`` value; default: now)."""
    if people < 100 or companies < 50:
        raise DemoError("演示数据至少需要 100 名居民和 50 家企业 (--people ≥ 100, --companies ≥ 50)")
    if find_demo() is not None:
        raise DemoError("演示数据已存在 (the demo is already built)")
    clock = _Clock(out, started)
    with transaction.atomic():
        record_event(actor=None, action=STARTED_EVENT, data={"people": people, "companies": companies})
    city = _City()
    _base_data(clock)
    _organizations(city, clock)
    _accounts(city, clock)
    _systems(city, clock)
    resources = _catalog(city, clock)
    _datasets(city, resources, clock, people, companies)
    build_exchange(clock.say)
    build_resource_center(node=city.nodes[CITY_CODE], departments=city.departments, people=people,
                          companies=companies, say=clock.say)
    make_calls(credentials=[(c.system, c.app_key, c.app_secret) for c in _credentials()], say=clock.say)
    rollups = refresh_range(actor="demo", days=30)
    clock.say(f"共享统计：已汇总最近 {len(rollups)} 天")
    seconds = round(clock.elapsed(), 1)
    with transaction.atomic():
        record_event(actor=None, action=BUILT_EVENT, target_type="node", target_id=str(city.nodes[CITY_CODE].pk),
                     data={"people": people, "companies": companies, "seconds": seconds})
    seal_audit(clock.say)
    clock.say("演示城市生成完毕")
    return _summary(reused=False, people=people, companies=companies, seconds=seconds)


def ensure_demo(*, people: int = DEFAULT_PEOPLE, companies: int = DEFAULT_COMPANIES,
                out: Out = print, started: float | None = None) -> DemoSummary:
    """Reuse the demo already on this database, or build it."""
    event = find_demo()
    if event is None:
        return build_demo(people=people, companies=companies, out=out, started=started)
    built = event.data
    when = timezone.localtime(event.occurred_at)
    out(f"检测到已有演示数据（生成于 {when:%Y-%m-%d %H:%M}，居民 {built.get('people')} 人、"
        f"企业 {built.get('companies')} 家），直接使用；如需重新生成请加 --reset。")
    return _summary(reused=True, people=int(built.get("people", 0)), companies=int(built.get("companies", 0)),
                    seconds=float(built.get("seconds", 0.0)))


def _credentials() -> list[Credential]:
    out: list[Credential] = []
    for s in SYSTEMS:
        if not s.credential:
            continue
        system = InformationSystem.objects.select_related("department").filter(
            name=s.name, department__name=next(d.name for d in DEPARTMENTS if d.slug == s.dept)).first()
        cred = AppCredential.objects.filter(system=system, status="active").order_by("created_at").first()
        if system is None or cred is None:
            continue
        secret = decrypt_secret(cred.secret_enc, purpose="credential").decode()
        out.append(Credential(system.name, system.department.name, cred.app_key, secret))
    return out


def _counts() -> dict[str, int]:
    listed = Resource.objects.filter(is_listed=True).count()
    return {
        "nodes": Node.objects.count(),
        "departments": Department.objects.count(),
        "users": User.objects.count(),
        "systems": InformationSystem.objects.count(),
        "resources": Resource.objects.count(),
        "listed": listed,
        "datasets": Dataset.objects.count(),
        "rows": sum(Dataset.objects.values_list("row_count", flat=True)),
        "applications": Application.objects.count(),
        "grants": Grant.objects.count(),
    }


def _summary(*, reused: bool, people: int, companies: int, seconds: float) -> DemoSummary:
    return DemoSummary(reused=reused, people=people, companies=companies, seconds=seconds,
                       logins=demo_logins(), credentials=_credentials(), counts=_counts(),
                       verify=verify_example())
