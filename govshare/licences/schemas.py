"""Request and response schemas of the licences API, and the functions that fill the responses."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any

from ninja import Field, Schema

from govshare.audit.models import NodeKey
from govshare.licences.models import Licence, LicenceType, LicenceUse, ServiceItem, SigningKey
from govshare.licences.services.items import MaterialAnswer
from govshare.licences.services.verify import Verification

# ---------------------------------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------------------------------


class FieldIn(Schema):
    name: str = Field(..., max_length=50)
    element: str = Field("", max_length=32, description="数据元代码 (optional), e.g. DE0033")
    required: bool = False


class TypeIn(Schema):
    name: str = Field(..., max_length=100)
    department_id: uuid.UUID
    holder_kind: str = Field(..., description="person (公民身份号码) or company (统一社会信用代码)")
    fields: list[FieldIn] = []
    validity_rule: str = Field(..., description="fixed_years / no_expiry / given_at_issue")
    validity_years: int | None = Field(None, ge=1, le=100)
    code: str | None = Field(None, max_length=32, description="证照类型代码; default: the department's USCC + 3 digits")
    description: str = Field("", max_length=2000)


class TypePatch(Schema):
    name: str | None = Field(None, max_length=100)
    department_id: uuid.UUID | None = None
    fields: list[FieldIn] | None = None
    validity_rule: str | None = None
    validity_years: int | None = Field(None, ge=1, le=100)
    description: str | None = Field(None, max_length=2000)
    active: bool | None = None


class LicenceFieldOut(Schema):
    name: str
    element: str
    required: bool


class TypeOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    department_id: uuid.UUID
    department_name: str
    holder_kind: str
    fields: list[LicenceFieldOut]
    validity_rule: str
    validity_years: int | None
    description: str
    active: bool
    created_at: dt.datetime


def type_out(t: LicenceType) -> dict[str, Any]:
    return {"id": t.pk, "code": t.code, "name": t.name, "department_id": t.department_id,
            "department_name": t.department.name, "holder_kind": t.holder_kind, "fields": t.fields,
            "validity_rule": t.validity_rule, "validity_years": t.validity_years, "description": t.description,
            "active": t.active, "created_at": t.created_at}


# ---------------------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------------------


class RotateIn(Schema):
    department_id: uuid.UUID


class SigningKeyOut(Schema):
    key_id: str
    department_id: uuid.UUID
    department_name: str
    department_code: str
    public_key: str
    valid_from: dt.datetime
    retired_at: dt.datetime | None
    active: bool
    node_code: str
    node_key_id: str
    node_public_key: str | None
    certification: str


def node_public_keys(keys: list[SigningKey]) -> dict[str, str]:
    ids = {k.node_key_id for k in keys}
    return dict(NodeKey.objects.filter(key_id__in=ids).values_list("key_id", "public_key"))


def key_out(k: SigningKey, node_keys: dict[str, str]) -> dict[str, Any]:
    return {"key_id": k.key_id, "department_id": k.department_id, "department_name": k.department.name,
            "department_code": k.department.uscc, "public_key": k.public_key, "valid_from": k.valid_from,
            "retired_at": k.retired_at, "active": k.active, "node_code": k.node_code, "node_key_id": k.node_key_id,
            "node_public_key": node_keys.get(k.node_key_id), "certification": k.certification}


# ---------------------------------------------------------------------------------------------------------------
# Licences
# ---------------------------------------------------------------------------------------------------------------


class IssueIn(Schema):
    type_id: uuid.UUID
    holder_id: str = Field(..., max_length=32, description="公民身份号码 or 统一社会信用代码")
    holder_name: str = Field(..., max_length=200)
    fields: dict[str, str | int] = {}
    number: str | None = Field(None, max_length=64, description="证照编号; generated when omitted")
    valid_from: dt.date | None = None
    valid_to: dt.date | None = Field(None, description="only for types whose validity is given at issue")


class BulkIn(Schema):
    dataset_id: uuid.UUID
    holder_id_column: str = Field(..., max_length=64)
    holder_name_column: str = Field(..., max_length=64)
    fields: dict[str, str] = Field({}, description="照面信息项名称 -> dataset column")
    number_column: str | None = Field(None, max_length=64)
    valid_from_column: str | None = Field(None, max_length=64)
    valid_to_column: str | None = Field(None, max_length=64)


class BulkOut(Schema):
    rows: int
    issued: int
    skipped: int
    failed: int
    problems: list[dict[str, Any]]


class RevokeIn(Schema):
    reason: str = Field(..., max_length=500)


class LicenceOut(Schema):
    id: uuid.UUID
    number: str
    type_id: uuid.UUID
    type_code: str
    type_name: str
    holder_kind: str
    holder_id_masked: str
    holder_name: str
    fields: dict[str, str]
    issuer_id: uuid.UUID
    issuer_name: str
    issuer_code: str
    valid_from: dt.date
    valid_to: dt.date | None
    issued_at: dt.datetime
    status: str
    revoked_at: dt.datetime | None
    revoke_reason: str
    key_id: str
    signature: str


def licence_out(lic: Licence) -> dict[str, Any]:
    t = lic.licence_type
    return {"id": lic.pk, "number": lic.number, "type_id": t.pk, "type_code": t.code, "type_name": t.name,
            "holder_kind": lic.holder_kind, "holder_id_masked": lic.holder_masked, "holder_name": lic.holder_name,
            "fields": lic.fields, "issuer_id": lic.issuer_id, "issuer_name": lic.issuer.name,
            "issuer_code": lic.issuer_code, "valid_from": lic.valid_from, "valid_to": lic.valid_to,
            "issued_at": lic.issued_at, "status": lic.status, "revoked_at": lic.revoked_at,
            "revoke_reason": lic.revoke_reason, "key_id": lic.signing_key.key_id, "signature": lic.signature}


class VerifyIn(Schema):
    number: str = Field(..., max_length=64)
    payload: dict[str, Any] | None = Field(None, description="the signed payload as presented (optional)")


class VerifyOut(Schema):
    status: str = Field(..., description="valid / revoked / expired / tampered")
    reason: str
    number: str
    type_code: str | None = None
    type_name: str | None = None
    issuer_name: str | None = None
    issuer_code: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    issued_at: dt.datetime | None = None
    key_id: str | None = None
    checked_at: dt.datetime


def verify_out(v: Verification, now: dt.datetime) -> dict[str, Any]:
    lic = v.licence
    out: dict[str, Any] = {"status": v.status, "reason": v.reason, "number": lic.number, "checked_at": now}
    if v.status != "tampered":  # the facts of an altered row are not vouched for
        out.update({"type_code": lic.licence_type.code, "type_name": lic.licence_type.name,
                    "issuer_name": lic.issuer.name, "issuer_code": lic.issuer_code, "valid_from": lic.valid_from,
                    "valid_to": lic.valid_to, "issued_at": lic.issued_at, "key_id": lic.signing_key.key_id})
    return out


# ---------------------------------------------------------------------------------------------------------------
# Holder lookup and uses
# ---------------------------------------------------------------------------------------------------------------


class LookupIn(Schema):
    holder: str = Field(..., max_length=32, description="公民身份号码 or 统一社会信用代码")
    case_number: str = Field(..., max_length=64, description="办件编号")
    item_code: str = Field(..., max_length=64, description="事项编码")


class FoundLicence(Schema):
    number: str
    type_code: str
    type_name: str
    holder_name: str
    fields: dict[str, str]
    issuer_name: str
    valid_from: dt.date
    valid_to: dt.date | None
    issued_at: dt.datetime


class LookupOut(Schema):
    use_id: uuid.UUID
    case_number: str
    item_code: str
    count: int
    licences: list[FoundLicence]


def found_out(lic: Licence) -> dict[str, Any]:
    return {"number": lic.number, "type_code": lic.licence_type.code, "type_name": lic.licence_type.name,
            "holder_name": lic.holder_name, "fields": lic.fields, "issuer_name": lic.issuer.name,
            "valid_from": lic.valid_from, "valid_to": lic.valid_to, "issued_at": lic.issued_at}


class UseOut(Schema):
    id: uuid.UUID
    channel: str
    user: str | None
    system_id: uuid.UUID | None
    system_name: str | None
    grant_id: str
    operator: str
    case_number: str
    item_code: str
    licence_numbers: list[str]
    created_at: dt.datetime


def use_out(u: LicenceUse) -> dict[str, Any]:
    return {"id": u.pk, "channel": u.channel, "user": u.user.username if u.user else None,
            "system_id": u.system_id, "system_name": u.system.name if u.system else None, "grant_id": u.grant_id,
            "operator": u.operator, "case_number": u.case_number, "item_code": u.item_code,
            "licence_numbers": sorted(lic.number for lic in u.licences.all()), "created_at": u.created_at}


# ---------------------------------------------------------------------------------------------------------------
# Service items and materials
# ---------------------------------------------------------------------------------------------------------------


class MaterialIn(Schema):
    name: str = Field(..., max_length=200)
    licence_type_id: uuid.UUID | None = None


class ServiceItemIn(Schema):
    code: str = Field(..., max_length=64, description="事项编码")
    name: str = Field(..., max_length=200)
    department_id: uuid.UUID
    materials: list[MaterialIn] = []


class ItemPatch(Schema):
    name: str | None = Field(None, max_length=200)
    department_id: uuid.UUID | None = None
    materials: list[MaterialIn] | None = None


class MaterialOut(Schema):
    name: str
    licence_type_id: uuid.UUID | None
    licence_type_code: str | None
    licence_type_name: str | None


class ServiceItemOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    department_id: uuid.UUID
    department_name: str
    materials: list[MaterialOut]


def item_out(item: ServiceItem) -> dict[str, Any]:
    return {"id": item.pk, "code": item.code, "name": item.name, "department_id": item.department_id,
            "department_name": item.department.name,
            "materials": [{"name": m.name, "licence_type_id": m.licence_type_id,
                           "licence_type_code": m.licence_type.code if m.licence_type else None,
                           "licence_type_name": m.licence_type.name if m.licence_type else None}
                          for m in item.materials.all()]}


class MaterialsCheckIn(Schema):
    item_code: str = Field(..., max_length=64)
    holder: str = Field(..., max_length=32)


class MaterialAnswerOut(Schema):
    name: str
    licence_type_code: str | None
    licence_type_name: str | None
    waived: bool = Field(..., description="免提交: a valid licence of this type is in the library")


class MaterialsCheckOut(Schema):
    item_code: str
    materials: list[MaterialAnswerOut]


def answers_out(item_code: str, answers: list[MaterialAnswer]) -> dict[str, Any]:
    return {"item_code": item_code, "materials": [asdict(a) for a in answers]}


class LicenceLibraryOut(Schema):
    node_code: str
    resource_id: uuid.UUID
    resource_code: str
    resource_name: str
