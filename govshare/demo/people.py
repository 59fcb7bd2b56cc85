"""Synthetic residents of 潮州: checksum-valid 身份证号 with current area codes, names, addresses.

The stream is deterministic and prefix-stable: the i-th person is the same whatever ``count`` is, so
other demo datasets (e.g. 不动产 right holders) can refer to the first people of the population.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from faker.providers.person.zh_CN import Provider as FakerPerson

from govshare.core.identifiers import make_resident_id
from govshare.demo.places import District, home_address, pick_district

PEOPLE_SEED = 445100

# Common 潮汕 surnames (陈 林 黄 … 詹 丘), mixed with the national distribution Faker ships.
_LOCAL_SURNAMES = {
    "陈": 16.0, "林": 9.0, "黄": 6.5, "李": 5.0, "蔡": 4.5, "吴": 4.0, "许": 3.5, "郑": 3.2, "刘": 3.0,
    "杨": 2.6, "张": 2.4, "谢": 2.2, "王": 2.0, "余": 1.8, "詹": 1.6, "丘": 1.2, "洪": 1.2, "苏": 1.1,
    "庄": 1.0, "翁": 1.0, "沈": 0.9, "魏": 0.8, "柯": 0.8, "卢": 0.8, "杜": 0.7, "姚": 0.7, "孙": 0.6,
    "方": 0.6, "曾": 0.6, "周": 0.6, "邱": 0.5, "钟": 0.5, "江": 0.5, "文": 0.4, "辜": 0.3, "佘": 0.3,
}
_NATIONAL: dict[str, float] = dict(FakerPerson.last_names)
SURNAMES: tuple[str, ...] = tuple(dict.fromkeys([*_LOCAL_SURNAMES, *_NATIONAL]))
_SURNAME_CUM = list(accumulate(
    0.75 * _LOCAL_SURNAMES.get(s, 0.0) / sum(_LOCAL_SURNAMES.values())
    + 0.25 * _NATIONAL.get(s, 0.0) / sum(_NATIONAL.values())
    for s in SURNAMES
))
_MALE_CHARS = tuple(dict.fromkeys("".join(FakerPerson.first_names_male) + "汉生锐坚泽楷彬耀锦鸿"))
_FEMALE_CHARS = tuple(dict.fromkeys("".join(FakerPerson.first_names_female) + "婉佩瑜璇楚纯曼莹"))

_ETHNICITIES = ("汉族", "畲族", "壮族", "苗族", "土家族", "瑶族", "满族", "回族")
_ETHNICITY_CUM = list(accumulate((98.6, 0.6, 0.3, 0.15, 0.1, 0.1, 0.08, 0.07)))
_OTHER_NATIVE = ("广东省汕头市", "广东省揭阳市", "广东省梅州市", "福建省漳州市", "江西省赣州市", "湖南省永州市",
                 "广西壮族自治区玉林市", "四川省达州市", "河南省信阳市")
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182",
                   "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180",
                   "181", "189", "177", "199", "198", "191")

# Birth decades and their shares (a rough population pyramid), 1940-01-01 … 2020-12-31.
_DECADES = (1940, 1950, 1960, 1970, 1980, 1990, 2000, 2010)
_DECADE_CUM = list(accumulate((4, 9, 16, 16, 17, 15, 12, 11)))
_FIRST_DAY = dt.date(1940, 1, 1)
_LAST_DAY = dt.date(2020, 12, 31)


@dataclass(frozen=True, slots=True)
class Person:
    id_number: str
    name: str
    gender: str  # 男 / 女
    birth_date: dt.date
    ethnicity: str
    native_place: str
    household_address: str
    current_address: str
    mobile: str
    district: District

    def row(self) -> dict[str, str]:
        """The row of the 人口基本信息 dataset (keys are the resource's item column names)."""
        return {
            "id_number": self.id_number,
            "person_name": self.name,
            "gender": self.gender,
            "birth_date": self.birth_date.isoformat(),
            "ethnicity": self.ethnicity,
            "native_place": self.native_place,
            "household_address": self.household_address,
            "current_address": self.current_address,
            "mobile": self.mobile,
        }


def person_name(rnd: random.Random, male: bool) -> str:
    surname = rnd.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]
    chars = _MALE_CHARS if male else _FEMALE_CHARS
    given = rnd.choice(chars) if rnd.random() < 0.22 else rnd.choice(chars) + rnd.choice(chars)
    return surname + given


def mobile_number(rnd: random.Random) -> str:
    return rnd.choice(MOBILE_PREFIXES) + f"{rnd.randrange(100_000_000):08d}"


def _birth_date(rnd: random.Random) -> dt.date:
    decade = rnd.choices(_DECADES, cum_weights=_DECADE_CUM)[0]
    start = dt.date(decade, 1, 1)
    end = min(dt.date(decade + 9, 12, 31), _LAST_DAY)
    return start + dt.timedelta(days=rnd.randrange((end - start).days + 1))


def generate_people(count: int, *, seed: int = PEOPLE_SEED) -> Iterator[Person]:
    """Yield ``count`` distinct people, deterministically for a given seed."""
    rnd = random.Random(seed)
    seen: set[str] = set()
    for _ in range(count):
        district = pick_district(rnd)
        male = rnd.random() < 0.51
        birth = _birth_date(rnd)
        while True:
            # 顺序码: odd for men, even for women (GB 11643).
            seq = rnd.randrange(500) * 2 + (1 if male else 0)
            id_number = make_resident_id(district.code, birth, seq)
            if id_number not in seen:
                seen.add(id_number)
                break
        household = home_address(rnd, district)
        # Most people live at their household address; some moved within the city.
        current = household if rnd.random() < 0.7 else home_address(rnd, pick_district(rnd))
        native = (f"广东省潮州市{district.name}" if rnd.random() < 0.88 else rnd.choice(_OTHER_NATIVE))
        yield Person(
            id_number=id_number,
            name=person_name(rnd, male),
            gender="男" if male else "女",
            birth_date=birth,
            ethnicity=rnd.choices(_ETHNICITIES, cum_weights=_ETHNICITY_CUM)[0],
            native_place=native,
            household_address=household,
            current_address=current,
            mobile=mobile_number(rnd),
            district=district,
        )


def people_rows(count: int, *, seed: int = PEOPLE_SEED) -> Iterator[dict[str, str]]:
    for person in generate_people(count, seed=seed):
        yield person.row()
