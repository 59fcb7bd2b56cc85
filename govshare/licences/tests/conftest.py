"""A small licence world: the city's data office, 民政局 (结婚证, persons) and 市场监管局 (营业执照, companies),
their provider staff, a window clerk, and a service item whose materials map to both types."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.core.identifiers import make_resident_id, make_uscc
from govshare.licences.choices import HolderKind, ValidityRule
from govshare.licences.models import LicenceType, ServiceItem
from govshare.licences.services import items, types
from govshare.licences.services.issue import IssueSpec, issue_licence
from govshare.organizations.models import Department, Node

PERSON = make_resident_id("445102", dt.date(1990, 5, 17), 23)
SPOUSE = make_resident_id("445103", dt.date(1991, 8, 2), 44)
OTHER = make_resident_id("445102", dt.date(1985, 1, 1), 11)
COMPANY = make_uscc("9", "1", "445102", "MA4W3K2J")


@dataclass
class LicenceWorld:
    city: Node
    office: User
    civil: Department  # 民政局
    market: Department  # 市场监管局
    civil_staff: User
    market_staff: User
    clerk: User
    marriage: LicenceType
    business: LicenceType
    item: ServiceItem

    def marry(self, holder: str = PERSON, **kw: Any) -> Any:
        spec = IssueSpec(holder_id=holder, holder_name=kw.pop("holder_name", "陈晓明"),
                         fields=kw.pop("fields", {"登记日期": "2020-05-20", "配偶姓名": "林婉清",
                                                  "配偶身份证件号": SPOUSE}), **kw)
        return issue_licence(actor=self.civil_staff, licence_type=self.marriage, spec=spec)

    def register(self, holder: str = COMPANY, **kw: Any) -> Any:
        spec = IssueSpec(holder_id=holder, holder_name=kw.pop("holder_name", "潮州市韩瓷陶瓷有限公司"),
                         fields=kw.pop("fields", {"法定代表人": "陈晓明", "住所": "潮州市湘桥区西马路1号",
                                                  "成立日期": "2018-03-01"}), **kw)
        return issue_licence(actor=self.market_staff, licence_type=self.business, spec=spec)


def build_world(city: Node, office: User) -> LicenceWorld:
    testing.seed()
    civil = testing.department(city, name="潮州市民政局")
    market = testing.department(city, name="潮州市市场监督管理局")
    marriage = types.create_type(
        actor=office, node=city, name="结婚证", department=civil, holder_kind=HolderKind.PERSON,
        fields=[types.FieldSpec("登记日期", "DE0033", True), types.FieldSpec("配偶姓名", "DE0002", True),
                types.FieldSpec("配偶身份证件号", "DE0001", False)],
        validity_rule=ValidityRule.NO_EXPIRY)
    business = types.create_type(
        actor=office, node=city, name="营业执照", department=market, holder_kind=HolderKind.COMPANY,
        fields=[types.FieldSpec("法定代表人", "DE0017", True), types.FieldSpec("住所", "DE0021", True),
                types.FieldSpec("成立日期", "DE0019", False)],
        validity_rule=ValidityRule.FIXED_YEARS, validity_years=20)
    item = items.create_item(
        actor=office, node=city, code="11445100MB2C0871XK44405210001", name="公租房申请", department=civil,
        materials=[items.MaterialSpec("申请表"), items.MaterialSpec("结婚证", marriage),
                   items.MaterialSpec("营业执照", business)])
    return LicenceWorld(
        city=city, office=office, civil=civil, market=market,
        civil_staff=testing.user(Role.PROVIDER, dept=civil), market_staff=testing.user(Role.PROVIDER, dept=market),
        clerk=testing.user(Role.WINDOW_CLERK, dept=testing.department(city, name="潮州市政务服务中心")),
        marriage=marriage, business=business, item=item)


@pytest.fixture
def lw(city: Node, data_office: User) -> LicenceWorld:
    return build_world(city, data_office)
