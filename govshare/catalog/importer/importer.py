"""Catalog import: the govshare 目录编制 workbook / CSV pair and foreign open-data catalogs.

Decisions (see also ``layout`` and ``mapping.json``):

- Every imported resource is a **draft** (草稿), whoever imports it: publication goes through the normal
  review (提交 → 审核). Drafts may be incomplete (no items, no summary); every draft rule of
  ``services.create_resource`` still applies, because each resource is created through it.
- Foreign records go to 3 99 001 其他部门信息 unless ``classification_code`` says otherwise; share type
  defaults to 有条件共享 with 接口 as the mode; such defaults are counted per field in the summary.
- Exact duplicates (same normalised name and provider) within the file are dropped; a resource that
  already exists on the node under the same provider and name is skipped (``already_present``), so
  running an import twice does not double the catalog.
- By default the batch is all-or-nothing: any rejected row rolls everything back and raises
  :class:`ImportRejected` carrying the full summary. ``partial=True`` keeps the good rows.
- One audit event ``catalog.imported`` per import, in the import's transaction; a rolled-back or
  refused import is audited as ``catalog.import_failed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from govshare.accounts.choices import Role
from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.catalog.importer import readers
from govshare.catalog.importer.departments import DepartmentProblem, DepartmentResolver
from govshare.catalog.importer.layout import ITEM_SHEET
from govshare.catalog.importer.mapping import fold, table
from govshare.catalog.importer.rows import (
    ITEM_HEADERS,
    Columns,
    ItemConverter,
    RowConverter,
    RowError,
    RowPlan,
    resolve_columns,
)
from govshare.catalog.importer.summary import (
    NOTE_DRAFTS,
    NOTE_NO_ITEMS,
    NOTE_PLACEHOLDER_USCC,
    ImportRejected,
    ImportSummary,
    Rejection,
    max_reported,
)
from govshare.catalog.models import Classification, DataElement, Resource
from govshare.catalog.services import create_resource, update_resource
from govshare.core.errors import DomainError, PermissionDenied, ValidationFailed
from govshare.organizations.models import Department, Node

DEFAULT_CLASSIFICATION = "399001"  # 3 99 001 其他部门信息
IMPORT_ROLES = (Role.DATA_OFFICE, Role.DEPT_ADMIN, Role.PROVIDER)
Progress = Callable[[int, int], None]


def _check_permission(actor: Any, node: Node, create_departments: bool) -> None:
    if actor is None:
        return  # the operator on the server (CLI)
    role = getattr(actor, "role", None)
    if role not in IMPORT_ROLES:
        raise PermissionDenied("只有数据主管部门、部门管理员和提供方可以导入目录 (import not allowed for this role)")
    if actor.node_id != node.pk:
        raise PermissionDenied("只能导入到本节点 (own node only)")
    if role != Role.DATA_OFFICE and actor.department_id is None:
        raise PermissionDenied("提供方账号未关联部门 (no department)")
    if create_departments and role != Role.DATA_OFFICE:
        raise PermissionDenied("只有数据主管部门可以在导入时新建部门 (only the data office may create departments)")


def _default_classification(code: str | None) -> str:
    value = fold(code or DEFAULT_CLASSIFICATION).upper()
    if not Classification.objects.filter(code=value).exists():
        raise ValidationFailed(f"未知的资源分类代码 {value}；请先载入分类表 (unknown classification)",
                               field="classification_code")
    return value


def _rejection(err: RowError) -> Rejection:
    return Rejection(sheet=err.sheet, row=err.row, field=err.field, reason=err.reason, value=err.value)


class _Import:
    """One run. Holds the caches; ``run`` does the writes inside the caller's transaction."""

    def __init__(self, *, actor: Any, node: Node, source: readers.Source, summary: ImportSummary,
                 create_departments: bool, classification: str, progress: Progress | None) -> None:
        self.actor = actor
        self.node = node
        self.source = source
        self.summary = summary
        self.progress = progress
        self.is_provider = getattr(actor, "role", None) in (Role.PROVIDER, Role.DEPT_ADMIN)
        own = Department.objects.get(pk=actor.department_id) if self.is_provider else None
        self.own_department = own
        self.columns = resolve_columns(source.resources.headers, table().fields)
        if "name" not in self.columns.sources:
            raise ValidationFailed(
                f"{source.resources.name} 缺少名称列（信息资源名称/标题/数据集名称/资源名称）；现有列："
                f"{'、'.join(source.resources.headers[:30]) or '无'} (missing name column)",
                field="信息资源名称", code="missing_column")
        self.converter = RowConverter(
            columns=self.columns, default_classification=classification,
            classifications=Classification.objects.values_list("code", flat=True),
            default_provider=own.name if own is not None else "")
        self.resolver = DepartmentResolver(node=node, actor=actor, create=create_departments)
        # Resources already on the node, by (provider, folded name): skipped, not duplicated.
        self.existing: dict[tuple[Any, str], str] = {
            (p, fold(n)): c for p, n, c in Resource.objects.filter(node=node).values_list("provider_id", "name", "code")
        }
        self.code_map: dict[str, str] = {}  # code in the file → code on this node
        self.rejected_codes: set[str] = set()
        self.item_columns: Columns | None = None
        self.records_creator = getattr(actor, "is_authenticated", False) and not self.is_provider
        self.late_fields: list[Resource] = []

    # -- reading -----------------------------------------------------------------------------------

    def plan(self) -> list[RowPlan]:
        s, t = self.summary, self.source.resources
        s.rows_read = len(t.rows)
        govshare = self.source.items is not None or {"code", "classification_code"} <= set(self.columns.sources)
        s.layout = "govshare" if govshare else "foreign"
        s.unmapped_fields = list(self.columns.unmapped)
        seen: dict[tuple[str, str], int] = {}
        plans: list[RowPlan] = []
        dropped_codes: set[str] = set()
        for row, values in t.rows:
            try:
                plan = self.converter.convert(t.name, row, values)
            except RowError as err:
                self._reject(err, resource_row=True)
                code = values.get(self.columns.label("code")) if "code" in self.columns.sources else None
                if code:
                    self.rejected_codes.add(str(code).strip())  # its items go with it, unreported
                continue
            key = (fold(plan.name), fold(plan.provider_name))
            if key in seen:
                s.duplicates_dropped += 1
                if len(s.duplicates) < max_reported():
                    s.duplicates.append({"row": row, "duplicate_of": seen[key]})
                if plan.code:
                    dropped_codes.add(plan.code)
                continue
            seen[key] = row
            plans.append(plan)
        self._attach_items(plans, dropped_codes)
        return plans

    def _attach_items(self, plans: list[RowPlan], dropped_codes: set[str]) -> None:
        items = self.source.items
        if items is None:
            return
        self.summary.items_read = len(items.rows)
        columns = self.item_columns = resolve_columns(items.headers, table().item_fields)
        if "name" not in columns.sources or "resource_code" not in columns.sources:
            raise ValidationFailed(f"{items.name} 缺少 信息资源代码 或 信息项名称 列 (missing item columns)",
                                   field="信息项名称", code="missing_column")
        elements = list(DataElement.objects.values_list("code", "name"))
        converter = ItemConverter(columns=columns, elements={fold(c): c for c, _ in elements},
                                  element_names={fold(n): c for c, n in elements})
        by_code = {p.code: p for p in plans if p.code}
        for row, values in items.rows:
            try:
                item = converter.convert(items.name, row, values)
                plan = by_code.get(item.resource_code)
                if plan is None:
                    if item.resource_code in dropped_codes or item.resource_code in self.rejected_codes:
                        continue  # belongs to a dropped duplicate or an already rejected resource
                    raise RowError(items.name, row, converter.label("resource_code"),
                                   f"信息资源表中没有代码 {item.resource_code} (no such resource row)",
                                   item.resource_code)
            except RowError as err:
                owner = by_code.get(str(values.get(converter.label("resource_code"), "")).strip())
                if owner is not None:
                    plans.remove(owner)
                    del by_code[owner.code]
                    self.rejected_codes.add(owner.code)
                    err.reason += f"（{owner.sheet} 第 {owner.row} 行因此未导入 (its resource row is rejected)）"
                self._reject(err, resource_row=owner is not None)
                continue
            plan.items.append((item.position, row, item.spec))
            plan.defaulted.update(item.defaulted)

    def _reject(self, err: RowError, *, resource_row: bool) -> None:
        if resource_row:
            self.summary.rejected_rows += 1
        else:
            self.summary.items_rejected += 1
        self.summary.reject(_rejection(err))

    # -- writing -----------------------------------------------------------------------------------

    def run(self, plans: list[RowPlan]) -> None:
        total = len(plans)
        file_codes = {p.code for p in plans if p.code}
        follow_up: list[tuple[Resource, RowPlan]] = []
        for done, plan in enumerate(plans, start=1):
            self.resolver.begin_row()
            try:
                with transaction.atomic():  # a savepoint: a rejected row leaves nothing behind
                    resource = self._create(plan)
            except RowError as err:
                self.resolver.rollback_row()
                self._reject(err, resource_row=True)
            else:
                if resource is not None and file_codes.intersection(plan.fields.related_codes):
                    follow_up.append((resource, plan))
            if self.progress is not None:
                self.progress(done, total)
        Resource.objects.bulk_update(self.late_fields, ["published_on", "created_by"], batch_size=500)
        self._remap_related(follow_up)

    def _department(self, plan: RowPlan, name: str, uscc: str, target: str) -> Department:
        try:
            return self.resolver.resolve(name, uscc)
        except DepartmentProblem as exc:
            raise RowError(plan.sheet, plan.row, self.columns.label(target), str(exc), name) from None
        except DomainError as exc:  # create_department refused (name or code taken)
            raise RowError(plan.sheet, plan.row, self.columns.label(target), exc.message, name) from None
        except IntegrityError:  # created concurrently by another import
            raise RowError(plan.sheet, plan.row, self.columns.label(target),
                           f"部门“{name}”正被同时创建，请重试 (department created concurrently: retry)", name) from None

    def _create(self, plan: RowPlan) -> Resource | None:
        provider = self._department(plan, plan.provider_name, plan.provider_uscc, "provider")
        if self.own_department is not None and provider.pk != self.own_department.pk:
            raise RowError(plan.sheet, plan.row, self.columns.label("provider"),
                           f"提供方只能导入本部门（{self.own_department.name}）的资源 "
                           f"(providers may import their own department's resources only)", plan.provider_name)
        if plan.source_department_name:
            plan.fields.source_department = self._department(
                plan, plan.source_department_name, "", "source_department")
        key = (provider.pk, fold(plan.name))
        if key in self.existing:
            self.summary.already_present += 1
            if plan.code:
                self.code_map[plan.code] = self.existing[key]
            return None
        specs = plan.item_specs()
        try:
            resource = create_resource(actor=self.actor if self.is_provider else None, provider=provider,
                                       fields=plan.fields, items=specs)
        except ValidationFailed as exc:
            raise self._service_error(plan, exc) from None
        except DomainError as exc:
            raise RowError(plan.sheet, plan.row, self.columns.label("name"), exc.message) from None
        # Two fields create_resource cannot set: ResourceFields has no 发布日期, and a data-office import
        # runs it as the system (it only accepts provider-side actors). Written in bulk after the rows.
        if plan.published_on is not None or self.records_creator:
            resource.published_on = plan.published_on
            if self.records_creator:
                resource.created_by = self.actor
            self.late_fields.append(resource)
        self.existing[key] = resource.code
        if plan.code:
            self.code_map[plan.code] = resource.code
        self.summary.imported += 1
        self.summary.items_imported += len(specs)
        self.summary.add_row_counts(plan.mapped, plan.defaulted)
        return resource

    def _service_error(self, plan: RowPlan, exc: ValidationFailed) -> RowError:
        """Name the file's row and column for an error raised by the catalog services."""
        where = exc.field or ""
        if where.startswith("items[") and plan.items:
            index = int(where[6:where.index("]")])
            rows = plan.item_rows()
            sub = where.split(".", 1)[1] if "." in where else "name"
            sheet = self.source.items.name if self.source.items is not None else plan.sheet
            row = rows[index] if index < len(rows) else plan.row
            label = self.item_columns.label(sub, ITEM_HEADERS) if self.item_columns is not None else sub
            note = f"（{plan.sheet} 第 {plan.row} 行未导入 (resource row not imported)）"
            return RowError(sheet, row, label, exc.message + note)
        label = ITEM_SHEET if where == "items" else self.columns.label(where) if where else ""
        return RowError(plan.sheet, plan.row, label, exc.message)

    def _remap_related(self, follow_up: list[tuple[Resource, RowPlan]]) -> None:
        """关联资源代码 naming rows of the same file now point at the codes this node assigned."""
        actor = self.actor if self.is_provider else None
        for resource, plan in follow_up:
            codes = [self.code_map.get(c, c) for c in plan.fields.related_codes]
            if codes != plan.fields.related_codes:
                plan.fields.related_codes = codes
                update_resource(actor=actor, resource=resource, fields=plan.fields)


