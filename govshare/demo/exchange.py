"""Demo exchange (共享申请与授权): applications in every state, grants in every item mode, a suspension, a
revocation, overdue stages swept into reminders and escalations, and the audit log sealed once.

Every write goes through the exchange services as the users would make them. The only exception is
:func:`_simulate_elapsed_time`, which moves some stage clocks into the past (a demo has no past).

Internal review (部门内部审核) is a per-node setting: after the other applications are made, the city's
系统管理员 switches it on (as a city that wants departments to approve their own applications would), and
one more application then waits in that stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.utils import timezone

from govshare.accounts.models import User
from govshare.audit.seal import seal_pending
from govshare.catalog.models import Resource
from govshare.datasets.models import DatasetRecord
from govshare.exchange.choices import ApplicationStatus, GrantStatus, SuspensionScope
from govshare.exchange.models import Application, Grant
from govshare.exchange.services.applications import (
    act,
    override_inference_guard,
    submit_application,
    sweep_deadlines,
    update_policy,
)
from govshare.exchange.services.grants import Decision, revoke_grant, suspend
from govshare.registry.models import InformationSystem

Say = Callable[[str], None]

PEOPLE = "人口基本信息"  # gaj, 有条件共享, mounted
COMPANIES = "法人基本信息"  # scjg, 无条件共享, mounted
PROPERTY = "不动产登记信息"  # zrzyj, 有条件共享, mounted
HOUSEHOLD = "户籍登记信息"  # gaj, 有条件共享, published but not mounted
LEFT_OUT: frozenset[str] = frozenset()

OFFICE = "shujuju"
SEC_ADMIN = "secadmin"


@dataclass(frozen=True)
class VerifyExample:
    resource: str  # resource code
    key: str  # a 公民身份号码 from the dataset
    name: str  # the claimed 姓名 (the true one)


def _user(username: str) -> User:
    return User.objects.get(username=username)


def _system(name: str) -> InformationSystem:
    return InformationSystem.objects.select_related("department").get(name=name)


def _resource(name: str) -> Resource:
    return Resource.objects.select_related("published_version").get(name=name)


def _consumer_of(system: InformationSystem) -> User:
    dept = system.department
    slug = User.objects.filter(department=dept, role="consumer").values_list("username", flat=True).first()
    if slug is None:
        raise LookupError(f"no consumer user in {dept.name}")
    return _user(slug)


def _provider_of(resource: Resource) -> User:
    user = User.objects.filter(department_id=resource.provider_id, role="provider").order_by("username").first()
    if user is None:
        raise LookupError(f"no provider user for {resource.name}")
    return user


def _submit(resource: Resource, system_name: str, items: list[str], purpose: str,
            modes: tuple[str, ...] = ("query", "verify")) -> Application:
    system = _system(system_name)
    return submit_application(
        actor=_consumer_of(system), resource=resource, system=system, items=items, modes=list(modes),
        purpose=purpose, legal_basis="《广东省政务数据资源共享管理办法》",
        valid_to=timezone.localdate() + dt.timedelta(days=365))


def _to_provider(app: Application) -> Application:
    if app.status == ApplicationStatus.COMPLIANCE_REVIEW:
        app = act(actor=_user(OFFICE), application=app, action="pass_compliance")
    return app


def _approve(app: Application, items: dict[str, str]) -> Application:
    app = _to_provider(app)
    return act(actor=_provider_of(app.resource), application=app, action="approve",
               decision=Decision(items=items))


def _refuse(app: Application, reason: str, text: str) -> Application:
    app = _to_provider(app)
    return act(actor=_provider_of(app.resource), application=app, action="refuse", refusal_reason=reason,
               reason=text)


def _grant(app: Application) -> Grant:
    return Grant.objects.get(application=app)


def _applications(say: Say) -> dict[str, Application]:
    people, companies = _resource(PEOPLE), _resource(COMPANIES)
    prop, household = _resource(PROPERTY), _resource(HOUSEHOLD)
    made: dict[str, Application] = {}

    # Approved, one per item mode. The three systems with printed credentials hold grants on 人口基本信息.
    made["plain"] = _approve(
        _submit(people, "一网通办受理平台", ["id_number", "person_name", "gender", "birth_date"],
                "政务服务事项受理时核验申请人身份信息"),
        {"id_number": "plain", "person_name": "plain", "gender": "plain", "birth_date": "plain"})
    made["masked"] = _approve(
        _submit(people, "社保业务经办系统", ["id_number", "person_name", "mobile", "current_address"],
                "办理社会保险参保登记，核验参保人身份并联系参保人"),
        {"id_number": "plain", "person_name": "plain", "mobile": "masked", "current_address": "masked"})
    # 仅核验 on 姓名 (high entropy; a low-entropy item such as 性别 would be refused by the guard).
    made["verify_only"] = _approve(
        _submit(people, "不动产登记信息管理平台", ["id_number", "person_name"],
                "不动产登记受理时核验权利人身份（只需核验，不需取得姓名）"),
        {"id_number": "plain", "person_name": "verify_only"})
    # 脱敏的身份证号 with a plain 出生日期 breaks the inference guard: the 安全管理员 accepts the risk first.
    override_items = {"id_number": "masked", "person_name": "plain", "birth_date": "plain"}
    app = _to_provider(_submit(people, "社会救助信息系统", list(override_items),
                               "低保、特困供养对象年龄条件审核"))
    override_inference_guard(actor=_user(SEC_ADMIN), application=app, items=override_items,
                             reason="社会救助审核须核对出生日期，身份证号仅作比对，风险已评估并留档")
    made["override"] = act(actor=_provider_of(people), application=app, action="approve",
                           decision=Decision(items=override_items))
    made["to_suspend"] = _approve(
        _submit(people, "全民健康信息平台", ["id_number", "person_name"], "建立居民电子健康档案时核验身份"),
        {"id_number": "plain", "person_name": "plain"})
    # 无条件共享: approved at once on submission (L1/L2 plain, L3 masked), later revoked by the provider.
    made["to_revoke"] = _submit(companies, "中小学生学籍管理系统", ["uscc", "org_name"],
                                "民办学校举办者资格核验", modes=("query",))

    # Every other state.
    made["compliance_review"] = _submit(people, "医疗保障信息平台", ["id_number", "person_name"],
                                        "医保参保登记核验参保人身份")
    made["provider_review"] = _to_provider(_submit(prop, "商品房网签备案系统", ["property_unit", "property_location"],
                                                   "商品房网签备案前核验房屋登记状态", modes=("query",)))
    made["pending_supply"] = _approve(
        _submit(household, "义务教育招生报名系统", ["id_number", "person_name", "household_address"],
                "义务教育入学报名时核验学生户籍"),
        {"id_number": "plain", "person_name": "plain", "household_address": "plain"})
    made["refused"] = _refuse(_submit(people, "统计联网直报平台", ["id_number", "person_name", "mobile"],
                                      "开展人口抽样调查，联系调查对象"),
                              "purpose_mismatch", "统计调查无需逐人身份证号和手机号码，请申请汇总数据")
    coordination = _refuse(_submit(people, "信用潮州平台", ["id_number", "person_name"],
                                   "公共信用信息归集时关联自然人身份"),
                           "no_legal_basis", "未提供信用信息归集涉及自然人身份信息的依据")
    made["coordination"] = act(actor=_consumer_of(coordination.system), application=coordination, action="object",
                               reason="《广东省公共信用信息管理条例》第十条规定归集自然人信用信息须关联身份")
    closed = _refuse(_submit(people, "城乡低保审批系统（2013版）", ["id_number", "person_name", "current_address"],
                             "低保审批（旧系统）核验申请人身份"),
                     "security_insufficient", "该系统已被社会救助信息系统替代，未通过等级保护测评")
    closed = act(actor=_consumer_of(closed.system), application=closed, action="object",
                 reason="旧系统仍承担存量低保对象复核，请予支持")
    made["closed"] = act(actor=_user(OFFICE), application=closed, action="uphold",
                         reason="经协调，请改用社会救助信息系统申请，维持拒绝")
    made["returned"] = act(actor=_user(OFFICE), application=_submit(
        people, "道路运输管理系统", ["id_number", "person_name", "mobile"], "核验道路运输从业人员身份"),
        action="fail_compliance", reason="申请事由未对应具体政务服务事项，请补充事项编码后重新提交")
    withdrawn = _submit(prop, "污染源在线监控系统", ["property_unit", "property_location"], "核对排污单位厂房权属")
    made["withdrawn"] = act(actor=_consumer_of(withdrawn.system), application=withdrawn, action="withdraw")

    by_status: dict[str, int] = {}
    for a in Application.objects.all():
        by_status[a.get_status_display()] = by_status.get(a.get_status_display(), 0) + 1
    say(f"共享申请 {sum(by_status.values())} 件（" + "，".join(f"{k} {v}" for k, v in by_status.items()) +
        "；部门内部审核未启用）")
    return made


def _simulate_elapsed_time(made: dict[str, Application]) -> None:
    """Move stage clocks into the past, as if the demo city had been running for a while.

    This simulates elapsed time: the only write here that bypasses the services, and only the two stage clock
    fields. Three stages become overdue (escalated by the sweep), one is due soon (reminded)."""
    now = timezone.now()
    overdue = [made[k].pk for k in ("compliance_review", "provider_review", "coordination")]
    Application.objects.filter(pk__in=overdue).update(
        stage_started_at=now - dt.timedelta(days=14), stage_due_at=now - dt.timedelta(days=3))
    Application.objects.filter(pk=made["pending_supply"].pk).update(
        stage_started_at=F("stage_started_at") - dt.timedelta(days=30), stage_due_at=now + dt.timedelta(hours=20))


def _grants(made: dict[str, Application], say: Say) -> None:
    suspend(actor=_user(SEC_ADMIN), scope=SuspensionScope.GRANT, target_id=_grant(made["to_suspend"]).pk,
            reason="全民健康信息平台出现异常批量调用，先行停用待排查")
    revoked = _grant(made["to_revoke"])
    revoke_grant(actor=_provider_of(revoked.resource), grant=revoked,
                 reason="民办学校审批已改由省级平台核验，本授权不再需要")
    by_status = {str(GrantStatus(s).label): Grant.objects.filter(status=s).count() for s in GrantStatus.values}
    modes = sorted({m for g in Grant.objects.prefetch_related("items") for m in g.items.values_list("mode", flat=True)})
    overridden = Grant.objects.exclude(guard_override_reason="").count()
    say(f"授权 {Grant.objects.count()} 个（" + "，".join(f"{k} {v}" for k, v in by_status.items() if v) +
        f"；信息项授权方式 {'/'.join(modes)}；安全管理员批准越过推断防护 {overridden} 个）")


def _internal_review(say: Say) -> None:
    """The city's 系统管理员 turns on 部门内部审核; a new application then waits for its department."""
    admin = _user("sysadmin")
    update_policy(actor=admin, node=admin.node, internal_review=True)
    app = _submit(_resource(PROPERTY), "社保业务经办系统", ["property_unit", "property_location"],
                  "核实参保人员住房情况，用于住房公积金与社保待遇联审")
    say(f"审核流程：已启用部门内部审核，新申请 {app.number} 待本部门管理员审核")


def build_exchange(say: Say) -> None:
    """Applications, grants, deadlines (run after the catalog and the datasets are built)."""
    made = _applications(say)
    _grants(made, say)
    _simulate_elapsed_time(made)
    _internal_review(say)
    swept = sweep_deadlines()
    say(f"办理时限：催办 {swept['reminded']} 件，超期上报数据主管部门 {swept['escalated']} 件")


def seal_audit(say: Say) -> None:
    result = seal_pending()
    say(f"审计日志封存：{len(result.blocks)} 个区块，{result.events} 条事件")


def verify_example() -> VerifyExample | None:
    """A 核验 call that the first printed credential (一网通办受理平台) can make on 人口基本信息."""
    resource = Resource.objects.filter(name=PEOPLE).first()
    dataset: Any = getattr(resource, "dataset", None) if resource is not None else None
    if resource is None or dataset is None:
        return None
    row = DatasetRecord.objects.filter(dataset=dataset, generation=dataset.generation).order_by("key").first()
    if row is None:
        return None
    return VerifyExample(resource=resource.code, key=row.key, name=str(row.data.get("person_name", "")))
