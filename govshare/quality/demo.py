"""Demo data quality and disputes (数据质量与疑义数据) for one node of the demo city.

:func:`build_demo_disputes` runs after the datasets and the exchange are built (it needs mounted data and
active grants). Every write goes through the quality and datasets services as the users would make them,
except :func:`_age`, which moves some dispute clocks into the past (a demo has no past) so that the sweep
finds overdue disputes to escalate and one due soon to remind.

What it leaves behind:

- configured rules: 身份证号 ↔ 出生日期/性别 agreement and an 出生日期 range on the data elements (by the data
  office), and a required 现住址 on the people resource (by its providing department);
- a realistic sprinkling of disagreeing records in the people dataset (an incremental batch from its
  provider), found by a full quality pass over every dataset of the node;
- disputes in every state — submitted, accepted, resolved (confirmed, corrected through the change log),
  rejected, withdrawn, a confirmed one reopened — some overdue and escalated to the data office, one
  reminded; plus one raised by the platform's quality check (origin ``quality``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.catalog.models import DataElement
from govshare.core.identifiers import IdentifierError, resident_id_birth_date, resident_id_gender
from govshare.datasets.changes import apply_batch, iter_live_records, live_records
from govshare.datasets.models import Dataset
from govshare.exchange.choices import GrantStatus
from govshare.exchange.models import Grant
from govshare.organizations.models import Node
from govshare.quality.choices import DisputeStatus
from govshare.quality.models import Dispute, QualityIssue, QualityRule
from govshare.quality.services.disputes import act_on_dispute, raise_dispute
from govshare.quality.services.rules import create_rule
from govshare.quality.services.runs import run_full
from govshare.quality.services.sweep import sweep_disputes

Say = Callable[[str], None]
SPRINKLE = 24  # disagreeing records put into the people dataset


class DemoQualityError(LookupError):
    pass


def _office(node: Node) -> User:
    user = User.objects.filter(role=Role.DATA_OFFICE, node=node).order_by("username").first()
    if user is None:
        raise DemoQualityError(f"no data office user on node {node.code}")
    return user


def _staff(department_id: Any, role: str) -> User:
    user = User.objects.filter(department_id=department_id, role=role).order_by("username").first()
    if user is None:
        raise DemoQualityError(f"no {role} user in department {department_id}")
    return user


def _people_grants(node: Node) -> tuple[Dataset, list[Grant]]:
    """The node's dataset keyed by 身份证号 that carries 出生日期 and has active grants covering it."""
    today = timezone.localdate()
    grants = (Grant.objects.filter(node=node, status=GrantStatus.ACTIVE, valid_from__lte=today, valid_to__gte=today,
                                   items__column_name="birth_date", resource__dataset__generation__gt=0,
                                   resource__dataset__key_column="id_number")
              .select_related("resource__dataset").order_by("created_at").distinct())
    by_dataset: dict[Any, list[Grant]] = {}
    for g in grants:
        by_dataset.setdefault(g.resource.dataset.pk, []).append(g)
    if not by_dataset:
        raise DemoQualityError("no active grant covering 出生日期 on a mounted 身份证号 dataset")
    dataset_id, chosen = max(by_dataset.items(), key=lambda kv: len(kv[1]))
    return Dataset.objects.select_related("resource").get(pk=dataset_id), chosen


def _rules(office: User, dataset: Dataset) -> int:
    elements = {e.code: e for e in DataElement.objects.filter(code__in=["DE0001", "DE0004"])}
    made = [
        create_rule(actor=office, kind="cross_field", element=elements["DE0001"],
                    params={"birth": "DE0004", "gender": "DE0003"}),
        create_rule(actor=office, kind="date_range", element=elements["DE0004"],
                    params={"min": "1900-01-01", "max": "today"}, message="出生日期应在1900年至今之间"),
    ]
    columns = {i["column_name"] for i in dataset.resource.published_version.snapshot.get("items", [])} \
        if dataset.resource.published_version else set()
    if "current_address" in columns:
        made.append(create_rule(actor=_staff(dataset.resource.provider_id, Role.PROVIDER), kind="required",
                                resource=dataset.resource, column="current_address",
                                message="现住址为空，请补录 (current address missing)"))
    return len(made)


