"""Catalog API: data elements, classification, resources with their lifecycle, versions and diffs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from govshare.accounts.choices import Role
from govshare.catalog import selectors, services
from govshare.catalog.choices import LifecycleAction
from govshare.catalog.models import DataElement, Resource
from govshare.catalog.versions import diff_snapshots
from govshare.core.api import Page, paginate
from govshare.core.errors import NotFound, PermissionDenied, ValidationFailed
from govshare.organizations.models import Department

router = Router(tags=["catalog 目录系统"])

# Bounds keep out-of-range integers a 422 naming the field instead of an overflow in the database layer.
MAX_LENGTH = 1_000_000
MAX_VERSION = 2**31 - 1


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class ElementIn(Schema):
    code: str = Field(..., max_length=32)
    name: str = Field(..., max_length=64)
    column_name: str = Field(..., max_length=64)
    data_type: str = "string"
    length: int | None = Field(None, ge=1, le=MAX_LENGTH)
    format: str = ""
    validator: str = ""
    sensitivity: int = 1
    mask_kind: str = "none"
    mask_params: dict[str, Any] = {}
    enum_values: list[str] = []
    low_entropy: bool = False
    is_personal: bool = False
    description: str = ""
    correlated_with: list[str] = []


class ElementPatch(Schema):
    name: str | None = None
    data_type: str | None = None
    length: int | None = Field(None, ge=1, le=MAX_LENGTH)
    format: str | None = None
    validator: str | None = None
    sensitivity: int | None = None
    mask_kind: str | None = None
    mask_params: dict[str, Any] | None = None
    enum_values: list[str] | None = None
    low_entropy: bool | None = None
    is_personal: bool | None = None
    description: str | None = None
    correlated_with: list[str] | None = None


class ElementOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    column_name: str
    data_type: str
    length: int | None
    format: str
    validator: str
    sensitivity: int
    mask_kind: str
    mask_params: dict[str, Any]
    enum_values: list[str]
    low_entropy: bool
    is_personal: bool
    description: str
    correlated_with: list[str]


class ClassificationOut(Schema):
    code: str
    name: str
    category: str
    level: str
    parent: str | None


class ItemIn(Schema):
    name: str = Field(..., max_length=100)
    element_code: str
    column_name: str | None = None
    data_type: str | None = None
    length: int | None = Field(None, ge=1, le=MAX_LENGTH)
    sensitivity: int | None = None
    required: bool = False
    is_key: bool = False


class ItemOut(Schema):
    position: int
    name: str
    element_code: str
    element_name: str
    column_name: str
    data_type: str
    length: int | None
    sensitivity: int
    required: bool
    is_key: bool


class ResourceIn(Schema):
    name: str = Field(..., max_length=200)
    classification_code: str
    provider_id: uuid.UUID | None = None
    source_department_id: uuid.UUID | None = None
    summary: str = ""
    formats: list[str] = []
    share_type: str = "conditional"
    share_condition: str = ""
    share_modes: list[str] = ["api"]
    no_share_basis: str = ""
    open_type: str = "none"
    open_condition: str = ""
    update_cycle: str = "irregular"
    related_codes: list[str] = []
    secrecy: str = "non_secret"
    tags: list[str] = []
    items: list[ItemIn] = []


class ResourceSummary(Schema):
    id: uuid.UUID
    code: str
    name: str
    status: str
    status_label: str
    category: str
    provider_id: uuid.UUID
    provider_name: str
    share_type: str
    open_type: str
    update_cycle: str
    sensitivity: int
    published_version: int | None
    updated_at: dt.datetime


class ResourceOut(ResourceSummary):
    classification_code: str
    source_department_name: str | None
    summary: str
    formats: list[str]
    share_condition: str
    share_modes: list[str]
    no_share_basis: str
    open_condition: str
    published_on: dt.date | None
    related_codes: list[str]
    secrecy: str
    tags: list[str]
    review_note: str
    view: str = Field(..., description="working_copy (provider side, node staff) or published (everyone else)")
    allowed_actions: list[str]
    items: list[ItemOut]


class ResourceActionIn(Schema):
    reason: str = ""


class VersionOut(Schema):
    number: int
    created_at: dt.datetime
    tightened: bool
    change_summary: dict[str, Any]
    snapshot: dict[str, Any]


class ReviewOut(Schema):
    action: str
    from_status: str
    to_status: str
    reason: str
    actor: str | None
    created_at: dt.datetime


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _element_out(e: DataElement) -> dict[str, Any]:
    return {**{f.name: getattr(e, f.name) for f in DataElement._meta.concrete_fields
               if f.name not in ("created_at", "updated_at")},
            "correlated_with": sorted(x.code for x in e.correlated_with.all())}


def _visible_resource(request: HttpRequest, resource_id: uuid.UUID) -> Resource:
    resource = selectors.resources_visible_to(request.user).filter(pk=resource_id).first()
    if resource is None:
        raise NotFound("信息资源不存在 (resource not found)")
    return resource


def _department(dept_id: uuid.UUID | None, field: str) -> Department | None:
    if dept_id is None:
        return None
    dept = Department.objects.filter(pk=dept_id).first()
    if dept is None:
        raise ValidationFailed("部门不存在 (unknown department)", field=field)
    return dept


def _fields(payload: ResourceIn) -> services.ResourceFields:
    return services.ResourceFields(
        name=payload.name, classification_code=payload.classification_code, summary=payload.summary,
        source_department=_department(payload.source_department_id, "source_department_id"),
        formats=payload.formats, share_type=payload.share_type, share_condition=payload.share_condition,
        share_modes=payload.share_modes, no_share_basis=payload.no_share_basis, open_type=payload.open_type,
        open_condition=payload.open_condition, update_cycle=payload.update_cycle,
        related_codes=payload.related_codes, secrecy=payload.secrecy, tags=payload.tags,
    )


def _items(payload: ResourceIn) -> list[services.ItemSpec]:
    return [services.ItemSpec(**i.dict()) for i in payload.items]


# ---------------------------------------------------------------------------------------------
# Data elements and classification
# ---------------------------------------------------------------------------------------------


@router.get("/elements", response=Page[ElementOut])
def list_elements(request: HttpRequest, q: str = "", sensitivity: int | None = None, cursor: str | None = None,
                  limit: int = 100) -> dict[str, Any]:
    qs = selectors.data_elements(q=q, sensitivity=sensitivity)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["code"], scope="elements")
    return {"items": [_element_out(e) for e in rows], "next_cursor": nxt}


@router.post("/elements", response={201: ElementOut})
def create_element(request: HttpRequest, payload: ElementIn) -> Status[dict[str, Any]]:
    data = payload.dict()
    code, correlated = data.pop("code"), data.pop("correlated_with")
    element = services.create_data_element(actor=request.user, code=code, correlated_with=correlated, **data)
    return Status(201, _element_out(element))


@router.get("/elements/{code}", response=ElementOut)
def get_element(request: HttpRequest, code: str) -> dict[str, Any]:
    element = selectors.data_elements().filter(code=code).first()
    if element is None:
        raise NotFound("数据元不存在 (data element not found)")
    return _element_out(element)


@router.patch("/elements/{code}", response=ElementOut)
def update_element(request: HttpRequest, code: str, payload: ElementPatch) -> dict[str, Any]:
    element = selectors.data_elements().filter(code=code).first()
    if element is None:
        raise NotFound("数据元不存在 (data element not found)")
    changes = payload.dict(exclude_unset=True)
    correlated = changes.pop("correlated_with", None)
    element = services.update_data_element(actor=request.user, element=element, correlated_with=correlated,
                                           **changes)
    return _element_out(element)


@router.get("/classifications", response=list[ClassificationOut])
def list_classifications(request: HttpRequest, category: str | None = None) -> list[dict[str, Any]]:
    return [{"code": c.code, "name": c.name, "category": c.category, "level": c.level, "parent": c.parent_id}
            for c in selectors.classifications(category=category)]


# ---------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------


@router.get("/resources", response=Page[ResourceSummary])
def list_resources(request: HttpRequest, status: str | None = None, mine: bool = False,
                   provider_id: uuid.UUID | None = None, cursor: str | None = None,
                   limit: int = 50) -> dict[str, Any]:
    qs = selectors.resource_list(request.user, status=status, mine=mine, provider_id=provider_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["code"], scope=f"resources:{status}:{mine}")
    return {"items": [selectors.summary(r) for r in rows], "next_cursor": nxt}


@router.get("/review-queue", response=Page[ResourceSummary])
def review_queue(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    rows, nxt = paginate(selectors.review_queue(request.user), cursor=cursor, limit=limit,
                         ordering=["updated_at"], scope="review-queue")
    return {"items": [selectors.summary(r) for r in rows], "next_cursor": nxt}


@router.post("/resources", response={201: ResourceOut})
def create_resource(request: HttpRequest, payload: ResourceIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    if user.role not in (Role.PROVIDER, Role.DEPT_ADMIN):
        raise PermissionDenied("只有提供部门人员可以编目 (provider department staff only)")
    provider = _department(payload.provider_id, "provider_id") if payload.provider_id else user.department
    if provider is None:
        raise ValidationFailed("须指定提供部门 (provider_id required)", field="provider_id")
    resource = services.create_resource(actor=user, provider=provider, fields=_fields(payload),
                                        items=_items(payload))
    return Status(201, selectors.detail(user, resource))


@router.get("/resources/{resource_id}", response=ResourceOut)
def get_resource(request: HttpRequest, resource_id: uuid.UUID) -> dict[str, Any]:
    return selectors.detail(request.user, _visible_resource(request, resource_id))


@router.put("/resources/{resource_id}", response=ResourceOut)
def update_resource(request: HttpRequest, resource_id: uuid.UUID, payload: ResourceIn) -> dict[str, Any]:
    resource = _visible_resource(request, resource_id)
    resource = services.update_resource(actor=request.user, resource=resource, fields=_fields(payload),
                                        items=_items(payload))
    return selectors.detail(request.user, resource)


@router.post("/resources/{resource_id}/actions/{action}", response=ResourceOut)
def lifecycle_action(request: HttpRequest, resource_id: uuid.UUID, action: LifecycleAction,
                     payload: ResourceActionIn) -> dict[str, Any]:
    resource = _visible_resource(request, resource_id)
    resource = services.apply_action(actor=request.user, resource=resource, action=action,
                                     reason=payload.reason)
    return selectors.detail(request.user, resource)


@router.get("/resources/{resource_id}/versions", response=list[VersionOut])
def list_versions(request: HttpRequest, resource_id: uuid.UUID) -> list[Any]:
    return list(_visible_resource(request, resource_id).versions.order_by("number"))


@router.get("/resources/{resource_id}/versions/{number}", response=VersionOut)
def get_version(request: HttpRequest, resource_id: uuid.UUID, number: int) -> Any:
    version = _visible_resource(request, resource_id).versions.filter(number=number).first()
    if version is None:
        raise NotFound("版本不存在 (version not found)")
    return version


@router.get("/resources/{resource_id}/diff", response=dict[str, Any])
def diff_versions(request: HttpRequest, resource_id: uuid.UUID,
                  from_version: int = Query(..., alias="from", ge=1, le=MAX_VERSION),
                  to_version: int = Query(..., alias="to", ge=1, le=MAX_VERSION)) -> dict[str, Any]:
    resource = _visible_resource(request, resource_id)
    versions = {v.number: v for v in resource.versions.filter(number__in=[from_version, to_version])}
    for n, name in ((from_version, "from"), (to_version, "to")):
        if n not in versions:
            raise ValidationFailed(f"版本 {n} 不存在 (no such version)", field=name)
    return diff_snapshots(versions[from_version].snapshot, versions[to_version].snapshot)


@router.get("/resources/{resource_id}/reviews", response=list[ReviewOut])
def list_reviews(request: HttpRequest, resource_id: uuid.UUID) -> list[dict[str, Any]]:
    resource = _visible_resource(request, resource_id)
    return [{"action": r.action, "from_status": r.from_status, "to_status": r.to_status, "reason": r.reason,
             "actor": str(r.actor) if r.actor else None, "created_at": r.created_at}
            for r in resource.reviews.select_related("actor").order_by("created_at")]
