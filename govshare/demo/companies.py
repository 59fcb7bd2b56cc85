"""Synthetic companies of 潮州 (陶瓷, 婚纱礼服, 不锈钢, 凤凰单丛茶 …) with valid 统一社会信用代码.

Deterministic and prefix-stable like :mod:`govshare.demo.people`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from govshare.core.identifiers import USCC_ALPHABET, make_uscc
from govshare.demo.people import person_name
from govshare.demo.places import DISTRICT_BY_CODE, District, business_address

COMPANY_SEED = 445122

# (name stem, weight, 经营范围)
INDUSTRIES: tuple[tuple[str, float, str], ...] = (
    ("陶瓷", 14, "日用陶瓷、工艺陶瓷的研发、生产、销售；货物进出口。"),
    ("瓷业", 6, "日用瓷、酒店用瓷、陶瓷礼品的生产和销售。"),
    ("卫浴", 6, "卫生陶瓷、卫浴洁具、五金配件的生产和销售。"),
    ("婚纱礼服", 6, "婚纱、晚礼服、服装的设计、加工和销售；货物进出口。"),
    ("服饰", 4, "服装、服饰、纺织品的加工和销售。"),
    ("不锈钢制品", 7, "不锈钢餐具、厨具、五金制品的加工和销售。"),
    ("五金制品", 4, "五金制品、金属制品的加工和销售。"),
    ("食品", 6, "食品生产、销售；农副产品收购。"),
    ("茶业", 5, "茶叶种植、加工、销售（凤凰单丛茶）。"),
    ("印刷包装", 4, "包装装潢印刷品印刷；纸制品、塑料包装制品的生产和销售。"),
    ("电子科技", 4, "电子元器件、电子产品的研发、生产和销售。"),
    ("贸易", 9, "日用百货、陶瓷制品、五金交电的批发和零售；货物进出口。"),
    ("建筑工程", 4, "房屋建筑工程、市政公用工程施工。"),
    ("建材", 3, "建筑材料、装饰材料的销售。"),
    ("水族器材", 2, "水族器材、宠物用品的生产和销售。"),
    ("餐饮管理", 3, "餐饮服务；餐饮企业管理咨询。"),
    ("物流", 2, "普通货物道路运输；仓储服务（不含危险化学品）。"),
    ("房地产开发", 1, "房地产开发经营；物业管理。"),
)
_INDUSTRY_CUM = list(accumulate(w for _, w, _ in INDUSTRIES))
_TRADE_CHARS = tuple(
    "潮韩瓷凤金宏兴华达盛泰荣丰源信德顺隆东南海旺利发祥瑞鸿恒永安新嘉美晟骏创升粤汇辉佳宝雅松峰泓锦裕福益康彩艺"
    "雄冠港湘枫溪昌明远通鼎豪威联合振宇翔鑫亿星"
)
_SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限公司", "实业有限公司", "股份有限公司")
_FACTORY_STEMS = frozenset({"陶瓷", "瓷业", "卫浴", "不锈钢制品", "五金制品", "食品", "茶业", "印刷包装"})
# 注册资本 in 万元
_CAPITALS = ("3", "10", "30", "50", "100", "200", "300", "500", "800", "1000", "2000", "5000")
_CAPITAL_CUM = list(accumulate((3, 10, 10, 14, 20, 12, 8, 9, 3, 6, 3, 2)))
STATUSES = ("存续", "在业", "注销", "吊销", "迁出")
_STATUS_CUM = list(accumulate((72, 10, 12, 5, 1)))
# Registration region (登记管理机关) and its share.
_REGIONS = ("445100", "445102", "445103", "445122")
_REGION_CUM = list(accumulate((30, 18, 32, 20)))
_BODY_CHARS = tuple(c for c in USCC_ALPHABET)
_FIRST_DAY = dt.date(1992, 1, 1)
_LAST_DAY = dt.date(2025, 6, 30)
_USCC_REFORM = dt.date(2015, 10, 1)


@dataclass(frozen=True, slots=True)
class Company:
    uscc: str
    name: str
    legal_representative: str
    registered_capital: str
    established_on: dt.date
    status: str
    address: str
    business_scope: str
    region: str

    def row(self) -> dict[str, str]:
        """The row of the 法人基本信息 dataset (keys are the resource's item column names)."""
        return {
            "uscc": self.uscc,
            "org_name": self.name,
            "legal_representative": self.legal_representative,
            "registered_capital": self.registered_capital,
            "established_on": self.established_on.isoformat(),
            "registration_status": self.status,
            "org_address": self.address,
            "business_scope": self.business_scope,
            "region_code": self.region,
        }


def _name_prefix(rnd: random.Random, region: str) -> str:
    if region == "445122":
        return "饶平县"
    if region == "445100" or rnd.random() < 0.6:
        return "潮州市"
    return "潮州市" + DISTRICT_BY_CODE[region].name


def _established(rnd: random.Random) -> dt.date:
    # More companies were registered after the 2014 商事制度改革.
    span = (_LAST_DAY - _FIRST_DAY).days
    offset = int(span * (1 - rnd.random() ** 1.8))
    return _FIRST_DAY + dt.timedelta(days=offset)


def _org_body(rnd: random.Random, established: dt.date) -> str:
    """主体标识码 body: the old 组织机构代码 for companies registered before the 2015 reform, else the
    new-style "MA" + 6 characters."""
    if established < _USCC_REFORM:
        return rnd.choice("3567") + f"{rnd.randrange(10_000_000):07d}"
    return "MA" + "".join(rnd.choices(_BODY_CHARS, k=6))


def _district(region: str, rnd: random.Random) -> District:
    if region in DISTRICT_BY_CODE:
        return DISTRICT_BY_CODE[region]
    return DISTRICT_BY_CODE[rnd.choice(("445102", "445103"))]


def generate_companies(count: int, *, seed: int = COMPANY_SEED) -> Iterator[Company]:
    rnd = random.Random(seed)
    codes: set[str] = set()
    names: set[str] = set()
    for _ in range(count):
        region = rnd.choices(_REGIONS, cum_weights=_REGION_CUM)[0]
        stem, _, scope = rnd.choices(INDUSTRIES, cum_weights=_INDUSTRY_CUM)[0]
        established = _established(rnd)
        while True:
            uscc = make_uscc("9", "1", region, _org_body(rnd, established))
            trade = rnd.choice(_TRADE_CHARS) + rnd.choice(_TRADE_CHARS)
            suffix = "厂" if stem in _FACTORY_STEMS and rnd.random() < 0.12 else rnd.choice(_SUFFIXES)
            name = f"{_name_prefix(rnd, region)}{trade}{stem}{suffix}"
            if uscc not in codes and name not in names and trade[0] != trade[1]:
                codes.add(uscc)
                names.add(name)
                break
        yield Company(
            uscc=uscc,
            name=name,
            legal_representative=person_name(rnd, rnd.random() < 0.72),
            registered_capital=rnd.choices(_CAPITALS, cum_weights=_CAPITAL_CUM)[0] + ".00",
            established_on=established,
            status=rnd.choices(STATUSES, cum_weights=_STATUS_CUM)[0],
            address=business_address(rnd, _district(region, rnd)),
            business_scope=scope,
            region=region,
        )


def company_rows(count: int, *, seed: int = COMPANY_SEED) -> Iterator[dict[str, str]]:
    for company in generate_companies(count, seed=seed):
        yield company.row()
