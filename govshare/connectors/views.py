"""Portal pages of source connectors (前置库连接器): the providing department's connectors with their last pull
and last reconciliation report, create / edit (the password never echoed back; the allowlist error beside the
host field), a connector's runs and reports, and "run now" (it makes the run due: the worker runs it, never this
request), test, pause / resume, delete.

Reads through :mod:`.selectors` / :mod:`.selectors_pages`, writes through :mod:`.services`."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.connectors import selectors, selectors_pages, services
from govshare.connectors.choices import RunKind
from govshare.connectors.config import Config, pull_interval
from govshare.connectors.forms import ConnectorForm, initial_of
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.core.errors import DomainError, NotFound
from govshare.portal import pages
from govshare.portal.pages import Column


def _(text: str) -> str:
    """``gettext_lazy`` typed as ``str``: ``pages.Column.label`` is typed ``str``, but a label renders and exports
    as text and must be translated per request (drop this once Column.label accepts ``str | Promise``)."""
    return cast(str, gettext_lazy(text))


PROVIDER_SIDE = (Role.PROVIDER, Role.DEPT_ADMIN)


def _count(run: ConnectorRun, kind: str) -> Any:
    return ((run.report or {}).get(kind) or {}).get("count", "")


RUN_COLUMNS = [
    Column("id", _("编号")), Column("kind", _("类型"), lambda r: r.get_kind_display()),
    Column("status", _("状态"), lambda r: r.get_status_display()),
    Column("trigger", _("触发"), lambda r: r.get_trigger_display()), Column("started_at", _("开始时间")),
    Column("finished_at", _("结束时间")), Column("rows_read", _("读取行数")), Column("inserted", _("新增")),
    Column("updated", _("更新")), Column("deleted", _("删除")), Column("unchanged", _("未变")),
    Column("missing_on_platform", _("平台缺失"), lambda r: _count(r, "missing_on_platform")),
    Column("deleted_at_source", _("源端已删"), lambda r: _count(r, "deleted_at_source")),
    Column("drifted", _("值不一致"), lambda r: _count(r, "drifted")), Column("error", _("错误")),
]


def _visible(request: HttpRequest, connector_id: Any) -> SourceConnector:
    try:
        return selectors.visible_connector(request.user, connector_id)
    except NotFound:
        raise Http404 from None


@pages.role_required(*PROVIDER_SIDE)
def connector_list(request: HttpRequest) -> HttpResponse:
    rows = selectors_pages.connector_rows(request.user)
    columns = [
        Column("connector.name", _("名称")), Column("connector.dataset.resource.name", _("信息资源")),
        Column("connector.engine", _("数据库类型")), Column("connector.host", _("主机")),
        Column("connector.status", _("状态"), lambda r: r.connector.get_status_display()),
        Column("last_pull.started_at", _("最近拉取")),
        Column("last_pull.status", _("拉取结果"), lambda r: r.last_pull.get_status_display() if r.last_pull else ""),
        Column("last_reconcile.started_at", _("最近对账")),
        Column("inserted", _("对账新增"), lambda r: r.last_reconcile.inserted if r.last_reconcile else ""),
        Column("updated", _("对账更新"), lambda r: r.last_reconcile.updated if r.last_reconcile else ""),
        Column("deleted", _("对账删除"), lambda r: r.last_reconcile.deleted if r.last_reconcile else ""),
        Column("drifted", _("值不一致"), lambda r: r.differences["drifted"]),
        Column("connector.consecutive_failures", _("连续失败")), Column("connector.last_error", _("最近错误")),
    ]
    page = pages.listing(request, rows, columns=columns, filename="connectors")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "connectors/list.html", {"page": page})


@pages.role_required(*PROVIDER_SIDE)
@require_http_methods(["GET", "POST"])
def connector_create(request: HttpRequest) -> HttpResponse:
    datasets = list(selectors_pages.mountable_datasets(request.user))
    form = ConnectorForm(request.POST or None, datasets=datasets,
                         initial={"dataset_id": request.GET.get("dataset", ""), "verify": True})
    if request.method == "POST" and form.is_valid():
        dataset = next(d for d in datasets if str(d.pk) == form.cleaned_data["dataset_id"])
        try:
            connector = services.create_connector(actor=request.user, dataset=dataset,
                                                  config=Config(**form.config_values()),
                                                  verify=form.cleaned_data["verify"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("连接器已登记，首次拉取将在几秒内由后台任务开始"))
            return redirect("connectors:detail", connector_id=connector.pk)
    return render(request, "connectors/form.html", {"form": form, "title": _("登记前置库连接器"),
                                                    "no_datasets": not datasets})


@pages.role_required(*PROVIDER_SIDE)
@require_http_methods(["GET", "POST"])
def connector_edit(request: HttpRequest, connector_id: Any) -> HttpResponse:
    connector = _visible(request, connector_id)
    form = ConnectorForm(request.POST or None, connector=connector, initial=initial_of(connector))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_connector(actor=request.user, connector=connector, changes=form.config_values(),
                                      verify=form.cleaned_data["verify"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("连接器已修改"))
            return redirect("connectors:detail", connector_id=connector.pk)
    return render(request, "connectors/form.html", {"form": form, "connector": connector,
                                                    "title": _("修改连接器")})


@pages.role_required(*PROVIDER_SIDE)
def connector_detail(request: HttpRequest, connector_id: Any) -> HttpResponse:
    connector = _visible(request, connector_id)
    runs = selectors.runs_of(request.user, connector)
    if request.GET.get("format") in ("csv", "json"):
        # counts only: sample keys stay in the reports on the run pages
        return pages.listing(request, runs.order_by("-id"), columns=RUN_COLUMNS,  # type: ignore[return-value]
                             filename=f"connector-runs-{connector.pk}")
    after = request.GET.get("after", "")
    if after.isdigit():
        runs = runs.filter(pk__lt=int(after))
    got = list(runs.order_by("-id")[: pages.PAGE_SIZE + 1])
    page = pages.Page(got[: pages.PAGE_SIZE], str(got[pages.PAGE_SIZE - 1].pk) if len(got) > pages.PAGE_SIZE
                      else None, RUN_COLUMNS)
    row = selectors_pages.connector_rows(request.user, dataset_id=connector.dataset_id)
    current = next((r for r in row if r.connector.pk == connector.pk), None)
    return render(request, "connectors/detail.html", {
        "c": connector, "page": page, "last": current,
        "interval": pull_interval(connector, connector.dataset.resource.update_cycle),
    })


@pages.role_required(*PROVIDER_SIDE)
def run_detail(request: HttpRequest, connector_id: Any, run_id: int) -> HttpResponse:
    connector = _visible(request, connector_id)
    run = selectors_pages.run_of(request.user, connector, run_id)
    if run is None:
        raise Http404
    return render(request, "connectors/run.html", {"c": connector, "run": run,
                                                   "kinds": selectors_pages.DIFF_KINDS})


@pages.role_required(*PROVIDER_SIDE)
@require_POST
def connector_action(request: HttpRequest, connector_id: Any, action: str) -> HttpResponse:
    connector = _visible(request, connector_id)
    try:
        if action in ("run_pull", "run_reconcile"):
            kind = RunKind.PULL if action == "run_pull" else RunKind.RECONCILE
            services.request_run(actor=request.user, connector=connector, kind=kind)
            messages.success(request, _("已安排运行，后台任务将在几秒内开始；稍后刷新查看结果"))
        elif action in ("pause", "resume"):
            services.set_paused(actor=request.user, connector=connector, paused=action == "pause")
            messages.success(request, _("连接器已暂停") if action == "pause" else _("连接器已恢复，拉取即将开始"))
        elif action == "test":
            report = services.test_connection(actor=request.user, connector=connector)
            if report.ok:
                messages.success(request, _("连接成功：%(version)s，%(ms)s 毫秒；源列：%(cols)s") % {
                    "version": report.server_version, "ms": report.elapsed_ms, "cols": "、".join(report.columns)})
            else:
                messages.error(request, _("连接测试失败（%(field)s）：%(message)s") % {
                    "field": report.field or "host", "message": report.message})
        elif action == "delete":
            services.delete_connector(actor=request.user, connector=connector)
            messages.success(request, _("连接器已删除"))
            return redirect("connectors:list")
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("connectors:detail", connector_id=connector.pk)