def _sprinkle(dataset: Dataset) -> list[str]:
    """Put realistic disagreements into some records: a birth date typed a day off, a gender swapped."""
    rows: list[dict[str, Any]] = []
    stride = max(1, min(37, dataset.row_count // (SPRINKLE + 8)))
    for n, (key, data) in enumerate(iter_live_records(dataset=dataset, batch=500)):
        if n < 7 or n % stride:  # spread over the dataset, away from the first (printed) records
            continue
        try:
            birth, gender = resident_id_birth_date(key), resident_id_gender(key)
        except IdentifierError:
            continue
        row = dict(data)
        if len(rows) % 2 == 0 and data.get("birth_date"):
            row["birth_date"] = (birth + dt.timedelta(days=1 if birth.day < 28 else -1)).isoformat()
        elif data.get("gender") in ("男", "女"):
            row["gender"] = "女" if gender == "male" else "男"
        else:
            continue
        rows.append(row)
        if len(rows) >= SPRINKLE:
            break
    if rows:
        apply_batch(actor=_staff(dataset.resource.provider_id, Role.PROVIDER), dataset=dataset,
                    batch_id="demo:quality-sprinkle", upserts=rows, kind="incremental", source="演示：录入差错")
    return [str(r["id_number"]) for r in rows]


def _fix(dataset: Dataset, key: str) -> dict[str, str | None]:
    """The provider's correction of a record: 出生日期 and 性别 as the 身份证号 says, else a re-typed address."""
    live = live_records(dataset=dataset, keys=[key])[key]
    try:
        truth: dict[str, str | None] = {"birth_date": resident_id_birth_date(key).isoformat(),
                                        "gender": "男" if resident_id_gender(key) == "male" else "女"}
    except IdentifierError:
        truth = {}
    fix = {k: v for k, v in truth.items() if k in live and live[k] != v}
    return fix or {"current_address": f"{live.get('current_address') or ''}（已核实）"}


def _age(dispute: Dispute, *, days: int, due_in: dt.timedelta) -> None:
    """Simulated elapsed time: the only write here that bypasses the services (the stage clock fields)."""
    now = timezone.now()
    start = now - dt.timedelta(days=days)
    fields: dict[str, Any] = {"stage_started_at": start}
    if dispute.status == DisputeStatus.SUBMITTED:
        fields.update(submitted_at=start, accept_due_at=now + due_in)
    else:
        fields.update(submitted_at=start - dt.timedelta(days=2), accepted_at=start, resolve_due_at=now + due_in)
    Dispute.objects.filter(pk=dispute.pk).update(**fields)


def _disputes(dataset: Dataset, grants: list[Grant], bad_keys: list[str], office: User) -> dict[str, Dispute]:
    provider = _staff(dataset.resource.provider_id, Role.PROVIDER)
    raisers = [(g, _staff(g.consumer_id, Role.CONSUMER)) for g in grants]
    keys = [k for k, _ in iter_live_records(dataset=dataset, batch=200) if k not in bad_keys][3:40]
    pool = iter(bad_keys[:8] + keys)
    made: dict[str, Dispute] = {}

    def flag(label: str, reason: str, column: str = "birth_date", raiser: int = 0) -> Dispute:
        grant, user = raisers[raiser % len(raisers)]
        granted = set(grant.items.values_list("column_name", flat=True))
        col = column if column in granted else "birth_date"
        made[label] = raise_dispute(actor=user, dataset=dataset, record_key=next(pool), column=col, reason=reason,
                                    evidence={"业务场景": "窗口受理时申请人出示的证件与共享数据不一致"})
        return made[label]

    def step(label: str, action: str, text: str = "", **kw: Any) -> None:
        made[label] = act_on_dispute(actor=kw.pop("actor", provider), dispute=made[label], action=action, text=text,
                                     **kw)

    flag("corrected", "申请人身份证显示的出生日期与共享数据不一致")
    step("corrected", "accept")
    step("corrected", "correct", "经核对户籍档案，录入有误，已更正",
         corrections=_fix(dataset, made["corrected"].record_key))
    flag("confirmed", "共享数据中的性别与申请人自述不一致", column="gender", raiser=1)
    step("confirmed", "accept")
    step("confirmed", "confirm", "经核对户籍档案和身份证底卡，性别登记无误；申请人自述有误")
    flag("reopened", "出生日期疑似有误", raiser=1)
    step("reopened", "accept")
    step("reopened", "confirm", "经核对，出生日期无误")
    step("reopened", "reopen", "申请人提供了出生医学证明，与共享数据不一致，请再次核查",
         actor=raisers[1 % len(raisers)][1])
    flag("rejected", "该人员的婚姻状况与民政婚姻登记不一致", column="gender")
    step("rejected", "reject", "婚姻状况由民政部门登记，不属于本资源的信息项，请向市民政局反馈")
    flag("withdrawn", "出生日期疑似有误")
    step("withdrawn", "withdraw", actor=raisers[0][1])
    flag("submitted", "出生日期与社保参保登记不一致", raiser=1)
    flag("submitted_overdue", "出生日期与不动产登记申请材料不一致")
    flag("accepted", "性别登记疑似有误", column="gender")
    step("accepted", "accept")
    flag("accepted_overdue", "出生日期疑似有误", raiser=1)
    step("accepted_overdue", "accept")
    flag("accepted_due_soon", "出生日期与学籍登记不一致")
    step("accepted_due_soon", "accept")
    _age(made["submitted_overdue"], days=6, due_in=-dt.timedelta(days=2))
    _age(made["accepted_overdue"], days=20, due_in=-dt.timedelta(days=4))
    _age(made["accepted_due_soon"], days=12, due_in=dt.timedelta(hours=20))
    issue = (QualityIssue.objects.filter(dataset_id=dataset.pk, kind="cross_field")
             .exclude(record_key__in=[d.record_key for d in made.values()]).order_by("record_key").first())
    if issue is not None:
        made["quality"] = raise_dispute(actor="quality", dataset=dataset, record_key=issue.record_key,
                                        column=issue.column_name, origin="quality",
                                        reason=f"质量检查：{issue.message}", evidence={"rule": issue.rule_key})
    return made


def build_demo_disputes(*, node: Node, say: Say | None = None) -> dict[str, Any]:
    """Rules, a full quality pass and disputes in every state on ``node`` (see the module docstring)."""
    say = say or (lambda _text: None)
    office = _office(node)
    dataset, grants = _people_grants(node)
    rules = _rules(office, dataset)
    bad_keys = _sprinkle(dataset)
    checked = failing = runs = 0
    for ds in Dataset.objects.filter(node=node, generation__gt=0).order_by("pk"):
        run = run_full(dataset=ds, actor="demo")
        if run is not None:
            runs += 1
            checked += run.rows_checked
            failing += run.rows_failing
    say(f"数据质量：质量规则 {QualityRule.objects.filter(node=node).count()} 条，全量检查 {runs} 个数据集 "
        f"{checked} 行，不合格 {failing} 行")
    made = _disputes(dataset, grants, bad_keys, office)
    swept = sweep_disputes()
    by_status: dict[str, int] = {}
    for d in Dispute.objects.filter(node=node):
        label = d.get_status_display()
        by_status[label] = by_status.get(label, 0) + 1
    escalated = Dispute.objects.filter(Q(node=node), Q(escalated_at__isnull=False)).count()
    say(f"疑义数据 {sum(by_status.values())} 件（" + "，".join(f"{k} {v}" for k, v in by_status.items()) +
        f"）；催办 {swept['reminded']} 件，超期上报数据主管部门 {escalated} 件")
    return {"rules": rules, "runs": runs, "rows_checked": checked, "rows_failing": failing,
            "sprinkled": len(bad_keys), "disputes": {k: str(v.pk) for k, v in made.items()},
            "by_status": {s: Dispute.objects.filter(node=node, status=s).count() for s in DisputeStatus.values},
            "reminded": swept["reminded"], "escalated": escalated}
