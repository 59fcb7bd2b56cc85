"""Portal pages of the catalog (目录系统): search with facets, the resource page, the provider's editor and
lifecycle buttons, the data office's review queue, the data-element browser, import and export.

Thin: reads through ``selectors`` / ``search`` / ``selectors_pages`` (the API's permission checks), writes
through ``services`` and the importer; a :class:`DomainError` is shown beside the field it names."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.catalog import selectors, selectors_pages, services
from govshare.catalog.choices import (
    Category,
    DataType,
    LifecycleAction,
    OpenType,
    ResourceFormat,
    ResourceStatus,
    Sensitivity,
    ShareMode,
    ShareType,
    UpdateCycle,
)
from govshare.catalog.exporter import csv_zip, export_catalog
from govshare.catalog.forms import (
    ElementSearchForm,
    ImportForm,
    ItemForm,
    ItemFormSet,
    ReasonForm,
    ResourceForm,
    element_choices,
)
from govshare.catalog.importer import ImportRejected, ImportSummary, import_catalog
from govshare.catalog.importer.importer import IMPORT_ROLES
from govshare.catalog.models import Resource
from govshare.catalog.search import SORTS, displayed_fields, export_resources, search_resources
from govshare.catalog.search.engine import FACETS
from govshare.core.errors import DomainError, ValidationFailed
from govshare.core.masking import MASK_KINDS
from govshare.portal import nav, pages
from govshare.portal.pages import Column

PROVIDER_ROLES = (Role.PROVIDER, Role.DEPT_ADMIN)
SEARCH_PAGE_SIZE = 20
REPORT_SESSION_KEY = "catalog_import_report"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return "" if value is None else str(value)


def _visible(user: Any, pk: uuid.UUID) -> Resource:
    """The resource if the user may see it; 404 exactly like a missing one otherwise."""
    resource = selectors.resources_visible_to(user).filter(pk=pk).first()
    if resource is None:
        raise Http404(_("信息资源不存在"))
    return resource


# ---------------------------------------------------------------------------------------------
# Search (目录检索)
# ---------------------------------------------------------------------------------------------


def _row(user: Any, r: Resource) -> dict[str, Any]:
    """One result row as shown and exported (a revision in progress shows its published version)."""
    shown = displayed_fields(user, r)
    formats = dict(ResourceFormat.choices)
    return {
        "id": r.pk, "code": r.code, "name": shown["name"], "summary": shown["summary"],
        "provider": r.provider.name, "classification": r.classification_id,
        "category": _label(Category, shown["category"]), "share_type": _label(ShareType, shown["share_type"]),
        "open_type": _label(OpenType, shown["open_type"]), "update_cycle": _label(UpdateCycle, shown["update_cycle"]),
        "sensitivity": _label(Sensitivity, shown["sensitivity"]),
        "formats": "、".join(str(formats.get(f, f)) for f in shown["formats"] or []),
        "published_on": r.published_on, "status": _label(ResourceStatus, shown["status"]),
    }


SEARCH_COLUMNS = [
    Column("code", "信息资源代码"), Column("name", "信息资源名称"), Column("summary", "摘要"),
    Column("provider", "提供部门"), Column("category", "分类"), Column("classification", "分类代码"),
    Column("share_type", "共享类型"), Column("open_type", "开放属性"), Column("update_cycle", "更新周期"),
    Column("sensitivity", "敏感级别"), Column("formats", "格式"), Column("published_on", "发布日期"),
    Column("status", "状态"),
]


def _param(key: str) -> str:
    """The query parameter of a facet on the page: ``format`` is taken by the exports (``?format=csv``)."""
    return "formats" if key == "format" else key


def _toggled(params: QueryDict, key: str, value: str) -> str:
    """The query string with ``value`` of facet ``key`` switched on or off (and the cursor dropped)."""
    q = params.copy()
    q.pop("cursor", None)
    q.pop("format", None)
    values = q.getlist(key)
    q.setlist(key, [v for v in values if v != value] if value in values else [*values, value])
    return q.urlencode()


@pages.role_required()
def search(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    params = request.GET
    filters = {key: params.getlist(_param(key)) for key in FACETS if params.getlist(_param(key))}
    q = params.get("q", "")[:200]
    sort = params.get("sort", "")
    include_drafts = params.get("include_drafts") == "1"
    fmt = params.get("format", "")
    error = ""
    try:
        if fmt in ("csv", "json"):
            rows, _truncated = export_resources(user=user, q=q, filters=filters, sort=sort,
                                                include_drafts=include_drafts)
            out = pages.listing(request, [_row(user, r) for r in rows], columns=SEARCH_COLUMNS,
                                filename="catalog-search")
            assert isinstance(out, HttpResponse)
            return out
        result = search_resources(user=user, q=q, filters=filters, sort=sort, cursor=params.get("cursor") or None,
                                  limit=SEARCH_PAGE_SIZE, include_drafts=include_drafts)
    except DomainError as exc:
        error = exc.message
        result = None
    facets = []
    if result is not None:
        for key, facet in result.facets.items():
            facets.append({"key": key, "label": facet.label, "values": [
                {"label": v.label, "count": v.count, "selected": v.selected,
                 "query": _toggled(params, _param(key), v.value)} for v in facet.values]})
    next_query = ""
    if result is not None and result.next_cursor:
        nq = params.copy()
        nq["cursor"] = result.next_cursor
        next_query = nq.urlencode()
    export_q = params.copy()
    export_q.pop("cursor", None)
    return render(request, "catalog/search.html", {
        "q": q, "sort": result.sort if result else sort, "sorts": SORTS, "include_drafts": include_drafts,
        "may_include_drafts": getattr(user, "role", None) != Role.CONSUMER,
        "error": error, "facets": facets, "total": result.total if result else 0,
        "rows": [_row(user, r) for r in result.items] if result else [],
        "next_query": next_query, "export_query": export_q.urlencode(),
        "filters": [(_param(k), v) for k, vs in filters.items() for v in vs],
    })


# ---------------------------------------------------------------------------------------------
# The resource page
# ---------------------------------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


DIFF_LABELS = {
    "name": "名称", "code": "信息资源代码", "category": "分类", "summary": "摘要", "formats": "格式",
    "share_type": "共享类型", "share_condition": "共享条件", "share_modes": "共享方式",
    "no_share_basis": "不予共享依据", "open_type": "开放属性", "open_condition": "开放条件",
    "update_cycle": "更新周期", "related_codes": "关联资源代码", "secrecy": "涉密属性", "sensitivity": "敏感级别",
    "tags": "标签", "classification_code": "分类代码", "provider": "提供部门", "source_department": "数源部门",
    "column_name": "英文列名", "data_type": "数据类型", "length": "长度", "required": "必填", "is_key": "主键",
    "element_code": "数据元",
}
_DIFF_CHOICES: dict[str, Any] = {
    "share_type": ShareType, "open_type": OpenType, "update_cycle": UpdateCycle, "sensitivity": Sensitivity,
    "category": Category, "data_type": DataType,
}


def _diff_value(key: str, value: Any) -> str:
    """A snapshot value as the page shows it: vocabulary labels, lists joined, departments by name."""
    if value is None or value == "":
        return "—"
    if key in _DIFF_CHOICES:
        return _label(_DIFF_CHOICES[key], value)
    if key == "share_modes":
        return "、".join(_label(ShareMode, v) for v in value) or "—"
    if key == "formats":
        return "、".join(_label(ResourceFormat, v) for v in value) or "—"
    if isinstance(value, dict):
        return str(value.get("name", value))
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _detail_context(request: HttpRequest, resource: Resource) -> dict[str, Any]:
    from govshare.datasets import selectors as dataset_selectors
    from govshare.datasets import services as dataset_services

    user: Any = request.user
    detail = selectors.detail(user, resource)
    items = selectors_pages.items_with_elements(detail["items"])
    versions = list(selectors_pages.versions_of(resource))
    diff, diff_error = None, ""
    a, b = _int(request.GET.get("from")), _int(request.GET.get("to"))
    if a is not None and b is not None:
        try:
            raw = selectors_pages.version_diff(resource, a, b)
        except DomainError as exc:
            diff_error = exc.message
        else:
            # Field changes as rows; the item list is shown by the item rows below (added/removed/changed).
            diff = {"fields": [(DIFF_LABELS.get(k, k), _diff_value(k, v[0]), _diff_value(k, v[1]))
                               for k, v in raw["fields"].items() if k != "items"],
                    "items_changed": [(col, DIFF_LABELS.get(k, k), _diff_value(k, v[0]), _diff_value(k, v[1]))
                                      for col, delta in raw["items_changed"].items() for k, v in delta.items()],
                    "items_added": raw["items_added"], "items_removed": raw["items_removed"]}
    provider_side = selectors_pages.is_provider_side(user, resource)
    dataset = dataset_selectors.datasets_visible_to(user).filter(resource=resource).first()
    sample_heads: list[dict[str, Any]] = []
    sample_cells: list[list[Any]] = []
    if (request.GET.get("sample") == "1" and provider_side and dataset is not None and dataset.generation
            and resource.published_version is not None):
        rows, _more = dataset_selectors.records_page(user, dataset, limit=selectors_pages.SAMPLE_ROWS)
        dataset_services.log_preview(actor=user, dataset=dataset, rows=len(rows))
        sample_heads, sample_cells = selectors_pages.masked_rows(resource, rows)
    listed_items = selectors_pages.published_items(resource)
    return {
        "resource": resource, "d": detail, "items": items,
        "share_modes": [_label(ShareMode, m) for m in detail["share_modes"]],
        "formats": [_label(ResourceFormat, f) for f in detail["formats"]],
        "labels": {"share_type": _label(ShareType, detail["share_type"]),
                   "open_type": _label(OpenType, detail["open_type"]),
                   "update_cycle": _label(UpdateCycle, detail["update_cycle"]),
                   "sensitivity": _label(Sensitivity, detail["sensitivity"]),
                   "category": _label(Category, detail["category"])},
        "versions": versions, "diff": diff, "diff_error": diff_error, "diff_from": a, "diff_to": b,
        "reviews": list(selectors_pages.reviews_of(resource)) if selectors.sees_working_copy(user, resource) else [],
        "actions": selectors_pages.actions_for(user, resource), "provider_side": provider_side,
        "dataset": dataset, "sample_heads": sample_heads, "sample_cells": sample_cells,
        "examples": (selectors_pages.call_examples(resource, listed_items, request.build_absolute_uri("/").rstrip("/"))
                     if resource.is_listed else None),
        "may_apply": resource.is_listed and resource.share_type != ShareType.NONE
        and "exchange:apply" in nav.allowed(user)  # the apply page's own role rule
        and user.department_id != resource.provider_id,
        "data_types": dict(DataType.choices), "mask_kinds": dict(MASK_KINDS),
        "high_level": int(detail["sensitivity"] or 1) >= Sensitivity.L3,
    }


@pages.role_required()
def resource_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    resource = _visible(request.user, pk)
    return render(request, "catalog/resource.html", _detail_context(request, resource))


@require_POST
@pages.role_required()
def resource_action(request: HttpRequest, pk: uuid.UUID, action: str) -> HttpResponse:
    resource = _visible(request.user, pk)
    if action not in LifecycleAction.values:
        raise Http404(_("未知操作"))
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.apply_action(actor=request.user, resource=resource, action=action,
                                  reason=form.cleaned_data["reason"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("已完成：%(action)s") % {"action": LifecycleAction(action).label})
            nxt = request.POST.get("next", "")
            if nxt.startswith("/") and not nxt.startswith("//"):
                return redirect(nxt)
            return redirect("catalog:resource", pk=resource.pk)
    context = _detail_context(request, _visible(request.user, pk))
    context.update({"failed_action": action, "action_form": form})
    return render(request, "catalog/resource.html", context, status=422)


# ---------------------------------------------------------------------------------------------
# The provider's editor (编目)
# ---------------------------------------------------------------------------------------------


def _item_specs(formset: Any) -> list[services.ItemSpec]:
    return [f.to_spec() for f in formset.forms if not f.is_blank()]


def _editor_error(form: ResourceForm, formset: Any, exc: DomainError) -> None:
    """A service error naming ``items[n].field`` goes beside that item's field; others beside the form's."""
    name = exc.details.get("field") if isinstance(exc.details, dict) else None
    if isinstance(name, str) and name.startswith("items["):
        try:
            index = int(name[6:name.index("]")])
            field = name.split(".", 1)[1] if "." in name else None
        except ValueError:
            index, field = -1, None
        filled = [f for f in formset.forms if not f.is_blank()]
        if 0 <= index < len(filled):
            target = filled[index]
            target.add_error(field if field in target.fields else None, exc.message)
            return
        form.add_error(None, exc.message)
        return
    if name == "classification_code" or name in form.fields:
        form.add_error(name, exc.message)
    else:
        pages.form_error(form, exc)


@require_http_methods(["GET", "POST"])
@pages.role_required(*PROVIDER_ROLES)
def resource_create(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    choices = element_choices()
    form = ResourceForm(request.POST or None, user=user)
    formset = ItemFormSet(request.POST or None, prefix="items", form_kwargs={"element_choices": choices})
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        if user.department is None:
            form.add_error(None, _("账号未关联部门，不能编目"))
        else:
            try:
                resource = services.create_resource(actor=user, provider=user.department, fields=form.to_fields(),
                                                    items=_item_specs(formset))
            except DomainError as exc:
                _editor_error(form, formset, exc)
            else:
                messages.success(request, _("已保存草稿 %(code)s") % {"code": resource.code})
                return redirect("catalog:resource", pk=resource.pk)
    return render(request, "catalog/edit.html", {"form": form, "formset": formset, "resource": None},
                  status=422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@pages.role_required(*PROVIDER_ROLES)
def resource_edit(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    user: Any = request.user
    resource = _visible(user, pk)
    if not selectors_pages.is_provider_side(user, resource):
        raise Http404(_("信息资源不存在"))
    if resource.status != ResourceStatus.DRAFT:
        messages.error(request, _("只有草稿可以编辑；已发布的资源请先“修订”。"))
        return redirect("catalog:resource", pk=resource.pk)
    choices = element_choices()
    if request.method == "POST":
        form = ResourceForm(request.POST, user=user)
        formset = ItemFormSet(request.POST, prefix="items", form_kwargs={"element_choices": choices})
        if form.is_valid() and formset.is_valid():
            try:
                services.update_resource(actor=user, resource=resource, fields=form.to_fields(),
                                         items=_item_specs(formset))
            except DomainError as exc:
                _editor_error(form, formset, exc)
            else:
                messages.success(request, _("已保存"))
                return redirect("catalog:resource", pk=resource.pk)
    else:
        detail = selectors.detail(user, resource)
        form = ResourceForm(initial=ResourceForm.initial_from(detail, resource.source_department_id), user=user)
        formset = ItemFormSet(prefix="items", form_kwargs={"element_choices": choices},
                              initial=[ItemForm.initial_from(i) for i in detail["items"]])
    return render(request, "catalog/edit.html", {"form": form, "formset": formset, "resource": resource},
                  status=422 if request.method == "POST" else 200)


def _resource_columns() -> list[Column]:
    return [
        Column("code", "信息资源代码"), Column("name", "信息资源名称"), Column("provider.name", "提供部门"),
        Column("status", "状态", lambda r: r.get_status_display()),
        Column("share_type", "共享类型", lambda r: r.get_share_type_display()),
        Column("sensitivity", "敏感级别", lambda r: r.get_sensitivity_display()),
        Column("version", "已发布版本", lambda r: r.published_version.number if r.published_version else ""),
        Column("updated_at", "更新时间", lambda r: timezone.localtime(r.updated_at).strftime("%Y-%m-%d %H:%M")),
    ]


@pages.role_required(*PROVIDER_ROLES)
def my_resources(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    try:
        qs = selectors.resource_list(request.user, mine=True, status=status or None)
    except ValidationFailed:
        qs, status = selectors.resource_list(request.user, mine=True), ""
    page = pages.listing(request, qs.order_by("code"), columns=_resource_columns(), filename="my-resources",
                         cursor="code")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "catalog/mine.html", {"page": page, "status": status,
                                                 "statuses": ResourceStatus.choices})


# ---------------------------------------------------------------------------------------------
# The data office's review queue (目录审核)
# ---------------------------------------------------------------------------------------------


@pages.role_required(Role.DATA_OFFICE)
def review_queue(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    qs = selectors.review_queue(user).order_by("code")
    page = pages.listing(request, qs, columns=_resource_columns(), filename="review-queue", cursor="code")
    if isinstance(page, HttpResponse):
        return page
    rows = [{"r": r, "actions": selectors_pages.actions_for(user, r)} for r in page.rows]
    return render(request, "catalog/review.html", {"page": page, "rows": rows})


# ---------------------------------------------------------------------------------------------
# Data elements (数据元)
# ---------------------------------------------------------------------------------------------

ELEMENT_COLUMNS = [
    Column("code", "数据元编码"), Column("name", "名称"), Column("column_name", "英文列名"),
    Column("data_type", "数据类型", lambda e: e.get_data_type_display()), Column("length", "长度"),
    Column("validator", "校验规则", lambda e: e.get_validator_display() if e.validator else ""),
    Column("sensitivity", "敏感级别", lambda e: e.get_sensitivity_display()),
    Column("mask_kind", "脱敏方式", lambda e: MASK_KINDS.get(e.mask_kind, e.mask_kind)),
    Column("is_personal", "个人信息", lambda e: "是" if e.is_personal else "否"),
    Column("correlated_with", "关联数据元（可还原）",
           lambda e: "、".join(sorted(x.name for x in e.correlated_with.all()))),
    Column("description", "说明"),
]


@pages.role_required()
def elements(request: HttpRequest) -> HttpResponse:
    form = ElementSearchForm(request.GET or None)
    q, level = "", None
    if form.is_valid():
        q, level = form.cleaned_data["q"] or "", form.cleaned_data["sensitivity"]
    page = pages.listing(request, selectors.data_elements(q=q, sensitivity=level).order_by("code"),
                         columns=ELEMENT_COLUMNS, filename="data-elements", cursor="code")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "catalog/elements.html", {"form": form, "page": page, "rows": page.cells()})


# ---------------------------------------------------------------------------------------------
# Import and export (目录导入导出)
# ---------------------------------------------------------------------------------------------

REPORT_COLUMNS = [Column("sheet", "工作表"), Column("row", "行号"), Column("field", "字段"),
                  Column("reason", "问题"), Column("value", "原值")]


@require_http_methods(["GET", "POST"])
@pages.role_required(*IMPORT_ROLES)
def import_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = ImportForm(request.POST or None, request.FILES or None)
    summary: ImportSummary | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        upload, items = d["file"], d["items_file"]
        try:
            summary = import_catalog(
                actor=user, node=user.node, path_or_stream=upload.read(), filename=upload.name or "upload",
                items_stream=items.read() if items is not None else None,
                create_departments=d["create_departments"], partial=d["partial"],
                classification_code=d["classification"] or None)
        except ImportRejected as exc:
            summary = exc.summary
            form.add_error(None, exc.message)
        except DomainError as exc:
            pages.form_error(form, exc)
        if summary is not None:
            request.session[REPORT_SESSION_KEY] = {
                "filename": summary.filename,
                "rows": [dataclasses.asdict(p) for p in summary.rejected],
            }
    return render(request, "catalog/import.html", {
        "form": form, "summary": summary,
        "rejected": summary.rejected if summary is not None else [],
    }, status=422 if request.method == "POST" and (summary is None or not summary.committed) else 200)


@pages.role_required(*IMPORT_ROLES)
def import_report(request: HttpRequest) -> HttpResponse:
    """The rejected rows of the user's last import, as a page and as CSV / JSON."""
    report = request.session.get(REPORT_SESSION_KEY) or {"filename": "", "rows": []}
    page = pages.listing(request, report["rows"], columns=REPORT_COLUMNS, filename="import-errors")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "catalog/import_report.html", {"page": page, "rows": page.cells(),
                                                          "filename": report["filename"]})


EXPORTS = {"xlsx": ("xlsx", XLSX_TYPE), "csv": ("csv", "text/csv; charset=utf-8"),
           "items": ("csv", "text/csv; charset=utf-8"), "zip": ("zip", "application/zip")}


@pages.role_required()
def export_page(request: HttpRequest) -> HttpResponse:
    fmt = request.GET.get("fmt", "")
    if fmt not in EXPORTS:
        return render(request, "catalog/export.html", {})
    stem = f"信息资源目录-{timezone.localdate():%Y%m%d}"
    if fmt == "xlsx":
        data = export_catalog(user=request.user, fmt="xlsx")
        assert isinstance(data, bytes)
        body, name = data, f"{stem}.xlsx"
    else:
        pair = export_catalog(user=request.user, fmt="csv")
        assert isinstance(pair, tuple)
        resources_csv, items_csv = pair
        body, name = {"csv": (resources_csv, f"{stem}.csv"), "items": (items_csv, f"{stem}_items.csv"),
                      "zip": (csv_zip(resources_csv, items_csv, stem), f"{stem}.zip")}[fmt]
    response = HttpResponse(body, content_type=EXPORTS[fmt][1])
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["Cache-Control"] = "no-store"
    return response
