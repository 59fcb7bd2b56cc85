"""Demo resource center (资源中心): base libraries fused from several departments, the licence library with its
事项 → 材料 mapping, the service hall window system's grants on the 人口 and 法人 libraries (the facts of the
窗口受理 page), quality rules and disputes in every state, a provider connector pulling from a demo 前置库, and
two subscriptions (a webhook to the demo receiver and a table sink into a demo consumer 前置库).

Each part has its own builder in its app (``<app>/demo.py``, tested there); this module only wires them into the
city, in order: the subscriptions need grants with the 订阅 mode, which the consumers apply for here first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from govshare.accounts.models import User
from govshare.baselibs.demo import build_demo_baselibs
from govshare.baselibs.models import BaseLibrary
from govshare.catalog.models import Resource
from govshare.connectors.demo import build_demo_connector
from govshare.datasets.models import Dataset
from govshare.demo.companies import company_rows
from govshare.demo.people import people_rows
from govshare.demo.receiver import save_secret
from govshare.exchange.choices import ApplicationStatus
from govshare.exchange.models import Application, Grant
from govshare.exchange.services.applications import act, submit_application
from govshare.exchange.services.grants import Decision
from govshare.licences.demo import build_demo_licences
from govshare.organizations.models import Department, Node
from govshare.quality.demo import build_demo_disputes
from govshare.registry.models import InformationSystem
from govshare.subscriptions.demo import build_demo_subscriptions

Say = Callable[[str], None]

# Base-library fusion and licence issuing work on a slice of the city (fusion of 10k people takes ~40 s on
# SQLite); the libraries then cover that slice.
FUSION_PEOPLE = 10_000
FUSION_COMPANIES = 3_000
WEBHOOK_URL = "http://127.0.0.1:8701/hook"  # the demo receiver (govshare demo --receiver-port)
CONNECTOR_RESOURCE = "医疗机构名录"


def _user(**filters: Any) -> User:
    user = User.objects.filter(**filters).order_by("username").first()
    if user is None:
        raise LookupError(f"demo user not found: {filters}")
    return user


def _approved_grant(resource: Resource, system: InformationSystem, items: dict[str, str], modes: list[str],
                    purpose: str) -> Grant:
    """A consumer of the system's department applies and every review stage approves, through the services."""
    consumer = _user(department=system.department, role="consumer")
    app = submit_application(
        actor=consumer, resource=resource, system=system, items=list(items), modes=modes,
        purpose=purpose, legal_basis="《广东省政务数据资源共享管理办法》",
        valid_to=timezone.localdate() + dt.timedelta(days=365))
    if app.status == ApplicationStatus.INTERNAL_REVIEW:  # the city turned 部门内部审核 on in the exchange demo
        app = act(actor=_user(department=system.department, role="dept_admin"), application=app,
                  action="approve_internal")
    if app.status == ApplicationStatus.COMPLIANCE_REVIEW:
        app = act(actor=_user(role="data_office", node=resource.node), application=app, action="pass_compliance")
    if app.status == ApplicationStatus.PROVIDER_REVIEW:
        app = act(actor=_user(department_id=resource.provider_id, role="provider"), application=app,
                  action="approve", decision=Decision(items=items))
    return Grant.objects.get(application=Application.objects.get(pk=app.pk))


def _subscription_grant(resource_name: str, system_name: str, items: dict[str, str], purpose: str) -> Grant:
    """A consumer applies for 订阅 (subscription) and, for a conditional resource, the provider approves."""
    resource = Resource.objects.select_related("published_version").get(name=resource_name)
    system = InformationSystem.objects.select_related("department").get(name=system_name)
    return _approved_grant(resource, system, items, ["query", "subscription"], purpose)


# The service hall's window system reads the 人口 and 法人 base libraries for the window page (窗口受理): the
# facts a clerk checks against the applicant's papers in clear, addresses masked, the mobile number verify-only.
WINDOW_SYSTEM = "政务服务大厅综合窗口系统"
WINDOW_ITEMS: dict[str, dict[str, str]] = {
    "population": {"id_number": "plain", "person_name": "plain", "gender": "plain", "birth_date": "plain",
                   "ethnicity": "plain", "household_address": "masked", "current_address": "masked",
                   "phone": "verify_only"},
    "legal_person": {"uscc": "plain", "org_name": "plain", "legal_representative": "masked",
                     "registered_capital": "plain", "established_on": "plain", "registration_status": "plain",
                     "org_address": "plain", "business_scope": "plain"},
}
WINDOW_PURPOSE = "政务服务大厅综合窗口受理办件时核对申请人（自然人、法人）的基础信息，减少群众和企业提交的证明材料"


