"""Demo licences: a 证照目录 of twelve real licence types, licences issued to the demo's people and companies, the
licence library resource, and service items whose materials map to licence types (免提交).

居民身份证 is not issued by the platform (公安 issues it in its own system). Every type has its issuing department
found by name on the node (a type whose department is missing is skipped: 残疾人证 falls back to 民政局).
Deterministic for the same inputs; running it again reuses types and items and skips numbers already issued.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.core.errors import DomainError
from govshare.licences.choices import HolderKind, LicenceStatus, ValidityRule
from govshare.licences.models import Licence, LicenceType, ServiceItem
from govshare.licences.services import items, types
from govshare.licences.services.issue import IssueSpec, issue_in_transaction, revoke_licence
from govshare.licences.services.library import ensure_licence_resource
from govshare.organizations.models import Department, Node

SEED = 445105
Row = Mapping[str, Any]


@dataclass(frozen=True)
class TypeDef:
    key: str
    name: str
    departments: tuple[str, ...]  # name fragments, tried in order
    holder: str
    rule: str
    years: int | None
    fields: tuple[tuple[str, str, bool], ...]  # (name, data element, required)


F = tuple[tuple[str, str, bool], ...]
MARKET = ("市场监督管理局", "市场监管局")
HEALTH = ("卫生健康局", "卫生健康委员会", "卫健委", "卫健局")
TYPES: tuple[TypeDef, ...] = (
    TypeDef("biz", "营业执照", MARKET, HolderKind.COMPANY, ValidityRule.NO_EXPIRY, None,
            (("名称", "DE0016", True), ("类型", "", True), ("法定代表人", "DE0017", True),
             ("注册资本", "DE0018", False), ("成立日期", "DE0019", True), ("住所", "DE0021", True),
             ("经营范围", "DE0022", False))),
    TypeDef("food", "食品经营许可证", MARKET, HolderKind.COMPANY, ValidityRule.FIXED_YEARS, 5,
            (("经营者名称", "DE0016", True), ("法定代表人", "DE0017", True), ("经营场所", "DE0021", True),
             ("主体业态", "", True), ("经营项目", "", True))),
    TypeDef("marriage", "结婚证", ("民政局",), HolderKind.PERSON, ValidityRule.NO_EXPIRY, None,
            (("登记日期", "DE0033", True), ("配偶姓名", "DE0002", True), ("配偶身份证件号", "DE0001", True))),
    TypeDef("birth", "出生医学证明", HEALTH, HolderKind.PERSON, ValidityRule.NO_EXPIRY, None,
            (("出生日期", "DE0004", True), ("性别", "DE0003", True), ("出生地点", "", True), ("母亲姓名", "", False),
             ("父亲姓名", "", False))),
    TypeDef("property", "不动产权证书", ("自然资源局",), HolderKind.PERSON, ValidityRule.NO_EXPIRY, None,
            (("不动产单元号", "DE0026", True), ("坐落", "DE0027", True), ("面积", "DE0028", True),
             ("用途", "DE0029", True), ("权利性质", "", False))),
    TypeDef("sscard", "社会保障卡", ("人力资源和社会保障局", "人社局"), HolderKind.PERSON, ValidityRule.FIXED_YEARS, 10,
            (("社会保障号码", "DE0001", True), ("发卡地", "DE0024", True))),
    TypeDef("disability", "残疾人证", ("残疾人联合会", "残联", "民政局"), HolderKind.PERSON, ValidityRule.FIXED_YEARS,
            10, (("残疾类别", "", True), ("残疾等级", "", True), ("监护人", "", False))),
    TypeDef("driving", "机动车驾驶证", ("公安局",), HolderKind.PERSON, ValidityRule.FIXED_YEARS, 6,
            (("准驾车型", "", True), ("初次领证日期", "DE0033", True), ("住址", "DE0007", False))),
    TypeDef("transport", "道路运输经营许可证", ("交通运输局",), HolderKind.COMPANY, ValidityRule.FIXED_YEARS, 4,
            (("业户名称", "DE0016", True), ("地址", "DE0021", True), ("经营范围", "", True))),
    TypeDef("construction", "建筑施工企业安全生产许可证", ("住房和城乡建设局", "住建局"), HolderKind.COMPANY,
            ValidityRule.FIXED_YEARS, 3,
            (("单位名称", "DE0016", True), ("主要负责人", "DE0017", True), ("单位地址", "DE0021", True),
             ("许可范围", "", True))),
    TypeDef("teacher", "教师资格证", ("教育局",), HolderKind.PERSON, ValidityRule.NO_EXPIRY, None,
            (("资格种类", "", True), ("任教学科", "", True), ("认定机构", "", False))),
    TypeDef("physician", "医师执业证书", HEALTH, HolderKind.PERSON, ValidityRule.NO_EXPIRY, None,
            (("执业类别", "", True), ("执业范围", "", True), ("执业地点", "DE0045", True))),
)

# 事项: (key, name, department fragments, materials as (name, licence type key or None))
ITEMS: tuple[tuple[str, str, tuple[str, ...], tuple[tuple[str, str | None], ...]], ...] = (
    ("rent", "公共租赁住房申请", ("住房和城乡建设局", "住建局"),
     (("公共租赁住房申请表", None), ("居民身份证", None), ("结婚证", "marriage"),
      ("不动产权证书（名下住房情况）", "property"), ("社会保障卡", "sscard"))),
    ("newborn", "新生儿出生登记（入户）", ("公安局",),
     (("出生医学证明", "birth"), ("父母结婚证", "marriage"), ("居民户口簿", None))),
    ("food_new", "食品经营许可（新办）", MARKET,
     (("食品经营许可申请书", None), ("营业执照", "biz"), ("经营场所平面图", None), ("食品安全管理制度", None))),
    ("food_renew", "食品经营许可（延续）", MARKET, (("食品经营许可证", "food"), ("营业执照", "biz"))),
    ("transfer", "二手房转移登记", ("自然资源局",),
     (("不动产登记申请书", None), ("不动产权证书", "property"), ("结婚证", "marriage"), ("房屋买卖合同", None))),
    ("subsidy", "困难残疾人生活补贴和重度残疾人护理补贴申请", ("民政局",),
     (("残疾人证", "disability"), ("社会保障卡", "sscard"), ("银行账户信息", None))),
    ("teacher_reg", "教师资格定期注册", ("教育局",), (("教师资格证", "teacher"), ("体检合格证明", None))),
    ("truck", "道路货物运输车辆营运证配发", ("交通运输局",),
     (("道路运输经营许可证", "transport"), ("营业执照", "biz"), ("机动车行驶证", None))),
    ("build_permit", "建筑工程施工许可证核发", ("住房和城乡建设局", "住建局"),
     (("施工单位营业执照", "biz"), ("建筑施工企业安全生产许可证", "construction"), ("用地批准手续", None))),
    ("doctor_change", "医师执业注册变更", HEALTH, (("医师执业证书", "physician"), ("聘用合同", None))),
    ("licence_renew", "机动车驾驶证期满换证", ("公安局",), (("机动车驾驶证", "driving"), ("身体条件证明", None))),
    ("birth_reg", "生育登记", HEALTH, (("结婚证", "marriage"), ("居民身份证", None))),
)


def _find(departments: Iterable[Department], node: Node, fragments: Sequence[str]) -> Department | None:
    own = [d for d in departments if d.node_id == node.pk and d.active]
    for fragment in fragments:
        for d in own:
            if fragment in d.name or fragment in (d.short_name or ""):
                return d
    return None


def _age(person: Row, today: dt.date) -> int:
    born = dt.date.fromisoformat(str(person["birth_date"]))
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _plus_years(day: dt.date, years: int) -> dt.date:
    return day + dt.timedelta(days=round(365.25 * years))


def _day_between(rnd: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rnd.randrange(max(1, (end - start).days + 1)))


class _Issuer:
    """Issues a batch per type in one transaction, skipping numbers already there (a re-run)."""

    def __init__(self, actor_for: Callable[[LicenceType], Any]) -> None:
        self.actor_for = actor_for
        self.taken = set(Licence.objects.values_list("number", flat=True))
        self.issued: list[Licence] = []

    def run(self, licence_type: LicenceType, specs: Iterable[IssueSpec]) -> int:
        actor = self.actor_for(licence_type)
        count = 0
        with transaction.atomic():
            for spec in specs:
                if spec.number in self.taken:
                    continue
                try:
                    with transaction.atomic():
                        self.issued.append(issue_in_transaction(actor, licence_type, spec))
                except DomainError:
                    continue  # demo data that a rule refuses is simply left out
                self.taken.add(str(spec.number))
                count += 1
        return count


def _company_specs(key: str, companies: Sequence[Row], rnd: random.Random, today: dt.date, cap: int
                   ) -> list[IssueSpec]:
    out: list[IssueSpec] = []
    for n, c in enumerate(companies):
        if len(out) >= cap:
            break
        name, scope = str(c["org_name"]), str(c.get("business_scope") or "")
        founded = dt.date.fromisoformat(str(c["established_on"]))
        region = str(c.get("region_code") or "445100")
        if key == "biz":
            kind = "股份有限公司" if "股份" in name else ("个人独资企业" if name.endswith("厂") else "有限责任公司")
            fields = {"名称": name, "类型": kind, "法定代表人": c["legal_representative"],
                      "注册资本": f"{c['registered_capital']}万元", "成立日期": founded.isoformat(),
                      "住所": c["org_address"], "经营范围": scope}
            out.append(IssueSpec(holder_id=c["uscc"], holder_name=name, fields=fields, number=c["uscc"],
                                 valid_from=founded))
            continue
        if key == "food" and any(w in name + scope for w in ("食品", "餐饮", "茶")):
            form = "餐饮服务经营者" if "餐饮" in name + scope else "食品销售经营者"
            item = "热食类食品制售" if form == "餐饮服务经营者" else "预包装食品（含冷藏冷冻食品）销售；散装食品销售"
            start = _day_between(rnd, max(founded, today - dt.timedelta(days=365 * 6)), today)
            number = f"JY{2 if form == '餐饮服务经营者' else 1}{region}{n:06d}{n % 10}"
            fields = {"经营者名称": name, "法定代表人": c["legal_representative"], "经营场所": c["org_address"],
                      "主体业态": form, "经营项目": item}
        elif key == "transport" and ("道路运输" in scope or "物流" in name):
            start = _day_between(rnd, max(founded, today - dt.timedelta(days=365 * 5)), today)
            number = f"粤交运管许可潮字{region}{n:06d}号"
            fields = {"业户名称": name, "地址": c["org_address"], "经营范围": "道路普通货物运输"}
        elif key == "construction" and ("建筑工程" in name or "施工" in scope):
            start = _day_between(rnd, max(founded, today - dt.timedelta(days=365 * 4)), today)
            number = f"（粤）JZ安许证字[{start.year}]{n:06d}"
            fields = {"单位名称": name, "主要负责人": c["legal_representative"], "单位地址": c["org_address"],
                      "许可范围": "建筑施工"}
        else:
            continue
        out.append(IssueSpec(holder_id=c["uscc"], holder_name=name, fields=fields, number=number, valid_from=start))
    return out


def _person_specs(key: str, people: Sequence[Row], rnd: random.Random, today: dt.date, cap: int
                  ) -> list[IssueSpec]:
    out: list[IssueSpec] = []
    adults = [p for p in people if _age(p, today) >= 18]
    if key == "marriage":
        men = [p for p in adults if p["gender"] == "男" and 22 <= _age(p, today) <= 75]
        women = [p for p in adults if p["gender"] == "女" and 20 <= _age(p, today) <= 75]
        for i, (a, b) in enumerate(zip(men, women, strict=False)):
            if len(out) >= cap or rnd.random() > 0.6:
                continue
            latest = dt.date.fromisoformat(str(max(a["birth_date"], b["birth_date"])))
            day = _day_between(rnd, max(_plus_years(latest, 22), dt.date(1995, 1, 1)), today)
            for n, (holder, spouse) in enumerate(((a, b), (b, a))):
                out.append(IssueSpec(
                    holder_id=holder["id_number"], holder_name=holder["person_name"], valid_from=day,
                    number=f"J{str(holder['id_number'])[:6]}-{day.year}-{i * 2 + n:06d}",
                    fields={"登记日期": day.isoformat(), "配偶姓名": spouse["person_name"],
                            "配偶身份证件号": spouse["id_number"]}))
        return out
    for n, p in enumerate(people):
        if len(out) >= cap:
            break
        age, born = _age(p, today), dt.date.fromisoformat(str(p["birth_date"]))
        address = str(p.get("current_address") or "广东省潮州市")
        fields: dict[str, str]
        if key == "birth" and born >= dt.date(1996, 1, 1) and rnd.random() < 0.7:
            start, number = born, f"{'PQRST'[n % 5]}{str(p['id_number'])[:3]}{n:06d}"
            fields = {"出生日期": born.isoformat(), "性别": str(p["gender"]), "出生地点": "广东省潮州市",
                      "母亲姓名": "", "父亲姓名": ""}
        elif key == "property" and age >= 25 and rnd.random() < 0.2:
            start = _day_between(rnd, dt.date(2017, 1, 1), today)
            number = f"粤({start.year})潮州市不动产权第{n:07d}号"
            fields = {"不动产单元号": f"445102{n:06d}GB{n % 99999:05d}F{n % 9999:04d}{n % 100:04d}",
                      "坐落": address, "面积": f"{rnd.randrange(45, 180)}.{rnd.randrange(100):02d}平方米",
                      "用途": "住宅", "权利性质": "市场化商品房"}
        elif key == "sscard" and age >= 16 and rnd.random() < 0.5:
            start, number = _day_between(rnd, today - dt.timedelta(days=365 * 11), today), f"E{n + 1:08d}"
            fields = {"社会保障号码": str(p["id_number"]), "发卡地": "445100"}
        elif key == "disability" and rnd.random() < 0.02:
            start = _day_between(rnd, today - dt.timedelta(days=365 * 9), today)
            category, grade = rnd.choice(("1", "2", "4", "5")), rnd.choice("1234")
            number = f"{p['id_number']}{category}{grade}"
            fields = {"残疾类别": {"1": "视力残疾", "2": "听力残疾", "4": "肢体残疾", "5": "智力残疾"}[category],
                      "残疾等级": f"{'一二三四'[int(grade) - 1]}级", "监护人": ""}
        elif key == "driving" and 18 <= age <= 70 and rnd.random() < 0.3:
            # Some licences lapsed (not renewed): issued more than six years ago.
            start = _day_between(rnd, today - dt.timedelta(days=365 * 7), today)
            number = str(p["id_number"])
            fields = {"准驾车型": rnd.choice(("C1", "C1", "C2", "B2", "A2")), "初次领证日期": start.isoformat(),
                      "住址": address}
        elif key == "teacher" and 22 <= age <= 60 and rnd.random() < 0.03:
            start = _day_between(rnd, max(_plus_years(born, 22), dt.date(2001, 1, 1)), today)
            number = f"{start.year}4451{n:09d}"
            level = rnd.choice(("小学教师资格", "初级中学教师资格", "高级中学教师资格", "幼儿园教师资格"))
            fields = {"资格种类": level, "任教学科": rnd.choice(("语文", "数学", "英语", "物理", "音乐")),
                      "认定机构": "潮州市教育局"}
        elif key == "physician" and 25 <= age <= 65 and rnd.random() < 0.015:
            start = _day_between(rnd, max(_plus_years(born, 25), dt.date(2000, 1, 1)), today)
            number = f"11044510000{n:05d}"
            fields = {"执业类别": "临床", "执业范围": rnd.choice(("内科专业", "外科专业", "儿科专业", "全科医学专业")),
                      "执业地点": rnd.choice(("潮州市中心医院", "潮州市人民医院", "潮安区人民医院"))}
        else:
            continue
        out.append(IssueSpec(holder_id=p["id_number"], holder_name=p["person_name"],
                             fields={k: v for k, v in fields.items() if v}, number=number, valid_from=start))
    return out


def _ensure_type(actor: Any, node: Node, department: Department, d: TypeDef) -> LicenceType:
    existing = LicenceType.objects.filter(node=node, name=d.name).first()
    if existing is not None:
        return existing
    return types.create_type(actor=actor, node=node, name=d.name, department=department, holder_kind=d.holder,
                             fields=[types.FieldSpec(n, e, r) for n, e, r in d.fields], validity_rule=d.rule,
                             validity_years=d.years)


def _issuing_user(licence_type: LicenceType) -> Any:
    staff = User.objects.filter(department_id=licence_type.department_id, role=Role.PROVIDER, is_active=True)
    return staff.order_by("username").first() or "demo"


def build_demo_licences(*, node: Node, departments: dict[str, Department], people: list[dict[str, Any]],
                        companies: list[dict[str, Any]], actor: Any, max_per_type: int = 300) -> dict[str, Any]:
    """Build the demo's licence library on ``node`` (see the module docstring); returns counts.

    ``actor`` is the node's data office user (or a platform label): it keeps the catalogue, the service items and
    the library; licences are issued by each department's first provider account (or the platform label)."""
    rnd = random.Random(SEED)
    today = timezone.localdate()
    pool = list(departments.values())
    made: dict[str, LicenceType] = {}
    skipped: list[str] = []
    for d in TYPES:
        department = _find(pool, node, d.departments)
        if department is None:
            skipped.append(d.name)
            continue
        made[d.key] = _ensure_type(actor, node, department, d)
    issuer = _Issuer(_issuing_user)
    per_type: dict[str, int] = {}
    for key, licence_type in made.items():
        specs = (_company_specs(key, companies, rnd, today, max_per_type)
                 if licence_type.holder_kind == HolderKind.COMPANY
                 else _person_specs(key, people, rnd, today, max_per_type))
        per_type[licence_type.name] = issuer.run(licence_type, specs)
    revoked = _revoke_closed_companies(made.get("biz"), companies)
    service_items, materials = _service_items(actor, node, pool, made)
    library = ensure_licence_resource(actor=actor, node=node)
    statuses = dict.fromkeys(LicenceStatus.values, 0)
    for status in Licence.objects.filter(node=node).values_list("status", flat=True):
        statuses[status] += 1
    return {"types": len(made), "skipped_types": skipped, "licences": sum(per_type.values()), "per_type": per_type,
            "revoked": revoked, "statuses": statuses, "items": service_items, "materials": materials,
            "library": library.code}


