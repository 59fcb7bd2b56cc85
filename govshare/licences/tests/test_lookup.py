"""一号申请 at the window: every valid licence of a holder, 用证记录, audit with the key HMAC, the daily quota;
and the 事项 → 材料 mapping (免提交)."""

from __future__ import annotations

from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.audit.services import audit_key_hmac
from govshare.conftest import client_for
from govshare.licences.models import Licence, LicenceUse
from govshare.licences.services.issue import revoke_licence
from govshare.licences.services.items import materials_for
from govshare.licences.tests.conftest import COMPANY, OTHER, PERSON, LicenceWorld

pytestmark = pytest.mark.django_db


def lookup(user: Any, holder: str, **kw: Any) -> Any:
    body = {"holder": holder, "case_number": kw.pop("case_number", "BJ2026000123"),
            "item_code": kw.pop("item_code", "11445100MB2C0871XK44405210001"), **kw}
    return client_for(user).post("/api/v1/licences/lookup", body, content_type="application/json")


def test_window_lookup_returns_valid_licences_and_records_the_use(lw: LicenceWorld) -> None:
    first, second = lw.marry(), lw.marry(number="J-OLD")
    revoke_licence(actor=lw.civil_staff, licence=second, reason="离婚登记后注销")
    lw.marry(holder=OTHER, holder_name="张三")
    tampered = lw.marry(number="J-EDITED")
    Licence.objects.filter(pk=tampered.pk).update(holder_name="别人")
    resp = lookup(lw.clerk, PERSON.lower())  # a lower-case x / spacing does not matter
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["count"] == 1 and [x["number"] for x in body["licences"]] == [first.number]
    assert body["licences"][0]["fields"]["配偶姓名"] == "林婉清" and "holder_id" not in body["licences"][0]
    use = LicenceUse.objects.get(pk=body["use_id"])
    assert (use.channel, use.user_id, use.case_number, use.item_code) == (
        "window", lw.clerk.pk, "BJ2026000123", "11445100MB2C0871XK44405210001")
    assert [lic.pk for lic in use.licences.all()] == [first.pk]
    ev = AuditEvent.objects.get(action="licences.holder_lookup")
    assert ev.data["key_hmacs"] == [audit_key_hmac(PERSON)] and ev.data["licences"] == [first.number]
    assert PERSON not in str(ev.data) and ev.actor_id == str(lw.clerk.pk)
    assert AuditKeyRef.objects.filter(key_hmac=audit_key_hmac(PERSON), seq=ev.seq).exists()
    # A company holder, and the records list for the data office and the clerk.
    lw.register()
    assert lookup(lw.clerk, COMPANY).json()["licences"][0]["type_name"] == "营业执照"
    uses = client_for(lw.office).get("/api/v1/licences/uses").json()["items"]
    assert [u["licence_numbers"] for u in uses][1] == [first.number] and len(uses) == 2
    assert client_for(lw.civil_staff).get("/api/v1/licences/uses").status_code == 403


def test_lookup_needs_case_number_item_code_and_a_valid_holder(lw: LicenceWorld) -> None:
    lw.marry()
    for kw, field in (({"case_number": " "}, "case_number"), ({"item_code": ""}, "item_code")):
        resp = lookup(lw.clerk, PERSON, **kw)
        assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == field
    bad = lookup(lw.clerk, PERSON[:17] + ("0" if PERSON[17] != "0" else "1"))
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "holder"
    assert lookup(lw.civil_staff, PERSON).status_code == 403
    assert not LicenceUse.objects.exists()


def test_daily_quota_per_clerk(lw: LicenceWorld, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "LICENCE_CLERK_DAILY_QUOTA": 2}
    lw.marry()
    assert [lookup(lw.clerk, PERSON).status_code for _ in range(3)] == [200, 200, 429]
    over = lookup(lw.clerk, PERSON).json()["error"]
    assert over["code"] == "too_many_requests" and over["details"] == {"quota": 2, "used": 2}
    assert LicenceUse.objects.count() == 2
    denied = AuditEvent.objects.filter(action="licences.holder_lookup", result="denied")
    assert denied.count() == 2 and denied.first().data["key_hmacs"] == [audit_key_hmac(PERSON)]
    # Another clerk has a quota of their own.
    other = testing.user(Role.WINDOW_CLERK, dept=lw.clerk.department)
    assert lookup(other, PERSON).status_code == 200


def test_materials_mapping(lw: LicenceWorld) -> None:
    answers = materials_for(node=lw.city, item_code=lw.item.code, holder=PERSON)
    assert [(a.name, a.waived) for a in answers] == [("申请表", False), ("结婚证", False), ("营业执照", False)]
    lic = lw.marry()
    answers = materials_for(node=lw.city, item_code=lw.item.code, holder=PERSON)
    assert [(a.name, a.licence_type_code, a.waived) for a in answers] == [
        ("申请表", None, False), ("结婚证", lw.marriage.code, True), ("营业执照", lw.business.code, False)]
    revoke_licence(actor=lw.civil_staff, licence=lic, reason="注销")
    assert not any(a.waived for a in materials_for(node=lw.city, item_code=lw.item.code, holder=PERSON))
    # Through the API (window staff), audited with the key HMAC; companies too.
    lw.register()
    resp = client_for(lw.clerk).post("/api/v1/licences/materials/check", {"item_code": lw.item.code,
                                                                          "holder": COMPANY},
                                     content_type="application/json")
    assert resp.status_code == 200
    assert [m["waived"] for m in resp.json()["materials"]] == [False, False, True]
    ev = AuditEvent.objects.get(action="licences.materials_checked")
    assert ev.data == {"waived": ["营业执照"], "key_hmacs": [audit_key_hmac(COMPANY)]}
    missing = client_for(lw.clerk).post("/api/v1/licences/materials/check", {"item_code": "NOPE", "holder": COMPANY},
                                        content_type="application/json")
    assert missing.status_code == 404
    # The data office edits the mapping: the list shows the materials in order.
    resp = client_for(lw.office).patch(f"/api/v1/licences/items/{lw.item.pk}", {"materials": [
        {"name": "营业执照", "licence_type_id": str(lw.business.pk)}, {"name": "身份证复印件"}]},
        content_type="application/json")
    assert resp.status_code == 200 and [m["name"] for m in resp.json()["materials"]] == ["营业执照", "身份证复印件"]
