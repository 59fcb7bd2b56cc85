"""Issue, signature, tamper detection in the database, presented payloads, key rotation, revoke and expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent, NodeKey
from govshare.conftest import client_for
from govshare.core.crypto import decrypt_secret, get_sm2_provider
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.licences.choices import LicenceStatus, VerifyStatus
from govshare.licences.models import Licence, SigningKey
from govshare.licences.payload import serialise
from govshare.licences.services import keys
from govshare.licences.services.expiry import mark_expired
from govshare.licences.services.issue import IssueSpec, issue_licence, revoke_licence
from govshare.licences.services.verify import check, payload_of, stored_holder_id, with_relations
from govshare.licences.tests.conftest import COMPANY, OTHER, PERSON, LicenceWorld

pytestmark = pytest.mark.django_db


def fresh(licence: Licence) -> Licence:
    return with_relations().get(pk=licence.pk)


def status(licence: Licence, **kw: Any) -> str:
    return check(fresh(licence), **kw).status


def verify_api(user: Any, number: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = client_for(user).post("/api/v1/licences/verify", {"number": number, "payload": payload},
                                 content_type="application/json")
    assert resp.status_code == 200, resp.content
    body: dict[str, Any] = resp.json()
    return body


def test_issue_signs_the_canonical_payload_and_hides_the_holder_id(lw: LicenceWorld) -> None:
    lic = fresh(lw.marry())
    assert lic.number.startswith(lw.marriage.code + "-") and lic.valid_to is None
    assert PERSON not in lic.holder_id_enc and stored_holder_id(lic) == PERSON
    payload = payload_of(lic, PERSON)
    assert list(payload) == ["type_code", "number", "holder_id", "holder_name", "fields", "issuer", "valid_from",
                             "valid_to", "issued_at"]
    raw = serialise(payload)
    assert raw.startswith(b'{"fields":{') and "陈晓明".encode() in raw and b" " not in raw
    assert get_sm2_provider().verify(lic.signing_key.public_key, raw, bytes.fromhex(lic.signature))
    assert payload["issuer"] == lw.civil.uscc and payload["issued_at"].endswith("Z")
    # The key is the department's, certified by the node key (the audit checkpoint key).
    key = lic.signing_key
    assert key.department_id == lw.civil.pk and NodeKey.objects.filter(key_id=key.node_key_id).exists()
    assert keys.certification_holds(key, lw.civil.uscc)
    assert decrypt_secret(key.private_key, purpose=keys.KEY_PURPOSE)  # stored as an envelope token
    assert check(lic).status == VerifyStatus.VALID
    ev = AuditEvent.objects.filter(action="licences.issued").get()
    assert ev.data["number"] == lic.number and PERSON not in str(ev.data)
    # Fixed-years validity: 20 years from today, minus a day.
    biz = fresh(lw.register())
    assert biz.valid_to == biz.valid_from.replace(year=biz.valid_from.year + 20) - dt.timedelta(days=1)


@pytest.mark.parametrize(("column", "value"), [
    ("holder_name", "陈小明"),
    ("fields", {"登记日期": "2021-05-20", "配偶姓名": "林婉清"}),
    ("valid_to", dt.date(2030, 1, 1)),
    ("valid_from", dt.date(2000, 1, 1)),
    ("issuer_code", "12445100MB2C0871XK"),
    ("number", "J445102-2020-000001"),
    ("issued_at", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
])
def test_a_field_edited_in_the_database_is_tampered(lw: LicenceWorld, column: str, value: Any) -> None:
    lic = lw.marry()
    assert status(lic) == VerifyStatus.VALID
    Licence.objects.filter(pk=lic.pk).update(**{column: value})  # what a database administrator can do
    result = check(fresh(lic))
    # The issuer code is also part of the key's certification, which is checked first.
    reason = "key_certification" if column == "issuer_code" else "signature"
    assert (result.status, result.reason) == (VerifyStatus.TAMPERED, reason)


def test_other_tampering_the_database_allows(lw: LicenceWorld) -> None:
    lic = lw.marry()
    other = lw.marry(holder=OTHER, holder_name="张三")
    # Moving a licence to another holder's index (so lookups hand it to the wrong person).
    Licence.objects.filter(pk=lic.pk).update(holder_index=other.holder_index)
    assert check(fresh(lic)).reason == "holder_index"
    Licence.objects.filter(pk=lic.pk).update(holder_index=lic.holder_index, holder_id_enc=other.holder_id_enc)
    assert check(fresh(lic)).reason == "holder_index"
    # Swapping the department key for one the administrator controls and re-signing: the node did not certify it.
    Licence.objects.filter(pk=lic.pk).update(holder_id_enc=lic.holder_id_enc)
    assert status(lic) == VerifyStatus.VALID
    private, public = get_sm2_provider().generate_keypair()
    SigningKey.objects.filter(pk=lic.signing_key_id).update(public_key=public)
    row = fresh(lic)
    forged = get_sm2_provider().sign(private, public, serialise(payload_of(row, PERSON))).hex()
    Licence.objects.filter(pk=lic.pk).update(signature=forged)
    assert check(fresh(lic)).reason == "key_certification"


def test_presented_payload_must_match(lw: LicenceWorld) -> None:
    lic = fresh(lw.marry())
    payload = payload_of(lic, PERSON)
    body = verify_api(lw.clerk, lic.number, payload)
    assert body["status"] == "valid" and body["type_name"] == "结婚证" and "holder" not in str(body).lower()
    altered = {**payload, "holder_name": "陈小明"}
    body = verify_api(lw.clerk, lic.number, altered)
    assert (body["status"], body["reason"]) == ("tampered", "presented") and body["type_name"] is None
    assert verify_api(lw.clerk, lic.number)["status"] == "valid"
    missing = client_for(lw.clerk).post("/api/v1/licences/verify", {"number": "NOPE"},
                                        content_type="application/json")
    assert missing.status_code == 404
    assert [e.data["status"] for e in AuditEvent.objects.filter(action="licences.verified").order_by("seq")] == [
        "valid", "tampered", "valid"]


def test_verification_after_key_rotation(lw: LicenceWorld) -> None:
    before = lw.marry()
    old_key = fresh(before).signing_key
    new_key = keys.rotate_key(actor=None, department=lw.civil)
    assert new_key.key_id != old_key.key_id and new_key.active
    old_key.refresh_from_db()
    assert not old_key.active and old_key.retired_at is not None
    after = lw.marry(holder=OTHER, holder_name="张三")
    assert fresh(after).signing_key_id == new_key.pk
    # Both verify: the retired key keeps its public key and node certification.
    assert status(before) == status(after) == VerifyStatus.VALID
    assert verify_api(lw.clerk, before.number)["key_id"] == old_key.key_id
    # A rotation through the API by the department administrator; the key list shows the history.
    admin = testing.user(Role.DEPT_ADMIN, dept=lw.civil)
    resp = client_for(admin).post("/api/v1/licences/keys/rotate", {"department_id": str(lw.civil.pk)},
                                  content_type="application/json")
    assert resp.status_code == 201 and resp.json()["certification"]
    listed = client_for(lw.clerk).get(f"/api/v1/licences/keys?department_id={lw.civil.pk}").json()["items"]
    assert [k["active"] for k in listed] == [True, False, False]
    assert all(k["node_public_key"] for k in listed)
    assert status(before) == status(after) == VerifyStatus.VALID
    # A licence claiming to be signed by a key after its retirement is not believed.
    Licence.objects.filter(pk=before.pk).update(signing_key=new_key)
    assert check(fresh(before)).status == VerifyStatus.TAMPERED
    with pytest.raises(PermissionDenied):
        keys.rotate_key(actor=lw.civil_staff, department=lw.civil)


def test_revoke_and_expiry(lw: LicenceWorld) -> None:
    lic = lw.marry()
    with pytest.raises(PermissionDenied):
        revoke_licence(actor=lw.market_staff, licence=lic, reason="错误")
    with pytest.raises(ValidationFailed):
        revoke_licence(actor=lw.civil_staff, licence=lic, reason=" ")
    revoke_licence(actor=lw.civil_staff, licence=lic, reason="登记错误，依法撤销")
    assert status(lic) == VerifyStatus.REVOKED
    with pytest.raises(Conflict):
        revoke_licence(actor=lw.civil_staff, licence=lic, reason="again")
    # Expiry: a licence past its 有效期至 answers expired even before the job runs; the job marks it, once.
    today = timezone.localdate()
    biz = lw.register(valid_from=today - dt.timedelta(days=365 * 21))
    assert fresh(biz).status == LicenceStatus.EXPIRED  # issued already expired (historical import)
    current = lw.register(number="BIZ-CURRENT")
    assert status(current) == VerifyStatus.VALID
    assert status(current, today=current.valid_to + dt.timedelta(days=1)) == VerifyStatus.EXPIRED
    later = current.valid_to + dt.timedelta(days=1)
    assert mark_expired(today=later) == 1
    assert mark_expired(today=later) == 0
    assert fresh(current).status == LicenceStatus.EXPIRED and status(current) == VerifyStatus.EXPIRED
    (ev,) = AuditEvent.objects.filter(action="licences.expired")
    assert ev.data["count"] == 1 and ev.data["numbers"] == ["BIZ-CURRENT"]
    revoke_licence(actor=lw.market_staff, licence=current, reason="吊销")  # an expired licence may be revoked
    assert status(current) == VerifyStatus.REVOKED


def test_issue_validation(lw: LicenceWorld) -> None:
    bad = [
        ({"holder": PERSON[:17] + ("0" if PERSON[17] != "0" else "1")}, "holder_id"),  # bad check digit
        ({"holder": COMPANY}, "holder_id"),  # a company for a person type
        ({"fields": {"登记日期": "2020-05-20"}}, "fields.配偶姓名"),  # required field missing
        ({"fields": {"登记日期": "2020-05-20", "配偶姓名": "林", "血型": "A"}}, "fields.血型"),
        ({"valid_to": dt.date(2030, 1, 1)}, "valid_to"),  # no_expiry type
        ({"valid_from": timezone.localdate() + dt.timedelta(days=1)}, "valid_from"),
    ]
    for kw, field in bad:
        with pytest.raises(ValidationFailed) as info:
            lw.marry(**kw)
        assert info.value.details["field"] == field, kw
    lw.marry(number="J-1")
    with pytest.raises(Conflict):
        lw.register(number="J-1")
    with pytest.raises(PermissionDenied):
        issue_licence(actor=lw.market_staff, licence_type=lw.marriage,
                      spec=IssueSpec(holder_id=PERSON, holder_name="x", fields={}))
    assert Licence.objects.count() == 1
