"""Portal pages of the base libraries (基础库，一数一源、多元校核): the list of the libraries the user can see,
one library (fields with their authoritative source and cross-checks, last fusion run), its fusion runs and its
discrepancies (校核差异, values masked per data element). Read-only: reads through
:mod:`govshare.baselibs.selectors`, the same permission checks as the API; installing and "run now" stay in the
API (``POST /api/v1/baselibs/install``, ``POST /api/v1/baselibs/{id}/run``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from govshare.baselibs import selectors
from govshare.baselibs.choices import DiscrepancyStatus, SourceRole
from govshare.baselibs.masking import LibraryMasker, key_masks
from govshare.baselibs.models import BaseLibrary, LibrarySource
from govshare.core.errors import DomainError, NotFound, PermissionDenied
from govshare.portal import pages


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _library(user: Any, library_id: uuid.UUID) -> BaseLibrary:
    try:
        return selectors.visible_library(user, library_id)
    except NotFound:
        raise Http404 from None


def _allowed(check: Any) -> bool:
    try:
        check()
    except PermissionDenied:
        return False
    return True


def _next_query(request: HttpRequest, nxt: str | None) -> str:
    if not nxt:
        return ""
    query = request.GET.copy()
    query["after"] = nxt
    query.pop("format", None)
    return query.urlencode()


@pages.role_required()
@require_http_methods(["GET"])
def library_list(request: HttpRequest) -> HttpResponse:
    """基础库: every library whose catalog resource the user can see, with its last fusion run."""
    libraries = list(selectors.libraries_visible_to(request.user))
    runs = selectors.last_runs(libraries)
    rows = [{"lib": lib, "run": runs.get(lib.pk)} for lib in libraries]
    columns = [
        pages.Column("name", _("基础库"), lambda r: r["lib"].name),
        pages.Column("code", _("代码"), lambda r: r["lib"].code),
        pages.Column("node", _("节点"), lambda r: r["lib"].node.name),
        pages.Column("provider", _("提供部门"), lambda r: r["lib"].resource.provider.name),
        pages.Column("resource", _("信息资源代码"), lambda r: r["lib"].resource.code),
        pages.Column("rows", _("记录数"), lambda r: r["lib"].dataset.row_count),
        pages.Column("status", _("状态"), lambda r: r["lib"].get_status_display()),
        pages.Column("last_run", _("最近融合"),
                     lambda r: f"{r['run'].get_status_display()} {_local(r['run'].finished_at or r['run'].started_at)}"
                     if r["run"] else _("尚未融合")),
    ]
    listed = pages.listing(request, rows, columns=columns, filename="base-libraries")
    if isinstance(listed, HttpResponse):
        return listed
    links = [lib.pk for lib in (r["lib"] for r in listed.rows)]
    return render(request, "baselibs/list.html", {"page": listed, "rows": list(zip(links, listed.cells(),
                                                                                    strict=True))})


def _fields(library: BaseLibrary, sources: list[LibrarySource]) -> list[dict[str, Any]]:
    by_field: dict[str, dict[str, Any]] = {}
    for b in sources:
        slot = by_field.setdefault(b.field, {"authoritative": None, "cross_checks": []})
        if b.role == SourceRole.AUTHORITATIVE:
            slot["authoritative"] = b
        else:
            slot["cross_checks"].append(b)
    key = library.definition.get("key", "")
    return [{"column": f["column"], "name": f["name"], "element": f["element"], "is_key": f["column"] == key,
             "multi": f.get("multi", False), **by_field.get(f["column"], {"authoritative": None, "cross_checks": []})}
            for f in library.definition.get("fields", [])]


@pages.role_required()
@require_http_methods(["GET"])
def library_detail(request: HttpRequest, library_id: uuid.UUID) -> HttpResponse:
    user: Any = request.user
    library = _library(user, library_id)
    sources = selectors.sources_of([library])[library.pk]
    run = selectors.last_runs([library]).get(library.pk)
    key_mask = key_masks([library])[library.pk]
    problems = [{**p, "key": key_mask(str(p.get("key", "")))} for p in (run.problems if run else [])][:20]
    return render(request, "baselibs/detail.html", {
        "library": library, "fields": _fields(library, sources), "run": run, "problems": problems,
        "may_see_runs": _allowed(lambda: selectors.runs_of(user, library)),
        "may_see_discrepancies": _allowed(lambda: selectors.discrepancies_of(user, library)),
    })


def _run_columns() -> list[pages.Column]:
    return [
        pages.Column("started_at", _("开始时间"), lambda r: _local(r.started_at)),
        pages.Column("finished_at", _("结束时间"), lambda r: _local(r.finished_at)),
        pages.Column("status", _("状态"), lambda r: r.get_status_display()),
        pages.Column("trigger", _("触发方式"), lambda r: r.get_trigger_display()),
        pages.Column("full", _("全量"), lambda r: _("是") if r.full else _("否")),
        pages.Column("keys_examined", _("检查记录")),
        pages.Column("upserts", _("写入")),
        pages.Column("deletes", _("删除")),
        pages.Column("discrepancies_new", _("新增差异")),
        pages.Column("discrepancies_resolved", _("消除差异")),
        pages.Column("disputes_raised", _("发起疑义")),
        pages.Column("rejected", _("拒收记录")),
        pages.Column("error", _("错误")),
    ]


@pages.role_required()
@require_http_methods(["GET"])
def runs(request: HttpRequest, library_id: uuid.UUID) -> HttpResponse:
    """融合作业: the node's data office and the library's providing department (others 403, like the API)."""
    user: Any = request.user
    library = _library(user, library_id)
    try:
        qs: Any = selectors.runs_of(user, library)
    except PermissionDenied:
        return render(request, "portal/forbidden.html", status=403)
    columns = _run_columns()
    if request.GET.get("format") in ("csv", "json"):
        exported = pages.listing(request, qs.order_by("-started_at"), columns=columns,
                                 filename=f"fusion-runs-{library.code}")
        assert isinstance(exported, HttpResponse)
        return exported
    page = pages.keyset(request, qs, columns=columns, ordering=["-started_at"],
                        scope=f"portal-baselib-runs:{library.pk}")
    return render(request, "baselibs/runs.html", {"library": library, "page": page, "rows": page.cells(),
                                                  "next_query": _next_query(request, page.next_after)})


def _discrepancy_columns(masker: LibraryMasker) -> list[pages.Column]:
    def source(b: LibrarySource) -> str:
        r = b.dataset.resource
        return f"{r.provider.name} · {r.name}.{b.column}"

    return [
        pages.Column("key", _("记录主键（脱敏）"), lambda d: masker(masker.key, d.key) or ""),
        pages.Column("field", _("字段"), lambda d: masker.names.get(d.field, d.field)),
        pages.Column("authoritative", _("权威来源"), lambda d: source(d.authoritative)),
        pages.Column("authoritative_value", _("权威值（脱敏）"),
                     lambda d: masker.token(d.field, d.authoritative_value) if d.authoritative_value else _("（空）")),
        pages.Column("cross_check", _("校核来源"), lambda d: source(d.cross_check)),
        pages.Column("cross_check_value", _("校核值（脱敏）"), lambda d: masker.token(d.field, d.cross_check_value)),
        pages.Column("status", _("状态"), lambda d: d.get_status_display()),
        pages.Column("resolution", _("消除原因"), lambda d: d.get_resolution_display() if d.resolution else ""),
        pages.Column("last_seen", _("最近发现"), lambda d: _local(d.last_seen)),
        pages.Column("times_opened", _("出现次数")),
        pages.Column("dispute_id", _("疑义编号")),
    ]


@pages.role_required()
@require_http_methods(["GET"])
def discrepancies(request: HttpRequest, library_id: uuid.UUID) -> HttpResponse:
    """校核差异: the data office (all), an authoritative department (those against its data); masked values."""
    user: Any = request.user
    library = _library(user, library_id)
    status = request.GET.get("status") or None
    field = (request.GET.get("field") or "").strip()[:64] or None
    error = ""
    try:
        qs: Any = selectors.discrepancies_of(user, library, status=status, field=field)
    except PermissionDenied:
        return render(request, "portal/forbidden.html", status=403)
    except DomainError as exc:
        error = exc.message
        qs = selectors.discrepancies_of(user, library).none()
    masker = LibraryMasker(library)
    columns = _discrepancy_columns(masker)
    if request.GET.get("format") in ("csv", "json"):
        exported = pages.listing(request, qs.order_by("-last_seen"), columns=columns,
                                 filename=f"discrepancies-{library.code}")
        assert isinstance(exported, HttpResponse)
        return exported
    page = pages.keyset(request, qs, columns=columns, ordering=["-last_seen"],
                   scope=f"portal-baselib-discrepancies:{library.pk}:{status}:{field}")
    field_names = [(f["column"], f["name"]) for f in library.definition.get("fields", [])]
    return render(request, "baselibs/discrepancies.html", {
        "library": library, "page": page, "rows": page.cells(), "next_query": _next_query(request, page.next_after),
        "statuses": DiscrepancyStatus.choices, "status": status or "", "field": field or "",
        "field_names": field_names, "error": error})