def _window_grants(node: Node, say: Say) -> None:
    system = InformationSystem.objects.select_related("department").get(name=WINDOW_SYSTEM, node=node)
    for code, items in WINDOW_ITEMS.items():
        library = BaseLibrary.objects.select_related("resource__published_version").get(node=node, code=code)
        if library.resource.provider_id == system.department_id:
            # 本部门资源无需申请: the exchange refuses an application for the department's own resource
            say(f"窗口基础库授权：{WINDOW_SYSTEM}与{library.name}同属{system.department.name}，无法申请共享，"
                "窗口受理页面将提示“本窗口系统未获授权查询基础库”")
            continue
        grant = _approved_grant(library.resource, system, items, ["query"], WINDOW_PURPOSE)
        say(f"窗口基础库授权：{WINDOW_SYSTEM} 查询{library.name}（{len(items)} 项，授权 {grant.pk}）")


def _subscriptions(say: Say) -> None:
    webhook_grant = _subscription_grant(
        "法人基本信息", "社会救助信息系统", {"uscc": "plain", "org_name": "plain"},
        "社会救助家庭经济状况核对时同步申请人名下企业的登记变更（订阅推送）")
    table_grant = _subscription_grant(
        "人口基本信息", "婚姻登记管理系统",
        {"id_number": "plain", "person_name": "plain", "gender": "plain", "mobile": "masked"},
        "婚姻登记前置库同步人口基本信息变更（库表交换）")
    home = Path(settings.GOVSHARE_HOME)
    made = build_demo_subscriptions(grant_for_webhook=webhook_grant, grant_for_table=table_grant,
                                    actor=_user(role="consumer", department_id=table_grant.consumer_id),
                                    home=home, webhook_url=WEBHOOK_URL)
    save_secret(made["webhook"]["secret"])
    say(f"订阅：webhook 推送至演示接收端 {WEBHOOK_URL}；库表推送至 {made['table']['database']} 的 "
        f"{made['table']['table']} 表（由后台任务进程投递）")


def build_resource_center(*, node: Node, departments: Mapping[str, Department], people: int, companies: int,
                          say: Say) -> dict[str, Any]:
    """Run after the exchange demo (the disputes use its grants) and before the audit log is sealed."""
    office = _user(role="data_office", node=node)
    people_slice = list(people_rows(min(people, FUSION_PEOPLE)))
    company_slice = list(company_rows(min(companies, FUSION_COMPANIES)))
    libs = build_demo_baselibs(node=node, departments=departments, people=people_slice, companies=company_slice,
                               actor="demo", data_office=office)
    parts = "，".join(f"{code} {v['records']} 条（差异 {v['discrepancies']}）" for code, v in libs["libraries"].items())
    say(f"基础库：{len(libs['libraries'])} 个，{parts}")
    lic = build_demo_licences(node=node, departments=dict(departments), people=people_slice,
                              companies=company_slice, actor=office)
    say(f"电子证照：证照类型 {lic['types']} 种，证照 {lic['licences']} 张（注销 {lic['revoked']}），"
        f"事项 {lic['items']} 个，材料 {lic['materials']} 项")
    _window_grants(node, say)
    disputes = build_demo_disputes(node=node, say=say)
    dataset = Dataset.objects.select_related("resource").get(resource__name=CONNECTOR_RESOURCE)
    provider = _user(department_id=dataset.resource.provider_id, role="provider")
    connector = build_demo_connector(dataset=dataset, actor=provider, home=Path(settings.GOVSHARE_HOME))
    say(f"前置库接入：“{CONNECTOR_RESOURCE}”由 {connector.name} 增量拉取并完成对账")
    _subscriptions(say)
    return {"baselibs": libs, "licences": lic, "disputes": disputes, "connector": str(connector.pk)}