def _revoke_closed_companies(biz: LicenceType | None, companies: Sequence[Row]) -> int:
    """营业执照 of companies since 注销 or 吊销 are revoked (with the reason), as the register says."""
    if biz is None:
        return 0
    closed = {str(c["uscc"]): str(c["registration_status"]) for c in companies
              if c.get("registration_status") in ("注销", "吊销")}
    actor = _issuing_user(biz)
    count = 0
    for lic in Licence.objects.filter(licence_type=biz, number__in=list(closed), status=LicenceStatus.VALID):
        reason = "企业已办理注销登记" if closed[lic.number] == "注销" else "营业执照被依法吊销"
        revoke_licence(actor=actor, licence=lic, reason=reason)
        count += 1
    return count


def _service_items(actor: Any, node: Node, pool: list[Department], made: dict[str, LicenceType]
                   ) -> tuple[int, int]:
    count = materials = 0
    for n, (_key, name, fragments, mats) in enumerate(ITEMS, start=1):
        department = _find(pool, node, fragments)
        if department is None:
            continue
        code = f"{department.uscc}4{n:09d}"
        specs = [items.MaterialSpec(m, made.get(t) if t else None) for m, t in mats]
        if not ServiceItem.objects.filter(node=node, code=code).exists():
            items.create_item(actor=actor, node=node, code=code, name=name, department=department, materials=specs)
        count += 1
        materials += len(specs)
    return count, materials
