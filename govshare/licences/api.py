"""REST API of the licences app (django-ninja router mounted at /api/v1/licences).

证照目录 (types, data office), signing keys (rotation), issue / bulk issue / revoke (issuing department), verify
(any signed-in user; status and minimal facts, never the holder id), 一号申请 holder lookup and 用证记录
(window staff), 事项 → 材料 mapping and the 免提交 check, and the licence library resource.
Literal paths come before ``/{licence_id}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from govshare.core.api import Page, paginate
from govshare.core.errors import NotFound, PermissionDenied, ValidationFailed
from govshare.datasets.models import Dataset
from govshare.licences import schemas as s
from govshare.licences import selectors
from govshare.licences.choices import LicenceStatus
from govshare.licences.models import LicenceType
from govshare.licences.services import bulk, items, keys, library, lookup, types
from govshare.licences.services import issue as issuing
from govshare.licences.services import verify as verifying
from govshare.licences.services.common import is_data_office
from govshare.organizations.models import Department

router = Router(tags=["licences 电子证照"])


def _department(user: Any, department_id: uuid.UUID | None, field: str = "department_id") -> Department:
    found = None
    if department_id is not None:
        found = Department.objects.filter(pk=department_id, node_id=user.node_id).first()
    if found is None:
        raise ValidationFailed("部门不存在或不属于本节点 (no such department on this node)", field=field)
    return found


def _fields(specs: list[s.FieldIn]) -> list[types.FieldSpec]:
    return [types.FieldSpec(name=f.name, element=f.element, required=f.required) for f in specs]


# ---------------------------------------------------------------------------------------------------------------
# 证照目录 (licence types)
# ---------------------------------------------------------------------------------------------------------------


@router.get("/types", response=Page[s.TypeOut], summary="证照目录: the node's licence types")
def list_types(request: HttpRequest, active: bool | None = None, cursor: str | None = None,
               limit: int = 50) -> dict[str, Any]:
    qs = selectors.types_visible_to(request.user)
    if active is not None:
        qs = qs.filter(active=active)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["code"], scope=f"licence-types:{active}")
    return {"items": [s.type_out(t) for t in rows], "next_cursor": nxt}


@router.post("/types", response={201: s.TypeOut}, summary="Create a licence type (data office)")
def create_type(request: HttpRequest, body: s.TypeIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    if not is_data_office(user, user.node_id):
        raise PermissionDenied("只有本节点数据主管部门可以维护证照目录 (data office only)")
    created = types.create_type(
        actor=user, node=user.node, name=body.name, department=_department(user, body.department_id),
        holder_kind=body.holder_kind, fields=_fields(body.fields), validity_rule=body.validity_rule,
        validity_years=body.validity_years, code=body.code, description=body.description)
    return Status(201, s.type_out(created))


@router.get("/types/{type_id}", response=s.TypeOut)
def get_type(request: HttpRequest, type_id: uuid.UUID) -> dict[str, Any]:
    return s.type_out(selectors.visible_type(request.user, type_id))


@router.patch("/types/{type_id}", response=s.TypeOut, summary="Edit a licence type (data office; code is fixed)")
def update_type(request: HttpRequest, type_id: uuid.UUID, body: s.TypePatch) -> dict[str, Any]:
    user: Any = request.user
    found = selectors.visible_type(user, type_id)
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {k: v for k, v in given.items() if k not in ("department_id", "fields")}
    if "department_id" in given:
        changes["department"] = _department(user, body.department_id)
    if "fields" in given:
        changes["fields"] = _fields(body.fields or [])
    return s.type_out(types.update_type(actor=user, licence_type=found, **changes))


@router.delete("/types/{type_id}", response={204: None}, summary="Delete an unused licence type (data office)")
def delete_type(request: HttpRequest, type_id: uuid.UUID) -> Status[None]:
    types.delete_type(actor=request.user, licence_type=selectors.visible_type(request.user, type_id))
    return Status(204, None)


@router.post("/types/{type_id}/issue-from-dataset", response=s.BulkOut,
             summary="Bulk issue from a mounted dataset of the issuing department (idempotent)")
def issue_from_dataset(request: HttpRequest, type_id: uuid.UUID, body: s.BulkIn) -> dict[str, Any]:
    user: Any = request.user
    found = selectors.visible_type(user, type_id)
    issuing.require_issuer(user, found)
    dataset = Dataset.objects.select_related("resource__published_version").filter(
        pk=body.dataset_id, node_id=found.node_id).first()
    if dataset is None:
        raise ValidationFailed("数据集不存在 (no such dataset)", field="dataset_id")
    mapping = bulk.ColumnMapping(holder_id=body.holder_id_column, holder_name=body.holder_name_column,
                                 fields=body.fields, number=body.number_column, valid_from=body.valid_from_column,
                                 valid_to=body.valid_to_column)
    return bulk.bulk_issue(actor=user, licence_type=found, dataset=dataset, mapping=mapping).as_dict()


# ---------------------------------------------------------------------------------------------------------------
# Signing keys
# ---------------------------------------------------------------------------------------------------------------


@router.get("/keys", response=Page[s.SigningKeyOut], summary="Department signing keys with their node certification")
def list_keys(request: HttpRequest, department_id: uuid.UUID | None = None, cursor: str | None = None,
              limit: int = 50) -> dict[str, Any]:
    qs = selectors.keys_visible_to(request.user)
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"],
                         scope=f"licence-keys:{department_id}")
    node_keys = s.node_public_keys(rows)
    return {"items": [s.key_out(k, node_keys) for k in rows], "next_cursor": nxt}


@router.post("/keys/rotate", response={201: s.SigningKeyOut},
             summary="Rotate a department's signing key (its administrator or the security administrator)")
def rotate_key(request: HttpRequest, body: s.RotateIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    department = Department.objects.filter(pk=body.department_id, node_id=user.node_id).first()
    if department is None:
        raise NotFound("部门不存在 (no such department)")
    key = keys.rotate_key(actor=user, department=department)
    return Status(201, s.key_out(key, s.node_public_keys([key])))


# ---------------------------------------------------------------------------------------------------------------
# Verification, holder lookup, 用证记录
# ---------------------------------------------------------------------------------------------------------------


@router.post("/verify", response=s.VerifyOut,
             summary="Verify a licence: valid / revoked / expired / tampered (any signed-in user)")
def verify(request: HttpRequest, body: s.VerifyIn) -> dict[str, Any]:
    result = verifying.verify_number(actor=request.user, number=body.number, presented=body.payload)
    return s.verify_out(result, timezone.now())


@router.post("/lookup", response=s.LookupOut, summary="一号申请: every valid licence of a holder (window staff)")
def holder_lookup(request: HttpRequest, body: s.LookupIn) -> dict[str, Any]:
    found = lookup.window_lookup(actor=request.user, holder=body.holder, case_number=body.case_number,
                                 item_code=body.item_code)
    return {"use_id": found.use.pk, "case_number": found.use.case_number, "item_code": found.use.item_code,
            "count": len(found.licences), "licences": [s.found_out(lic) for lic in found.licences]}


@router.get("/uses", response=Page[s.UseOut], summary="用证记录 (data office, audit admin; a window clerk's own)")
def list_uses(request: HttpRequest, case_number: str | None = None, cursor: str | None = None,
              limit: int = 50) -> dict[str, Any]:
    qs = selectors.uses_visible_to(request.user).prefetch_related("licences")
    if case_number:
        qs = qs.filter(case_number=case_number)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"], scope=f"licence-uses:{case_number}")
    return {"items": [s.use_out(u) for u in rows], "next_cursor": nxt}


# ---------------------------------------------------------------------------------------------------------------
# 事项 → 材料 → 证照类型
# ---------------------------------------------------------------------------------------------------------------


def _materials(user: Any, specs: list[s.MaterialIn]) -> list[items.MaterialSpec]:
    out = []
    for i, m in enumerate(specs):
        licence_type = None
        if m.licence_type_id is not None:
            licence_type = LicenceType.objects.filter(pk=m.licence_type_id, node_id=user.node_id).first()
            if licence_type is None:
                raise ValidationFailed("证照类型不存在 (no such licence type)", field=f"materials[{i}].licence_type_id")
        out.append(items.MaterialSpec(name=m.name, licence_type=licence_type))
    return out


def _item_qs(user: Any) -> Any:
    return selectors.items_visible_to(user).prefetch_related("materials__licence_type")


@router.get("/items", response=Page[s.ServiceItemOut], summary="政务服务事项 with their materials")
def list_items(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    rows, nxt = paginate(_item_qs(request.user), cursor=cursor, limit=limit, ordering=["code"], scope="licence-items")
    return {"items": [s.item_out(i) for i in rows], "next_cursor": nxt}


@router.post("/items", response={201: s.ServiceItemOut}, summary="Create a service item and its materials")
def create_item(request: HttpRequest, body: s.ServiceItemIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    if not is_data_office(user, user.node_id):
        raise PermissionDenied("只有本节点数据主管部门可以维护事项材料 (data office only)")
    item = items.create_item(actor=user, node=user.node, code=body.code, name=body.name,
                             department=_department(user, body.department_id),
                             materials=_materials(user, body.materials))
    return Status(201, s.item_out(_item_qs(user).get(pk=item.pk)))


@router.get("/items/{item_id}", response=s.ServiceItemOut)
def get_item(request: HttpRequest, item_id: uuid.UUID) -> dict[str, Any]:
    selectors.visible_item(request.user, item_id)
    return s.item_out(_item_qs(request.user).get(pk=item_id))


@router.patch("/items/{item_id}", response=s.ServiceItemOut, summary="Edit a service item or replace its materials")
def update_item(request: HttpRequest, item_id: uuid.UUID, body: s.ItemPatch) -> dict[str, Any]:
    user: Any = request.user
    found = selectors.visible_item(user, item_id)
    given = body.model_dump(exclude_unset=True)
    items.update_item(actor=user, item=found, name=body.name,
                      department=_department(user, body.department_id) if "department_id" in given else None,
                      materials=_materials(user, body.materials or []) if "materials" in given else None)
    return s.item_out(_item_qs(user).get(pk=item_id))


@router.post("/materials/check", response=s.MaterialsCheckOut,
             summary="免提交: which materials of an item the applicant need not bring (window staff)")
def check_materials(request: HttpRequest, body: s.MaterialsCheckIn) -> dict[str, Any]:
    answers = items.check_materials(actor=request.user, item_code=body.item_code, holder=body.holder)
    return s.answers_out(body.item_code, answers)


# ---------------------------------------------------------------------------------------------------------------
# The licence library resource
# ---------------------------------------------------------------------------------------------------------------


def _library_out(user: Any) -> dict[str, Any]:
    lib = library.library_of(user.node_id)
    if lib is None:
        raise NotFound("本节点尚未建立电子证照库 (no licence library on this node)")
    return {"node_code": user.node.code, "resource_id": lib.resource_id, "resource_code": lib.resource.code,
            "resource_name": lib.resource.name}


@router.get("/library", response=s.LicenceLibraryOut, summary="The node's licence library resource (grants are on it)")
def get_library(request: HttpRequest) -> dict[str, Any]:
    return _library_out(request.user)


@router.post("/library", response=s.LicenceLibraryOut, summary="Set up the licence library resource (data office)")
def ensure_library(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    library.ensure_licence_resource(actor=user, node=user.node)
    return _library_out(user)


# ---------------------------------------------------------------------------------------------------------------
# Licences
# ---------------------------------------------------------------------------------------------------------------


@router.get("", response=Page[s.LicenceOut],
            summary="Licences issued by the caller's department (data office: the node's)")
def list_licences(request: HttpRequest, type_id: uuid.UUID | None = None, status: str | None = None,
                  cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    qs = selectors.licences_visible_to(request.user)
    if type_id is not None:
        qs = qs.filter(licence_type_id=type_id)
    if status is not None:
        if status not in LicenceStatus.values:
            raise ValidationFailed("status 须为 valid / revoked / expired", field="status")
        qs = qs.filter(status=status)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-issued_at"],
                         scope=f"licences:{type_id}:{status}")
    return {"items": [s.licence_out(lic) for lic in rows], "next_cursor": nxt}


@router.post("", response={201: s.LicenceOut}, summary="Issue one licence (issuing department)")
def issue(request: HttpRequest, body: s.IssueIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    found = selectors.visible_type(user, body.type_id)
    spec = issuing.IssueSpec(holder_id=body.holder_id, holder_name=body.holder_name, fields=body.fields,
                             number=body.number, valid_from=body.valid_from, valid_to=body.valid_to)
    created = issuing.issue_licence(actor=user, licence_type=found, spec=spec)
    return Status(201, s.licence_out(verifying.with_relations().get(pk=created.pk)))


@router.get("/{licence_id}", response=s.LicenceOut)
def get_licence(request: HttpRequest, licence_id: uuid.UUID) -> dict[str, Any]:
    return s.licence_out(selectors.visible_licence(request.user, licence_id))


@router.post("/{licence_id}/revoke", response=s.LicenceOut, summary="注销 a licence with a reason (issuing department)")
def revoke(request: HttpRequest, licence_id: uuid.UUID, body: s.RevokeIn) -> dict[str, Any]:
    user: Any = request.user
    found = selectors.visible_licence(user, licence_id)
    issuing.revoke_licence(actor=user, licence=found, reason=body.reason)
    return s.licence_out(selectors.visible_licence(user, licence_id))
