"""Confusable names. Rule (govshare.core.names.clean_name), for resource, information-system and department
names: NFKC (full-width letters/digits and compatibility ideographs fold; full-width punctuation stays), whitespace
collapsed, invisible/bidi/control characters refused, Latin mixed with Cyrillic or Greek refused. A refused name
is a 422 naming the field and the character, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.conftest import client_for
from govshare.core.errors import ValidationFailed
from govshare.organizations.models import Department
from govshare.registry.models import InformationSystem

pytestmark = pytest.mark.django_db

ITEMS = [{"name": "公民身份号码", "element_code": "DE0001", "is_key": True},
         {"name": "姓名", "element_code": "DE0002", "required": True}]

REFUSED = {
    "bidi override (Trojan Source)": ("人口\u202e息信本基", "U+202E"),
    "bidi isolate": ("人口\u2066基本信息\u2069", "U+2066"),
    "right-to-left mark": ("人口基本信息\u200f", "U+200F"),
    "zero-width space": ("人口\u200b基本信息", "U+200B"),
    "zero-width joiner": ("人口\u200d基本信息", "U+200D"),
    "word joiner": ("人口\u2060基本信息", "U+2060"),
    "byte-order mark": ("\ufeff人口基本信息", "U+FEFF"),
    "soft hyphen": ("GIS\u00ad平台", "U+00AD"),
    "control character": ("人口\x07基本信息", "U+0007"),
    "Cyrillic a among Latin": ("GIS Pаyroll 平台", "U+0430"),
    "Greek omicron among Latin": ("Dοcs 平台", "U+03BF"),
}


def _resource_body(name: str) -> dict[str, Any]:
    return {"name": name, "classification_code": "101001", "summary": "摘要", "share_type": "conditional",
            "share_modes": ["api"], "open_type": "none", "update_cycle": "daily", "formats": ["database"],
            "items": ITEMS}


@pytest.mark.parametrize(("name", "char"), list(REFUSED.values()), ids=list(REFUSED))
def test_resource_names_with_invisible_or_mixed_script_characters_are_refused(
        name: str, char: str, seeded: None, provider: Any) -> None:
    before = (Resource.objects.count(), AuditEvent.objects.count())
    resp = client_for(provider).post("/api/v1/catalog/resources", _resource_body(name),
                                     content_type="application/json")
    assert resp.status_code == 422, resp.content
    err = resp.json()["error"]
    assert err["details"]["field"] == "name" and err["details"]["character"] == char
    assert char in err["message"]
    assert (Resource.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(("name", "char"), list(REFUSED.values())[:3] + list(REFUSED.values())[-2:],
                         ids=list(REFUSED)[:3] + list(REFUSED)[-2:])
def test_system_names_follow_the_same_rule(name: str, char: str, provider_dept: Any) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    resp = client_for(admin).post("/api/v1/registry/systems", {"name": name}, content_type="application/json")
    assert resp.status_code == 422, resp.content
    assert resp.json()["error"]["details"] == {"field": "name", "character": char,
                                               "reason": resp.json()["error"]["details"]["reason"]}
    assert not InformationSystem.objects.exists()


def test_lookalike_full_width_names_fold_to_one_name(provider_dept: Any) -> None:
    admin = testing.user(Role.DEPT_ADMIN, dept=provider_dept)
    c = client_for(admin)
    first = c.post("/api/v1/registry/systems", {"name": " ＧＩＳ　平台（一期） "}, content_type="application/json")
    assert first.status_code == 201, first.content
    stored = InformationSystem.objects.get()
    assert stored.name == "GIS 平台（一期）"  # letters folded, ideographic space collapsed, （） kept as typed
    # The ASCII spelling is the same name: refused as a duplicate instead of a second, look-alike system.
    again = c.post("/api/v1/registry/systems", {"name": "GIS 平台（一期）"}, content_type="application/json")
    assert again.status_code == 409
    assert InformationSystem.objects.count() == 1


def test_kangxi_radicals_fold_in_resource_names(seeded: None, provider: Any) -> None:
    resp = client_for(provider).post("/api/v1/catalog/resources", _resource_body("⼈口基本信息"),
                                     content_type="application/json")
    assert resp.status_code == 201, resp.content
    assert Resource.objects.get(pk=resp.json()["id"]).name == "人口基本信息"


def test_department_names_follow_the_same_rule(city: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        testing.department(city, name="市公安局\u202e")
    assert exc.value.details["field"] == "name"
    assert not Department.objects.filter(name__startswith="市公安局").exists()


def test_ordinary_chinese_names_pass_unchanged(seeded: None, provider: Any) -> None:
    for name in ("潮州市12345热线工单信息", "不动产登记（抵押）信息", "GIS 地理信息服务平台数据", "α-地中海贫血筛查"):
        resp = client_for(provider).post("/api/v1/catalog/resources", _resource_body(name),
                                         content_type="application/json")
        assert resp.status_code == 201, (name, resp.content)
        assert Resource.objects.get(pk=resp.json()["id"]).name == name
