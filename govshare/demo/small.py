"""The smaller demo datasets: 不动产登记, 行政处罚, 医疗机构名录, 学校名录.

They refer to the people and companies of :mod:`people` / :mod:`companies` (the streams are
prefix-stable), so a right holder of a house is also a resident in 人口基本信息.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from govshare.core.identifiers import make_uscc
from govshare.demo.companies import generate_companies
from govshare.demo.people import generate_people
from govshare.demo.places import DISTRICTS, business_address

_USES = ("住宅", "商业", "办公", "工业", "其他")
_USE_WEIGHTS = (85, 8, 3, 2, 2)

PENALTY_REASONS = (
    "销售不符合食品安全标准的食品",
    "未按规定报送企业年度报告",
    "生产销售铅、镉溶出量不合格的日用陶瓷产品",
    "发布虚假广告，对商品性能作虚假宣传",
    "未建立食品进货查验记录制度",
    "销售超过保质期的食品",
    "经营者未按规定明码标价",
    "使用未经定期检验的特种设备",
    "销售侵犯注册商标专用权的商品",
    "未取得食品经营许可从事食品经营活动",
    "生产不符合强制性国家标准的不锈钢餐具",
)


def _town_and_region() -> list[tuple[str, str, str]]:
    """(district code, district name, town) for every town of the city."""
    return [(d.code, d.name, t) for d in DISTRICTS for t in d.towns]


def property_rows(count: int, *, people: int) -> Iterator[dict[str, str]]:
    """不动产登记: ``count`` houses whose right holders are adults among the first ``people`` residents."""
    rnd = random.Random(445103)
    made = 0
    for n, person in enumerate(generate_people(people), start=1):
        if made >= count:
            return
        if person.birth_date > dt.date(2003, 12, 31):
            continue
        rural = "村" in person.household_address
        # 不动产单元号 (28): 行政区划6 + 地籍区3 + 地籍子区3 + 宗地特征码2 + 宗地顺序号5 + 定着物特征码1 + 定着物单元号8
        unit = (f"{person.district.code}{rnd.randint(1, 12):03d}{rnd.randint(1, 40):03d}"
                f"{'JC' if rural else 'GB'}{n:05d}F{rnd.randint(1, 30):04d}{rnd.randint(1, 3200):04d}")
        made += 1
        yield {
            "property_unit": unit,
            "property_location": person.household_address.removeprefix("广东省"),
            "floor_area": f"{rnd.uniform(38, 186):.2f}",
            "property_use": rnd.choices(_USES, weights=_USE_WEIGHTS)[0],
            "right_holder": person.name,
            "holder_id_number": person.id_number,
        }


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def pension_rows(count: int, *, people: int) -> Iterator[dict[str, str]]:
    """养老保险待遇发放: one month's payments to retirees among the first ``people`` residents. The payment account
    (发放银行卡号, L4) is stored sealed with a blind index (docs/resource-center.md, "L4 加密存储与盲索引")."""
    rnd = random.Random(445107)
    cutoff = dt.date(1966, 1, 1)
    made = 0
    for person in generate_people(people):
        if made >= count:
            break
        if person.birth_date >= cutoff:
            continue
        body = "622202" + "".join(str(rnd.randrange(10)) for _ in range(12))
        made += 1
        yield {"id_number": person.id_number, "person_name": person.name, "payment_month": "2026-11",
               "payment_amount": f"{rnd.randrange(1800, 6500)}.00", "bank_card": body + _luhn_digit(body)}


def penalty_rows(count: int, *, companies: int) -> Iterator[dict[str, str]]:
    """行政处罚: decisions of the 市场监督管理局 against companies among the first ``companies``."""
    rnd = random.Random(445104)
    candidates = [c for c in generate_companies(companies) if c.status in ("存续", "在业")]
    per_year: dict[int, int] = {}
    for _ in range(min(count, len(candidates))):
        company = rnd.choice(candidates)
        day = dt.date(2019, 1, 1) + dt.timedelta(days=rnd.randrange(6 * 365))
        per_year[day.year] = per_year.get(day.year, 0) + rnd.randint(1, 4)
        yield {
            "penalty_doc_no": f"潮市监处罚〔{day.year}〕{per_year[day.year]}号",
            "org_name": company.name,
            "uscc": company.uscc,
            "penalty_reason": rnd.choice(PENALTY_REASONS),
            "penalty_date": day.isoformat(),
            "penalty_authority": "潮州市市场监督管理局",
        }


def _public_uscc(rnd: random.Random, region: str) -> str:
    # 事业单位: 登记管理部门码 1 (机构编制), 机构类别码 2.
    return make_uscc("1", "2", region, f"4557{rnd.randrange(10_000):04d}")


_CITY_HOSPITALS = (
    ("潮州市中心医院", "445102", "潮州市湘桥区环城西路84号"),
    ("潮州市人民医院", "445102", "潮州市湘桥区西荣路"),
    ("潮州市中医医院", "445102", "潮州市湘桥区西马路"),
    ("潮州市妇幼保健院", "445102", "潮州市湘桥区新洋路"),
    ("潮州市第三人民医院", "445102", "潮州市湘桥区意溪镇"),
    ("潮州市湘桥区人民医院", "445102", "潮州市湘桥区城新路"),
    ("潮州市潮安区人民医院", "445103", "潮州市潮安区庵埠镇安南路"),
    ("潮州市潮安区中医医院", "445103", "潮州市潮安区庵埠镇宝陇路"),
    ("饶平县人民医院", "445122", "潮州市饶平县黄冈镇沿江路"),
    ("饶平县中医医院", "445122", "潮州市饶平县黄冈镇东风路"),
    ("饶平县妇幼保健院", "445122", "潮州市饶平县黄冈镇府前路"),
)


def hospital_rows() -> Iterator[dict[str, str]]:
    """医疗机构名录: city and county hospitals plus a 卫生院 in every town."""
    rnd = random.Random(445105)
    for name, region, address in _CITY_HOSPITALS:
        yield {"hospital_name": name, "org_address": address, "region_code": region,
               "uscc": _public_uscc(rnd, region)}
    for code, district, town in _town_and_region():
        prefix = "饶平县" if code == "445122" else f"潮州市{district}"
        yield {"hospital_name": f"{prefix}{town}卫生院", "org_address": f"潮州市{district}{town}",
               "region_code": code, "uscc": _public_uscc(rnd, code)}


_CITY_SCHOOLS = (
    ("潮州市高级中学", "445102"), ("广东省潮州市金山中学", "445102"), ("韩山师范学院附属中学", "445102"),
    ("潮州市绵德中学", "445102"), ("潮州市城南中学", "445102"), ("潮州市南春中学", "445102"),
    ("潮州市城南小学", "445102"), ("潮州市昌黎路小学", "445102"), ("潮州市实验学校", "445102"),
    ("潮州市潮安区凤塘中学", "445103"), ("饶平县第二中学", "445122"), ("饶平县华侨中学", "445122"),
)


def school_rows() -> Iterator[dict[str, str]]:
    """学校名录: city schools plus a 中心小学 and a 中学 in every town."""
    rnd = random.Random(445106)
    by_code = {d.code: d for d in DISTRICTS}
    for name, region in _CITY_SCHOOLS:
        yield {"school_name": name, "org_address": business_address(rnd, by_code[region]),
               "region_code": region, "uscc": _public_uscc(rnd, region)}
    for code, district, town in _town_and_region():
        prefix = "饶平县" if code == "445122" else f"潮州市{district}"
        for kind in ("中心小学", "中学"):
            yield {"school_name": f"{prefix}{town}{kind}", "org_address": f"潮州市{district}{town}",
                   "region_code": code, "uscc": _public_uscc(rnd, code)}
