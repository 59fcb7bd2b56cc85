"""Rows of the demo's base-library source datasets, made from the demo people and companies (pure Python).

Each department holds its own view of the same people, companies, houses and addresses, with the small,
realistic disagreements base-library fusion exists to catch (about 1–3 % of records): a death certified by the
health commission but not yet cancelled in the 户籍, an address the 民政局 has but the 公安局 does not, a
company the tax bureau still shows 存续 after it was 注销, a 网签 floor area that differs from the registered
one, a 双公示 collection that lags behind (a missing value is not a disagreement) or holds a decision the
market regulator does not. Deterministic for given inputs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
TODAY = dt.date(2025, 6, 30)

_MARITAL = ("未婚", "已婚", "离婚", "丧偶")
_USES = ("住宅", "商业", "办公", "工业", "其他")
_USE_WEIGHTS = (85, 8, 3, 2, 2)
_GRADES = ("A", "B", "M", "C", "D")
_GRADE_WEIGHTS = (30, 40, 20, 7, 3)
_PENALTY_REASONS = ("未按规定报送企业年度报告", "生产销售铅、镉溶出量不合格的日用陶瓷产品", "发布虚假广告",
                    "销售超过保质期的食品", "经营者未按规定明码标价", "使用未经定期检验的特种设备")
_PERMITS = ("食品经营许可", "食品生产许可", "特种设备使用登记", "工业产品生产许可", "药品经营许可")
_CENTRE = {"445102": (116.63, 23.66), "445103": (116.68, 23.55), "445122": (117.00, 23.66)}
_TYPO = "陈林黄李蔡吴许郑刘杨张谢王余詹丘洪苏庄翁"
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _age(birth: str) -> int:
    b = dt.date.fromisoformat(birth)
    return TODAY.year - b.year - ((TODAY.month, TODAY.day) < (b.month, b.day))


def _misspell(rnd: random.Random, name: str) -> str:
    """One character of a name replaced (录入错误)."""
    if len(name) < 2:
        return name + "某"
    i = rnd.randrange(1, len(name))
    return name[:i] + rnd.choice([c for c in _TYPO if c != name[i]]) + name[i + 1:]


def _shift_day(value: str, days: int) -> str:
    return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()


@dataclass
class Sources:
    """Every source dataset's rows, keyed by a slot name (see :mod:`.demo`)."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)  # disagreements planted, by kind

    def plant(self, kind: str) -> None:
        self.planted[kind] = self.planted.get(kind, 0) + 1


def population(people: Sequence[Row], rnd: random.Random, out: Sources) -> None:
    gaj, mzj, rsj, wjw = [], [], [], []
    for p in people:
        age = _age(p["birth_date"])
        phone = p.get("mobile") or p.get("phone")
        dead = age > 60 and rnd.random() < 0.02
        # 公安局: the 户籍 of everyone; a death not yet reported stays "alive" there.
        police_dead = dead and rnd.random() < 0.75
        police_phone = phone
        if phone and rnd.random() < 0.02:  # an old number at the police station
            police_phone = "139" + phone[3:] if not phone.startswith("139") else "138" + phone[3:]
            out.plant("population.phone")
        gaj.append({"id_number": p["id_number"], "person_name": p["person_name"], "gender": p["gender"],
                    "birth_date": p["birth_date"], "ethnicity": p.get("ethnicity"),
                    "household_address": p.get("household_address"), "current_address": p.get("current_address"),
                    "deceased": "true" if police_dead else "false", "phone": police_phone})
        if dead and not police_dead:
            out.plant("population.deceased")
        if age >= 20:
            status = ("未婚" if age < 26 and rnd.random() < 0.6
                      else rnd.choices(_MARITAL, weights=(8, 78, 8, 6 if age > 60 else 1))[0])
            address = p.get("current_address")
            if rnd.random() < 0.015:  # registered a new address at the 民政局 only
                address = f"{(address or '')[:12]}新区{rnd.randint(1, 99)}号"
                out.plant("population.current_address")
            mzj.append({"id_number": p["id_number"], "person_name": p["person_name"], "marital_status": status,
                        "current_address": address})
        if 16 <= age:
            name, birth = p["person_name"], p["birth_date"]
            if rnd.random() < 0.01:
                name = _misspell(rnd, name)
                out.plant("population.person_name")
            if rnd.random() < 0.005:
                birth = _shift_day(birth, 1)
                out.plant("population.birth_date")
            status = "终止" if dead else ("暂停" if rnd.random() < 0.05 else "参保")
            rsj.append({"id_number": p["id_number"], "person_name": name, "gender": p["gender"], "birth_date": birth,
                        "phone": phone, "insurance_status": status})
        born_certified = p["birth_date"] >= "1996-01-01"  # 出生医学证明 since 1996
        if dead or born_certified:
            wjw.append({"id_number": p["id_number"], "person_name": p["person_name"], "birth_date": p["birth_date"],
                        "deceased": "true" if dead else "false"})
    out.rows.update({"gaj_people": gaj, "mzj_marriage": mzj, "rsj_insurance": rsj, "wjw_births_deaths": wjw})


