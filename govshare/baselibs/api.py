"""Base libraries (基础库) under /api/v1/baselibs: definitions, installed libraries with their sources and last
fusion run, runs, discrepancies (values masked per data element), lineage of one record; install and
"run now" (which only marks the library due: the worker runs it)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from govshare.baselibs import selectors
from govshare.baselibs.definitions import LibraryDef, get_definition, shipped_definitions
from govshare.baselibs.masking import KeyMask, LibraryMasker, key_masks
from govshare.baselibs.models import BaseLibrary, Discrepancy, FusionRun, LibrarySource
from govshare.baselibs.services import install_library, request_run, require_installer
from govshare.core.api import Page, paginate
from govshare.core.errors import NotFound, ValidationFailed
from govshare.datasets.models import Dataset
from govshare.organizations.models import Department

router = Router(tags=["baselibs 基础库"])


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class BaseLibraryFieldOut(Schema):
    column: str
    name: str
    element: str
    authoritative: str
    cross_checks: list[str]
    multi: bool
    required: bool


class DefinitionOut(Schema):
    code: str
    name: str
    kind: str
    classification: str
    summary: str
    update_cycle: str
    key: str
    fields: list[BaseLibraryFieldOut]
    notes: str


class SourceOut(Schema):
    field: str
    role: str
    dataset_id: str
    resource_code: str
    resource_name: str
    department_id: str
    department_name: str
    column: str
    match_column: str
    consumed_seq: int


class FusionRunOut(Schema):
    id: str
    status: str
    trigger: str
    full: bool
    actor: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    batches: int
    keys_examined: int
    upserts: int
    deletes: int
    unchanged: int
    discrepancies_new: int
    discrepancies_resolved: int
    disputes_raised: int
    rejected: int
    problems: list[dict[str, Any]]
    error: str


class BaseLibraryOut(Schema):
    id: str
    code: str
    name: str
    node: str
    status: str
    resource_id: str
    resource_code: str
    dataset_id: str
    provider_name: str
    key: str
    row_count: int
    last_seq: int
    due: bool
    sources: list[SourceOut]
    last_run: FusionRunOut | None


class SourceRefIn(Schema):
    dataset_id: uuid.UUID
    column: str
    match_column: str | None = None


class FieldSourcesIn(Schema):
    authoritative: SourceRefIn
    cross_checks: list[SourceRefIn] = []


class InstallIn(Schema):
    code: str
    provider_department_id: uuid.UUID | None = None
    sources: dict[str, FieldSourcesIn]


class FusionRunIn(Schema):
    full: bool = False


class DiscrepancyOut(Schema):
    id: str
    key: str
    field: str
    field_name: str
    status: str
    resolution: str
    authoritative_department: str
    authoritative_resource: str
    authoritative_value: str | None
    cross_check_department: str
    cross_check_resource: str
    cross_check_value: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    resolved_at: dt.datetime | None
    times_opened: int
    dispute_id: str


class LineageFieldOut(Schema):
    dataset_id: str
    resource_code: str
    department_name: str
    seq: int


class LineageOut(Schema):
    key: str
    updated_at: dt.datetime
    fields: dict[str, LineageFieldOut]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _definition_out(d: LibraryDef) -> dict[str, Any]:
    return {**d.snapshot(), "fields": [{"column": f.column, "name": f.name, "element": f.element,
                                        "authoritative": f.authoritative, "cross_checks": list(f.cross_checks),
                                        "multi": f.multi, "required": f.required} for f in d.fields]}


def _source_out(b: LibrarySource) -> dict[str, Any]:
    r = b.dataset.resource
    return {"field": b.field, "role": b.role, "dataset_id": str(b.dataset_id), "resource_code": r.code,
            "resource_name": r.name, "department_id": str(r.provider_id), "department_name": r.provider.name,
            "column": b.column, "match_column": b.match_column, "consumed_seq": b.consumed_seq}


def _run_out(r: FusionRun, key_mask: KeyMask) -> dict[str, Any]:
    # The keys of refused records are shown masked, like every key outside the data plane.
    problems = [{**p, "key": key_mask(str(p.get("key", "")))} for p in r.problems]
    return {"id": str(r.pk), "status": r.status, "trigger": r.trigger, "full": r.full, "actor": r.actor_label,
            "started_at": r.started_at, "finished_at": r.finished_at, "batches": r.batches,
            "keys_examined": r.keys_examined, "upserts": r.upserts, "deletes": r.deletes, "unchanged": r.unchanged,
            "discrepancies_new": r.discrepancies_new, "discrepancies_resolved": r.discrepancies_resolved,
            "disputes_raised": r.disputes_raised, "rejected": r.rejected, "problems": problems, "error": r.error}


def _libraries_out(libraries: list[BaseLibrary]) -> list[dict[str, Any]]:
    sources = selectors.sources_of(libraries)
    runs = selectors.last_runs(libraries)
    masks = key_masks(libraries)
    out = []
    for lib in libraries:
        run = runs.get(lib.pk)
        out.append({
            "id": str(lib.pk), "code": lib.code, "name": lib.name, "node": lib.node.code, "status": lib.status,
            "resource_id": str(lib.resource_id), "resource_code": lib.resource.code, "dataset_id": str(lib.dataset_id),
            "provider_name": lib.resource.provider.name, "key": lib.definition.get("key", ""),
            "row_count": lib.dataset.row_count, "last_seq": lib.dataset.last_seq, "due": lib.due,
            "sources": [_source_out(b) for b in sources[lib.pk]],
            "last_run": _run_out(run, masks[lib.pk]) if run else None,
        })
    return out


def _discrepancy_out(d: Discrepancy, masker: LibraryMasker) -> dict[str, Any]:
    a, c = d.authoritative.dataset.resource, d.cross_check.dataset.resource
    return {"id": str(d.pk), "key": masker(masker.key, d.key) or "", "field": d.field,
            "field_name": masker.names.get(d.field, d.field), "status": d.status, "resolution": d.resolution,
            "authoritative_department": a.provider.name, "authoritative_resource": a.code,
            "authoritative_value": masker.token(d.field, d.authoritative_value),
            "cross_check_department": c.provider.name, "cross_check_resource": c.code,
            "cross_check_value": masker.token(d.field, d.cross_check_value), "first_seen": d.first_seen,
            "last_seen": d.last_seen, "resolved_at": d.resolved_at, "times_opened": d.times_opened,
            "dispute_id": d.dispute_id}


# ---------------------------------------------------------------------------------------------
# Endpoints (literal paths before /{library_id})
# ---------------------------------------------------------------------------------------------


@router.get("/definitions", response=list[DefinitionOut], summary="Base-library definitions shipped as data")
def list_definitions(request: HttpRequest) -> list[dict[str, Any]]:
    return [_definition_out(d) for d in shipped_definitions().values()]


@router.get("/definitions/{code}", response=DefinitionOut)
def get_definition_view(request: HttpRequest, code: str) -> dict[str, Any]:
    d = get_definition(code)
    if d is None:
        raise NotFound("基础库定义不存在 (no such definition)")
    return _definition_out(d)


@router.get("", response=Page[BaseLibraryOut], summary="Installed base libraries the caller can see")
def list_libraries(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    rows, nxt = paginate(selectors.libraries_visible_to(request.user), cursor=cursor, limit=limit,
                         ordering=["code"], scope="baselibs")
    return {"items": _libraries_out(rows), "next_cursor": nxt}


def _dataset_of(user: Any, where: str, ref: SourceRefIn) -> tuple[Dataset, str, str | None]:
    dataset = (Dataset.objects.filter(pk=ref.dataset_id, node_id=user.node_id)
               .select_related("resource", "resource__provider", "resource__published_version").first())
    if dataset is None:
        raise ValidationFailed(f"{where}: 本节点没有该数据集 (no such dataset on your node)", field=where)
    return dataset, ref.column, ref.match_column


@router.post("/install", response={201: BaseLibraryOut}, summary="安装基础库 (the node's data office)")
def install(request: HttpRequest, payload: InstallIn) -> Status[dict[str, Any]]:
    user: Any = request.user
    node = user.node
    require_installer(user, node)
    dept_id = payload.provider_department_id or user.department_id
    dept = Department.objects.filter(pk=dept_id, node=node).first() if dept_id else None
    if dept is None:
        raise ValidationFailed("提供部门须是本节点的部门 (the providing department must be of your node)",
                               field="provider_department_id")
    sources: dict[str, Any] = {}
    for name, spec in payload.sources.items():
        sources[name] = {
            "authoritative": _dataset_of(user, f"sources.{name}.authoritative", spec.authoritative),
            "cross_checks": [_dataset_of(user, f"sources.{name}.cross_checks[{n}]", c)
                             for n, c in enumerate(spec.cross_checks)],
        }
    library = install_library(actor=user, node=node, code=payload.code, sources=sources,
                              provider_department=dept)
    return Status(201, _libraries_out([selectors.visible_library(user, library.pk)])[0])


@router.get("/{library_id}", response=BaseLibraryOut)
def get_library(request: HttpRequest, library_id: uuid.UUID) -> dict[str, Any]:
    return _libraries_out([selectors.visible_library(request.user, library_id)])[0]


@router.post("/{library_id}/run", response={202: BaseLibraryOut}, summary="立即融合: mark the library due")
def run_now(request: HttpRequest, library_id: uuid.UUID, payload: FusionRunIn) -> Status[dict[str, Any]]:
    library = selectors.visible_library(request.user, library_id)
    request_run(actor=request.user, library=library, full=payload.full)
    return Status(202, _libraries_out([selectors.visible_library(request.user, library_id)])[0])


@router.get("/{library_id}/runs", response=Page[FusionRunOut])
def list_runs(request: HttpRequest, library_id: uuid.UUID, cursor: str | None = None,
              limit: int = 50) -> dict[str, Any]:
    library = selectors.visible_library(request.user, library_id)
    rows, nxt = paginate(selectors.runs_of(request.user, library), cursor=cursor, limit=limit,
                         ordering=["-started_at"], scope=f"baselib-runs:{library.pk}")
    key_mask = key_masks([library])[library.pk]
    return {"items": [_run_out(r, key_mask) for r in rows], "next_cursor": nxt}


@router.get("/{library_id}/discrepancies", response=Page[DiscrepancyOut],
            summary="校核差异 (values masked per data element)")
def list_discrepancies(request: HttpRequest, library_id: uuid.UUID, status: str | None = None,
                       field: str | None = None, key: str | None = None, cursor: str | None = None,
                       limit: int = 50) -> dict[str, Any]:
    library = selectors.visible_library(request.user, library_id)
    qs = selectors.discrepancies_of(request.user, library, status=status, field=field, key=key)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-last_seen"],
                         scope=f"baselib-discrepancies:{library.pk}:{status}:{field}:{key}")
    masker = LibraryMasker(library)
    return {"items": [_discrepancy_out(d, masker) for d in rows], "next_cursor": nxt}


@router.get("/{library_id}/lineage/{key}", response=LineageOut,
            summary="血缘: where each value of one record came from")
def get_lineage(request: HttpRequest, library_id: uuid.UUID, key: str) -> dict[str, Any]:
    library = selectors.visible_library(request.user, library_id)
    lineage = selectors.lineage_of(request.user, library, key)
    sources = lineage.sources
    ds_ids = [s[0] for s in sources]
    info = {str(pk): (code, dept) for pk, code, dept in Dataset.objects.filter(pk__in=ds_ids).values_list(
        "pk", "resource__code", "resource__provider__name")}
    fields = {}
    for column, idx in lineage.fields.items():
        ds, seq = sources[idx]
        code, dept = info.get(ds, ("", ""))
        fields[column] = {"dataset_id": ds, "resource_code": code, "department_name": dept, "seq": seq}
    return {"key": lineage.key, "updated_at": lineage.updated_at, "fields": fields}
