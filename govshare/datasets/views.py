"""Portal pages of the resource center's datasets (挂接与上传): the provider's mounted resources, mounting a
published resource, uploading data with its validation report, and the upload history.

Thin: reads through ``datasets.selectors`` and ``catalog.selectors``, writes through ``datasets.services``."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.catalog import selectors as catalog_selectors
from govshare.core.errors import DomainError
from govshare.datasets import selectors, services
from govshare.datasets.choices import UploadStatus
from govshare.datasets.forms import UploadForm
from govshare.datasets.models import Dataset, DatasetUpload
from govshare.portal import pages
from govshare.portal.pages import Column

PROVIDER_ROLES = (Role.PROVIDER, Role.DEPT_ADMIN)


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _dataset_of(r: Any) -> Dataset | None:
    try:
        return r.dataset
    except Dataset.DoesNotExist:
        return None


LIST_COLUMNS = [
    Column("code", "信息资源代码"), Column("name", "信息资源名称"),
    Column("mounted", "挂接", lambda r: "已挂接" if _dataset_of(r) else "未挂接"),
    Column("rows", "记录数", lambda r: d.row_count if (d := _dataset_of(r)) else ""),
    Column("loaded", "最近上传", lambda r: _when(d.last_loaded_at) if (d := _dataset_of(r)) else ""),
]


@pages.role_required(*PROVIDER_ROLES)
def dataset_list(request: HttpRequest) -> HttpResponse:
    """The department's published resources and whether each has data (挂接)."""
    qs = (catalog_selectors.resource_list(request.user, mine=True).filter(is_listed=True)
          .select_related("dataset").order_by("code"))
    page = pages.listing(request, qs, columns=LIST_COLUMNS, filename="datasets", cursor="code")
    if isinstance(page, HttpResponse):
        return page
    rows = [{"r": r, "dataset": _dataset_of(r)} for r in page.rows]
    return render(request, "datasets/list.html", {"page": page, "rows": rows})


@require_POST
@pages.role_required(*PROVIDER_ROLES)
def mount(request: HttpRequest, resource_id: uuid.UUID) -> HttpResponse:
    try:
        resource = selectors.visible_resource(request.user, resource_id)
    except DomainError:
        raise Http404(_("信息资源不存在")) from None
    try:
        dataset = services.mount_resource(actor=request.user, resource=resource)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:resource", pk=resource.pk)
    messages.success(request, _("已挂接，请上传数据"))
    return redirect("datasets:upload", pk=dataset.pk)


def _managed(user: Any, pk: uuid.UUID) -> Dataset:
    """A dataset the user's department provides; 404 for anything else (out of scope = missing)."""
    try:
        dataset = selectors.visible_dataset(user, pk)
    except DomainError:
        raise Http404(_("数据集不存在")) from None
    if not selectors.can_manage(user, dataset):
        raise Http404(_("数据集不存在"))
    return dataset


UPLOAD_COLUMNS = [
    Column("created_at", "上传时间", lambda u: _when(u.created_at)), Column("filename", "文件"),
    Column("status", "结果", lambda u: u.get_status_display()), Column("rows_total", "总行数"),
    Column("rows_valid", "合格行数"), Column("problem_count", "问题数"),
    Column("uploaded_by", "上传人", lambda u: str(u.uploaded_by or "")),
]


@require_http_methods(["GET", "POST"])
@pages.role_required(*PROVIDER_ROLES)
def upload(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    dataset = _managed(request.user, pk)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        try:
            result = services.upload(actor=request.user, dataset=dataset, filename=f.name or "", stream=f.file)
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            if result.status == UploadStatus.APPLIED:
                messages.success(request, _("上传成功，共 %(n)s 条记录已生效") % {"n": result.rows_total})
            else:
                messages.error(request, _("上传未通过校验，未写入任何数据"))
            return redirect("datasets:report", pk=dataset.pk, upload_id=result.pk)
    history = selectors.uploads_of(request.user, dataset).order_by("-created_at")[:20]
    return render(request, "datasets/upload.html", {
        "form": form, "dataset": dataset, "resource": dataset.resource, "history": list(history),
        "columns": [c.name for c in _columns(dataset)],
    }, status=422 if request.method == "POST" else 200)


def _columns(dataset: Dataset) -> list[Any]:
    from govshare.datasets.validation import columns_for

    try:
        return columns_for(dataset.resource)
    except DomainError:
        return []


PROBLEM_COLUMNS = [Column("row", "行号"), Column("column", "列"), Column("field", "字段"), Column("reason", "问题")]


@pages.role_required(*PROVIDER_ROLES)
def report(request: HttpRequest, pk: uuid.UUID, upload_id: uuid.UUID) -> HttpResponse:
    """The validation report of one upload: rows read, accepted and rejected, and the problems (row, column,
    reason — never the offending values); ``?format=csv|json`` downloads the problems."""
    dataset = _managed(request.user, pk)
    up: DatasetUpload | None = selectors.uploads_of(request.user, dataset).filter(pk=upload_id).first()
    if up is None:
        raise Http404(_("上传记录不存在"))
    page = pages.listing(request, list(up.problems or []), columns=PROBLEM_COLUMNS, filename="upload-problems")
    if isinstance(page, HttpResponse):
        return page
    accepted = up.rows_valid if up.status == UploadStatus.REJECTED else up.rows_total
    return render(request, "datasets/report.html", {
        "dataset": dataset, "resource": dataset.resource, "up": up, "page": page, "rows": page.cells(),
        "accepted": accepted, "rejected_rows": max(up.rows_total - up.rows_valid, 0)
        if up.status == UploadStatus.REJECTED else 0,
        "applied": up.status == UploadStatus.APPLIED,
    })