def legal_persons(companies: Sequence[Row], rnd: random.Random, out: Sources) -> None:
    scjg, swj, rsj = [], [], []
    for c in companies:
        scjg.append({k: c.get(k) for k in ("uscc", "org_name", "legal_representative", "registered_capital",
                                           "established_on", "registration_status", "org_address",
                                           "business_scope")})
        status = c.get("registration_status")
        if status == "注销" and rnd.random() < 0.1:  # the tax bureau has not closed the taxpayer yet
            status = "存续"
            out.plant("legal_person.registration_status")
        rep = c.get("legal_representative")
        if rep and rnd.random() < 0.01:
            rep = _misspell(rnd, rep)
            out.plant("legal_person.legal_representative")
        swj.append({"uscc": c["uscc"], "org_name": c["org_name"], "legal_representative": rep,
                    "established_on": c.get("established_on"), "registration_status": status,
                    "org_address": c.get("org_address"),
                    "tax_credit_grade": rnd.choices(_GRADES, weights=_GRADE_WEIGHTS)[0]})
        if c.get("registration_status") in ("存续", "在业") and rnd.random() < 0.7:
            name = c["org_name"]
            if rnd.random() < 0.015:  # the 社保 registration kept the old name
                name = name.replace("有限公司", "实业有限公司", 1) if "实业" not in name else name + "（原）"
                out.plant("legal_person.org_name")
            rsj.append({"uscc": c["uscc"], "org_name": name})
    out.rows.update({"scjg_companies": scjg, "swj_taxpayers": swj, "rsj_employers": rsj})


def housing(people: Sequence[Row], rnd: random.Random, out: Sources, *, limit: int) -> None:
    zrzy, zjj, swj = [], [], []
    n = 0
    for p in people:
        if n >= limit:
            break
        if _age(p["birth_date"]) < 22 or rnd.random() < 0.5:
            continue
        n += 1
        region = p["id_number"][:6]
        rural = "村" in (p.get("household_address") or "")
        unit = (f"{region}{rnd.randint(1, 12):03d}{rnd.randint(1, 40):03d}{'JC' if rural else 'GB'}{n:05d}"
                f"F{rnd.randint(1, 30):04d}{rnd.randint(1, 3200):04d}")
        location = (p.get("household_address") or "").removeprefix("广东省")
        area = f"{rnd.uniform(38, 186):.2f}"
        use = rnd.choices(_USES, weights=_USE_WEIGHTS)[0]
        zrzy.append({"property_unit": unit, "property_location": location, "floor_area": area, "property_use": use,
                     "right_holder": p["person_name"], "holder_id_number": p["id_number"]})
        if not rural and rnd.random() < 0.6:  # 商品房: a 网签备案 exists
            signed_area = area
            if rnd.random() < 0.03:  # 预售面积 kept after the 实测
                signed_area = f"{float(area) + rnd.uniform(0.5, 4):.2f}"
                out.plant("housing.floor_area")
            # Some contracts were typed with full-width digits: the same after NFKC, so no disagreement.
            signed_location = location.translate(_FULL_WIDTH) if rnd.random() < 0.1 else location
            zjj.append({"property_unit": unit, "property_location": signed_location,
                        "floor_area": signed_area, "property_use": use, "right_holder": p["person_name"]})
        if rnd.random() < 0.3:  # 契税 on a transfer
            holder = p["person_name"]
            if rnd.random() < 0.03:  # sold, the transfer not registered yet
                holder = _misspell(rnd, holder)
                out.plant("housing.right_holder")
            swj.append({"property_unit": unit, "floor_area": area, "right_holder": holder,
                        "holder_id_number": p["id_number"]})
    out.rows.update({"zrzy_properties": zrzy, "zjj_contracts": zjj, "swj_deed_tax": swj})


