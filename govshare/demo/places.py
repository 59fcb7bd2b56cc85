"""Geography of the demo city: districts, towns, roads and villages of 潮州, and address generation.

Names are real place names of 潮州 (streets, towns, roads); house numbers are invented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    code: str  # current GB/T 2260 code
    name: str
    weight: float  # share of the population
    subdistricts: tuple[str, ...]  # 街道 (urban: road addresses)
    towns: tuple[str, ...]  # 镇 (mostly village addresses)
    roads: tuple[str, ...]


DISTRICTS: tuple[District, ...] = (
    District(
        "445102", "湘桥区", 0.26,
        ("太平街道", "西湖街道", "西新街道", "桥东街道", "城西街道", "凤新街道", "湘桥街道"),
        ("意溪镇", "磷溪镇", "官塘镇", "铁铺镇"),
        ("太平路", "西马路", "环城西路", "新洋路", "潮州大道", "永护路", "绿榕路", "枫春路", "中山路",
         "义安路", "开元路", "东平路", "南春路", "新桥路", "潮枫路", "卧石路", "城新路", "春荣路", "凤新路",
         "西荣路", "韩江北路", "滨江长廊"),
    ),
    District(
        "445103", "潮安区", 0.40,
        ("庵埠镇", "彩塘镇", "浮洋镇", "古巷镇"),
        ("庵埠镇", "彩塘镇", "浮洋镇", "金石镇", "东凤镇", "龙湖镇", "沙溪镇", "古巷镇", "登塘镇", "凤塘镇",
         "江东镇", "归湖镇", "文祠镇", "赤凤镇", "凤凰镇"),
        ("安南路", "庵埠大道", "宝陇路", "彩塘大道", "潮汕公路", "龙湖大道", "金湖路", "文里路", "开濠路",
         "凤塘大道", "浮洋大道"),
    ),
    District(
        "445122", "饶平县", 0.34,
        ("黄冈镇",),
        ("黄冈镇", "钱东镇", "浮滨镇", "三饶镇", "汫洲镇", "海山镇", "柘林镇", "所城镇", "大埕镇", "高堂镇",
         "新丰镇", "樟溪镇", "浮山镇", "东山镇", "新塘镇", "上饶镇", "饶洋镇", "建饶镇", "联饶镇", "新圩镇",
         "汤溪镇"),
        ("黄冈大道", "沿江路", "东风路", "北门路", "中山路", "新世纪大道", "府前路", "环城路", "丁未路"),
    ),
)

DISTRICT_BY_CODE = {d.code: d for d in DISTRICTS}
_DISTRICT_WEIGHTS = [d.weight for d in DISTRICTS]

VILLAGES = (
    "东村", "西村", "南村", "北门", "仙溪", "鹳巢", "上林", "下林", "后陇", "东里", "前埔", "塘埔", "高厝",
    "洋边", "大寮", "新乡", "上社", "下社", "仙洲", "宏安", "英塘", "秋溪", "溪口", "桥头", "金砂", "华美",
    "陇美", "龙坑", "凤岗", "石湖", "沟头", "湖美", "西林", "东洋", "南桥", "古楼", "文里", "潮美", "长美",
    "梅林", "仙乐", "官路", "田头", "新光", "洲园", "乌洋", "陈厝", "林厝", "许厝", "蔡厝",
)


def pick_district(rnd: random.Random) -> District:
    return rnd.choices(DISTRICTS, weights=_DISTRICT_WEIGHTS)[0]


def home_address(rnd: random.Random, district: District) -> str:
    """A plausible home address in ``district``: an urban road address or a village lane address."""
    prefix = f"广东省潮州市{district.name}"
    if rnd.random() < 0.45:
        area = rnd.choice(district.subdistricts)
        road = rnd.choice(district.roads)
        if rnd.random() < 0.6:
            return (f"{prefix}{area}{road}{rnd.randint(1, 360)}号{rnd.randint(1, 28)}栋"
                    f"{rnd.randint(1, 32)}{rnd.randint(1, 4):02d}房")
        return f"{prefix}{area}{road}{rnd.randint(1, 480)}号"
    town = rnd.choice(district.towns)
    village = rnd.choice(VILLAGES)
    return f"{prefix}{town}{village}村{rnd.choice('东西南北中新')}{rnd.randint(1, 12)}巷{rnd.randint(1, 40)}号"


def business_address(rnd: random.Random, district: District) -> str:
    prefix = f"潮州市{district.name}"
    if rnd.random() < 0.5:
        return f"{prefix}{rnd.choice(district.subdistricts)}{rnd.choice(district.roads)}{rnd.randint(1, 600)}号"
    town = rnd.choice(district.towns)
    if rnd.random() < 0.5:
        return f"{prefix}{town}{rnd.choice(VILLAGES)}村工业区{rnd.choice('ABCDE')}区{rnd.randint(1, 60)}号"
    return f"{prefix}{town}{rnd.choice(district.roads)}{rnd.randint(1, 300)}号{rnd.randint(1, 5)}楼"