def import_catalog(
    *,
    actor: Any,
    node: Node,
    path_or_stream: readers.Readable,
    filename: str,
    create_departments: bool = False,
    partial: bool = False,
    classification_code: str | None = None,
    progress: Progress | None = None,
    items_stream: readers.Readable | None = None,
) -> ImportSummary:
    """Import a catalog file onto ``node`` as drafts. ``actor`` None is the operator on the server.

    ``items_stream`` is the ``_items.csv`` companion of a CSV upload (a path import finds it next to the
    file). Raises ``ValidationFailed`` for unreadable input and :class:`ImportRejected` when an
    all-or-nothing import had rejected rows; in both cases nothing is written.
    """
    _check_permission(actor, node, create_departments)
    started = time.monotonic()
    summary = ImportSummary(filename=Path(filename).name, node=node.code,
                            mode="partial" if partial else "all_or_nothing")
    try:
        source = readers.read_source(path_or_stream, filename, items_stream)
        summary.format = source.format
        classification = _default_classification(classification_code)
        with transaction.atomic():
            job = _Import(actor=actor, node=node, source=source, summary=summary,
                          create_departments=create_departments, classification=classification,
                          progress=progress)
            plans = job.plan()
            job.run(plans)
            _finish(summary, job, started)
            if summary.rejected and not partial:
                raise ImportRejected(summary)
            summary.committed = True
            record_event(actor=actor, action="catalog.imported", target_type="node", target_id=node.code,
                         data=_audit_data(summary))
    except (ValidationFailed, PermissionDenied) as exc:
        summary.committed = False
        summary.seconds = round(time.monotonic() - started, 2)
        with transaction.atomic():
            record_event(actor=actor, action="catalog.import_failed", target_type="node", target_id=node.code,
                         data={**_audit_data(summary), "error": exc.message[:500]}, result=Result.FAILED)
        if isinstance(exc, ImportRejected):
            _rolled_back(summary)
            exc.details["summary"] = summary.to_dict()
        raise
    return summary


