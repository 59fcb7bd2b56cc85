"""The home page (共享网站: the sharing statistics), the per-department drill-down and the department table
with its CSV/JSON exports. Thin: figures come from ``stats.selectors`` (the same answer as the stats API),
charts from ``stats.charts`` (inline SVG, no JavaScript)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from govshare.core.errors import NotFound
from govshare.portal import pages
from govshare.stats import selectors
from govshare.stats.charts import Bar, Series, bar_chart, line_chart

PERIODS = (7, 30, 90)
CHART_ROWS = 15


def _days(request: HttpRequest) -> int | None:
    raw = request.GET.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in PERIODS else None


def _dept_url(department_id: str) -> str:
    return reverse("stats:department", args=[department_id])


def _daily_charts(daily: list[dict[str, Any]], *, detailed: bool) -> dict[str, Any]:
    days = [d["day"] for d in daily]
    apps = line_chart(days, [Series(_("收到申请"), [d["applications_received"] for d in daily]),
                             Series(_("同意授权"), [d["approved"] for d in daily])],
                      title=_("每日共享申请"))
    if detailed:
        call_series = [Series(_("查询及下载"), [d["calls_query"] for d in daily]),
                       Series(_("核验"), [d["calls_verify"] for d in daily])]
    else:
        call_series = [Series(_("接口调用"), [d["calls_total"] for d in daily])]
    return {"applications": apps, "calls": line_chart(days, call_series, title=_("每日接口调用次数"))}


def home(request: HttpRequest) -> HttpResponse:
    data = selectors.summary(request.user, days=_days(request))
    signed_in = not data["public"]
    top = data["departments"][:CHART_ROWS]
    charts = {
        "resources": bar_chart([Bar(r["name"], r["resources"], _dept_url(r["department_id"]) if signed_in else "")
                                for r in top if r["resources"]], title=_("各部门已发布信息资源数")),
        **_daily_charts(data["daily"], detailed=signed_in),
    }
    if signed_in:
        busiest = sorted(data["departments"], key=lambda r: -r["calls_total"])[:CHART_ROWS]
        charts["calls_by_department"] = bar_chart(
            [Bar(r["name"], r["calls_total"], _dept_url(r["department_id"])) for r in busiest if r["calls_total"]],
            title=_("各部门资源被调用次数"))
    return render(request, "portal/home.html", {"stats": data, "charts": charts, "periods": PERIODS,
                                                "days": data["period"]["days"]})


@pages.role_required()
def department(request: HttpRequest, pk: str) -> HttpResponse:
    try:
        data = selectors.department_detail(request.user, pk, days=_days(request))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    charts = _daily_charts(data["daily"], detailed=True)
    charts["resources"] = bar_chart([Bar(r["name"], r["calls_total"]) for r in data["top_resources"]],
                                    title=_("资源被调用次数"))
    return render(request, "stats/department.html", {"stats": data, "charts": charts, "periods": PERIODS,
                                                     "days": data["period"]["days"]})


def _columns() -> list[pages.Column]:
    return [
        pages.Column("name", _("部门")),
        pages.Column("resources", _("已发布资源")),
        pages.Column("mounted", _("已挂接")),
        pages.Column("mounted_ratio", _("挂接率(%)")),
        pages.Column("late", _("更新不及时")),
        pages.Column("applications_received", _("收到申请")),
        pages.Column("applications_made", _("提出申请")),
        pages.Column("approved", _("同意")),
        pages.Column("refused", _("拒绝")),
        pages.Column("review_median", _("审核用时中位数(工作日)")),
        pages.Column("review_p90", _("审核用时90分位(工作日)")),
        pages.Column("calls_query", _("查询及下载调用")),
        pages.Column("calls_verify", _("核验调用")),
        pages.Column("calls_made", _("作为使用方调用")),
        pages.Column("disputes_open", _("未办结疑义")),
        pages.Column("disputes_overdue", _("超期疑义")),
    ]


@pages.role_required()
def departments(request: HttpRequest) -> HttpResponse:
    data = selectors.summary(request.user, days=_days(request))
    page = pages.listing(request, data["departments"], columns=_columns(),
                         filename=f"department-stats-{data['period']['end']:%Y%m%d}")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "stats/departments.html", {"stats": data, "page": page, "periods": PERIODS,
                                                      "days": data["period"]["days"]})