def social_credit(companies: Sequence[Row], rnd: random.Random, out: Sources) -> None:
    penalties, collected_pen, permits, collected_per, lists = [], [], [], [], []
    counter: dict[int, int] = {}
    active = [c for c in companies if c.get("registration_status") in ("存续", "在业")]
    for c in active:
        if rnd.random() < 0.08:
            for _ in range(rnd.choice((1, 1, 1, 2))):
                year = rnd.randint(2019, 2025)
                counter[year] = counter.get(year, 0) + 1
                doc = f"潮市监处罚〔{year}〕{counter[year]}号"
                penalties.append({"penalty_doc_no": doc, "uscc": c["uscc"], "penalty_reason":
                                  rnd.choice(_PENALTY_REASONS), "penalty_date": f"{year}-{rnd.randint(1, 12):02d}-15"})
                if rnd.random() < 0.9:  # the 双公示 collection lags behind for the rest
                    collected_pen.append({"penalty_doc_no": doc, "uscc": c["uscc"]})
        if rnd.random() < 0.003:  # a decision in the collection the market regulator never recorded
            counter[2024] = counter.get(2024, 0) + 1
            collected_pen.append({"penalty_doc_no": f"潮市监处罚〔2024〕{counter[2024]}号", "uscc": c["uscc"]})
            out.plant("social_credit.penalty_doc_no")
        if rnd.random() < 0.15:
            doc = f"JY{c['uscc'][2:8]}{rnd.randrange(10**7):07d}"
            permits.append({"permit_doc_no": doc, "uscc": c["uscc"], "license_name": rnd.choice(_PERMITS)})
            if rnd.random() < 0.95:
                collected_per.append({"permit_doc_no": doc, "uscc": c["uscc"]})
        if rnd.random() < 0.03:
            lists.append({"uscc": c["uscc"], "credit_list_type": rnd.choice(("红名单", "红名单", "黑名单",
                                                                             "重点关注名单"))})
    out.rows.update({"scjg_penalties": penalties, "fgj_penalties": collected_pen, "scjg_permits": permits,
                     "fgj_permits": collected_per, "fgj_lists": lists})


def addresses(people: Sequence[Row], rnd: random.Random, out: Sources, *, limit: int) -> None:
    zrzy: list[Row] = []
    gaj: list[Row] = []
    zjj: list[Row] = []
    seen: set[str] = set()
    for p in people:
        address = p.get("household_address")
        if not address or address in seen or len(zrzy) >= limit:
            continue
        seen.add(address)
        region = p["id_number"][:6]
        code = f"{region}{len(zrzy) + 1:012d}"
        lon0, lat0 = _CENTRE.get(region, (116.62, 23.66))
        lon, lat = f"{lon0 + rnd.uniform(-0.08, 0.08):.6f}", f"{lat0 + rnd.uniform(-0.06, 0.06):.6f}"
        zrzy.append({"address_code": code, "address_name": address, "region_code": region, "longitude": lon,
                     "latitude": lat})
        name = address
        if rnd.random() < 0.02:  # the 门牌 register spells it differently
            name = address.replace("号", "號", 1) if "号" in address else address + "附近"
            name = name if name != address else address + "旁"
            out.plant("geo_address.address_name")
        gaj.append({"address_code": code, "address_name": name, "region_code": region})
        if "村" not in address and rnd.random() < 0.5:
            lon2 = lon
            if rnd.random() < 0.02:
                lon2 = f"{float(lon) + 0.01:.6f}"
                out.plant("geo_address.longitude")
            zjj.append({"address_code": code, "address_name": address, "longitude": lon2, "latitude": lat})
    out.rows.update({"zrzy_addresses": zrzy, "gaj_doorplates": gaj, "zjj_buildings": zjj})


def build_sources(people: Sequence[Row], companies: Sequence[Row], *, seed: int = 445199,
                  houses: int = 3000, places: int = 5000) -> Sources:
    out = Sources()
    population(people, random.Random(seed), out)
    legal_persons(companies, random.Random(seed + 1), out)
    housing(people, random.Random(seed + 2), out, limit=houses)
    social_credit(companies, random.Random(seed + 3), out)
    addresses(people, random.Random(seed + 4), out, limit=places)
    return out