def _finish(summary: ImportSummary, job: _Import, started: float) -> None:
    placeholders = job.resolver.placeholders
    summary.departments_created = [
        {"name": d.name, "uscc": d.uscc, "placeholder_uscc": d.uscc in placeholders}
        for d in job.resolver.created
    ]
    summary.note(NOTE_DRAFTS)
    if summary.layout == "foreign" or job.source.items is None:
        summary.note(NOTE_NO_ITEMS)
    if placeholders:
        summary.note(NOTE_PLACEHOLDER_USCC)
    summary.seconds = round(time.monotonic() - started, 2)


def _rolled_back(summary: ImportSummary) -> None:
    """After an all-or-nothing rollback the counts say what would have been imported."""
    valid = summary.imported
    summary.imported = summary.items_imported = 0
    summary.departments_created = []
    summary.notes = [n for n in summary.notes if n != NOTE_PLACEHOLDER_USCC]
    summary.note(f"未写入任何数据；其余 {valid} 行无误，修正被拒绝的行后重新导入，或使用部分导入 (--partial) "
                 f"(nothing written: {valid} rows were fine; fix the rejected rows or import with --partial)")


def _audit_data(summary: ImportSummary) -> dict[str, Any]:
    return {
        "filename": summary.filename, "format": summary.format, "layout": summary.layout, "mode": summary.mode,
        "rows_read": summary.rows_read, "imported": summary.imported, "items_imported": summary.items_imported,
        "duplicates_dropped": summary.duplicates_dropped, "already_present": summary.already_present,
        "rejected_rows": summary.rejected_rows, "defaulted": summary.defaulted,
        "departments_created": [d["name"] for d in summary.departments_created],
    }
