"""The demo helper on a small city: twelve types, licences in every state, service items, the library."""

from __future__ import annotations

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.demo.companies import company_rows
from govshare.demo.people import people_rows
from govshare.licences.choices import VerifyStatus
from govshare.licences.demo import build_demo_licences
from govshare.licences.models import Licence, LicenceType, ServiceItem
from govshare.licences.services.items import materials_for
from govshare.licences.services.verify import check, stored_holder_id, with_relations
from govshare.organizations.models import Node

pytestmark = pytest.mark.django_db

NAMES = {"scjg": "潮州市市场监督管理局", "mzj": "潮州市民政局", "wjj": "潮州市卫生健康局", "zrzyj": "潮州市自然资源局",
         "rsj": "潮州市人力资源和社会保障局", "gaj": "潮州市公安局", "jtj": "潮州市交通运输局",
         "zjj": "潮州市住房和城乡建设局", "jyj": "潮州市教育局"}


def test_build_demo_licences(city: Node, data_office: User) -> None:
    testing.seed()
    departments = {slug: testing.department(city, name=name) for slug, name in NAMES.items()}
    departments["elsewhere"] = testing.department(testing.node(), name="饶平县公安局")
    staff = testing.user(Role.PROVIDER, dept=departments["mzj"])
    people, companies = list(people_rows(400)), list(company_rows(150))
    counts = build_demo_licences(node=city, departments=departments, people=people, companies=companies,
                                 actor=data_office, max_per_type=60)
    assert counts["types"] == 12 and counts["skipped_types"] == []
    assert LicenceType.objects.get(name="残疾人证").department_id == departments["mzj"].pk  # no 残联 here
    assert LicenceType.objects.get(name="机动车驾驶证").department_id == departments["gaj"].pk
    assert all(n > 0 for n in counts["per_type"].values()), counts["per_type"]
    assert counts["licences"] == Licence.objects.count() > 300
    assert counts["statuses"]["expired"] > 0 and counts["statuses"]["revoked"] == counts["revoked"] > 0
    assert counts["items"] == ServiceItem.objects.count() == 12 and counts["library"]
    assert Licence.objects.filter(licence_type__name="结婚证").first().issued_by_id == staff.pk  # type: ignore[union-attr]
    sample = [with_relations().filter(licence_type__name=name).first() for name in ("营业执照", "结婚证", "社会保障卡")]
    assert all(lic is not None and check(lic).status in (VerifyStatus.VALID, VerifyStatus.REVOKED) for lic in sample)
    # 免提交: a married person need not bring the 结婚证 for 公租房申请.
    married = with_relations().filter(licence_type__name="结婚证").first()
    assert married is not None
    rent = ServiceItem.objects.get(name="公共租赁住房申请")
    answers = {a.name: a.waived for a in materials_for(node=city, item_code=rent.code,
                                                        holder=stored_holder_id(married))}
    assert answers["结婚证"] is True and answers["公共租赁住房申请表"] is False
    # Running it again adds nothing.
    again = build_demo_licences(node=city, departments=departments, people=people, companies=companies,
                                actor=data_office, max_per_type=60)
    assert again["licences"] == 0 and Licence.objects.count() == counts["licences"]
