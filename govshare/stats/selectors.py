"""Reads of the sharing statistics, for the home page and the stats API alike (one answer, two renderings).

Only the rollup tables are read (a fixed handful of queries, whatever the size of the audit log or of the
domain tables). Anonymous visitors get the public figures (catalog size, 挂接率, application and call
volumes); signed-in users get every figure, per department and per region, and the department pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db.models import Max, Q, Sum
from django.utils import timezone

from govshare.core.calendar import SHANGHAI
from govshare.core.errors import NotFound
from govshare.organizations.choices import RegionLevel
from govshare.organizations.models import Department, Node, Region
from govshare.stats import figures
from govshare.stats.models import DepartmentDay, ResourceDay, RollupDay

STOCK = ("resources", "mounted", "scheduled", "late", "disputes_open", "disputes_overdue")
FLOWS = ("applications_received", "applications_made", "approved", "refused", "calls_query", "calls_verify",
         "calls_made", "disputes_raised")
# What anonymous visitors see.
PUBLIC_TOTALS = ("resources", "mounted", "mounted_ratio", "departments", "applications_received", "approved",
                 "calls_total")
PUBLIC_DEPARTMENT = ("department_id", "name", "resources", "mounted", "mounted_ratio")
PUBLIC_DAILY = ("day", "applications_received", "approved", "calls_total")
TOP_RESOURCES = 10
MAX_DAYS = 366


def period_days(requested: int | None = None) -> int:
    default = int(getattr(settings, "GOVSHARE", {}).get("STATS_PERIOD_DAYS", 30))
    return max(1, min(MAX_DAYS, requested or default))


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def _zero() -> dict[str, Any]:
    return {f: 0 for f in (*STOCK, *FLOWS)}


def _finish(row: dict[str, Any], hist: Mapping[str, int]) -> dict[str, Any]:
    """Derived figures of a row of sums: ratios, call total, review-time percentiles."""
    row["mounted_ratio"] = figures.ratio(row["mounted"], row["resources"])
    row["calls_total"] = row["calls_query"] + row["calls_verify"]
    row["decisions"] = row["approved"] + row["refused"]
    row["review_median"] = figures.median(hist)
    row["review_p90"] = figures.p90(hist)
    return row


def _public(row: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: row[k] for k in keys}


class Period:
    def __init__(self, days: int | None, today: dt.date | None) -> None:
        self.days = period_days(days)
        self.end = today or timezone.localdate(timezone=SHANGHAI)
        self.start = self.end - dt.timedelta(days=self.days - 1)

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days, "start": self.start, "end": self.end}


def _department_rows(period: Period, snapshot_day: dt.date | None,
                     dept_filter: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """Per department: the stock of the snapshot day plus the flows summed over the period; and the merged
    review-time histograms. Three queries."""
    rows: dict[str, dict[str, Any]] = {}
    if snapshot_day is not None:
        snap = (DepartmentDay.objects.filter(day=snapshot_day, **dept_filter)
                .values("department_id", "department__name", "node_id", "region_code", *STOCK))
        for r in snap:
            rows[str(r["department_id"])] = {
                **_zero(), "department_id": str(r["department_id"]), "name": r["department__name"],
                "node_id": str(r["node_id"]), "region_code": r["region_code"], **{f: r[f] for f in STOCK}}
    in_period = DepartmentDay.objects.filter(day__gte=period.start, day__lte=period.end, **dept_filter)
    sums = (in_period.values("department_id", "department__name", "node_id")
            .annotate(region=Max("region_code"), **{f"sum_{f}": Sum(f) for f in FLOWS}))
    for r in sums:
        key = str(r["department_id"])
        row = rows.setdefault(key, {**_zero(), "department_id": key, "name": r["department__name"],
                                    "node_id": str(r["node_id"]), "region_code": r["region"] or ""})
        row.update({f: int(r[f"sum_{f}"] or 0) for f in FLOWS})
    hists: dict[str, dict[str, int]] = {}
    decided = in_period.filter(Q(approved__gt=0) | Q(refused__gt=0))
    for dept_id, hist in decided.values_list("department_id", "review_days"):
        hists[str(dept_id)] = figures.merge([hists.get(str(dept_id), {}), hist or {}])
    for key, row in rows.items():
        _finish(row, hists.get(key, {}))
    return rows, hists


def _daily(period: Period, dept_filter: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per day of the period (days without a rollup show zeros)."""
    got = {r["day"]: r for r in DepartmentDay.objects.filter(day__gte=period.start, day__lte=period.end, **dept_filter)
           .values("day").annotate(**{f: Sum(f) for f in FLOWS}).order_by("day")}
    out = []
    for n in range(period.days):
        day = period.start + dt.timedelta(days=n)
        r = got.get(day, {})
        row: dict[str, Any] = {"day": day, **{f: int(r.get(f) or 0) for f in FLOWS}}
        row["calls_total"] = row["calls_query"] + row["calls_verify"]
        out.append(row)
    return out


def _top_resources(period: Period, dept_filter: dict[str, Any], limit: int = TOP_RESOURCES) -> list[dict[str, Any]]:
    rows = (ResourceDay.objects.filter(day__gte=period.start, day__lte=period.end, **dept_filter)
            .values("resource_id", "resource__code", "resource__name", "department_id", "department__name")
            .annotate(q=Sum("calls_query"), v=Sum("calls_verify")))
    out = [{"resource_id": str(r["resource_id"]), "code": r["resource__code"], "name": r["resource__name"],
            "department_id": str(r["department_id"]), "department_name": r["department__name"],
            "calls_query": int(r["q"] or 0), "calls_verify": int(r["v"] or 0),
            "calls_total": int(r["q"] or 0) + int(r["v"] or 0)} for r in rows]
    out.sort(key=lambda r: (-r["calls_total"], r["code"]))
    return out[:limit]


def _totals(rows: Iterable[dict[str, Any]], hists: Iterable[Mapping[str, int]]) -> dict[str, Any]:
    rows = list(rows)
    total = _zero()
    for r in rows:
        for f in (*STOCK, *FLOWS):
            total[f] += r[f]
    total["departments"] = sum(1 for r in rows if r["resources"])
    return _finish(total, figures.merge(hists))


# --------------------------------------------------------------------------------------------------
# Regions (行政区划): a department's region, else its node's; a node without one (功能区) stands alone
# under its parent node's region.
# --------------------------------------------------------------------------------------------------


def _regions(rows: Iterable[dict[str, Any]], hists: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    rows = list(rows)
    codes = {r["region_code"] for r in rows if r["region_code"]}
    zone_nodes = {r["node_id"] for r in rows if not r["region_code"]}
    regions = {g.code: g for g in Region.objects.filter(code__in=codes)}
    parents = {g.parent_code for g in regions.values() if g.level == RegionLevel.COUNTY and g.parent_code}
    nodes = {str(n.pk): n for n in Node.objects.filter(pk__in=zone_nodes).select_related("parent")}
    regions.update({g.code: g for g in Region.objects.filter(code__in=parents - set(regions))})

    areas: dict[str, dict[str, Any]] = {}
    area_hists: dict[str, list[Mapping[str, int]]] = {}

    def area(key: str, **info: Any) -> dict[str, Any]:
        if key not in areas:
            areas[key] = {**_zero(), "key": key, "departments_count": 0, **info}
            area_hists[key] = []
        return areas[key]

    def add(a: dict[str, Any], r: dict[str, Any]) -> None:
        a["departments_count"] += 1
        for f in (*STOCK, *FLOWS):
            a[f] += r[f]
        area_hists[a["key"]].append(hists.get(r["department_id"], {}))

    for r in rows:
        code = r["region_code"]
        if code:
            g = regions.get(code)
            level = g.level if g is not None else ""
            city = g.parent_code if g is not None and level == RegionLevel.COUNTY else code
            name = g.name if g is not None else code
            kind = "county" if level == RegionLevel.COUNTY else "city_own"
            member = area(f"{kind}:{code}", code=code, name=name, kind=kind, city_code=city)
        else:
            node = nodes.get(r["node_id"])
            parent = node.parent if node is not None else None
            city = (parent.region_id or "") if parent is not None else ""
            member = area(f"zone:{r['node_id']}", code="", name=node.name if node else "", kind="zone",
                          city_code=city)
        add(member, r)
        if member["city_code"]:
            city_code = member["city_code"]
            c = regions.get(city_code)
            total = area(f"city:{city_code}", code=city_code, name=c.name if c is not None else city_code,
                         kind="city", city_code=city_code)
            add(total, r)
    order = {"city": 0, "city_own": 1, "county": 2, "zone": 3}
    out = sorted(areas.values(), key=lambda a: (a["city_code"] or "~", order[a["kind"]], a["code"], a["name"]))
    for a in out:
        _finish(a, figures.merge(area_hists[a["key"]]))
    return out


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def latest_snapshot() -> RollupDay | None:
    return RollupDay.objects.filter(snapshot_at__isnull=False).order_by("-day").first()


def summary(user: Any, *, days: int | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """The home page and ``GET /api/v1/stats/summary``."""
    period = Period(days, today)
    latest = latest_snapshot()
    snapshot_day = latest.day if latest is not None else None
    rows, hists = _department_rows(period, snapshot_day, {})
    totals = _totals(rows.values(), hists.values())
    departments = sorted(rows.values(), key=lambda r: (-r["resources"], -r["calls_total"], r["name"]))
    daily = _daily(period, {})
    out: dict[str, Any] = {
        "public": not _signed_in(user),
        "as_of": latest.snapshot_at if latest is not None else None,
        "computed_at": latest.computed_at if latest is not None else None,
        "period": period.as_dict(),
    }
    if not _signed_in(user):
        out.update({
            "totals": _public(totals, PUBLIC_TOTALS),
            "departments": [_public(r, PUBLIC_DEPARTMENT) for r in departments if r["resources"]],
            "daily": [_public(r, PUBLIC_DAILY) for r in daily],
            "regions": [], "top_resources": [],
        })
        return out
    out.update({"totals": totals, "departments": departments, "daily": daily,
                "regions": _regions(departments, hists), "top_resources": _top_resources(period, {})})
    return out


def department_detail(user: Any, department_id: Any, *, days: int | None = None,
                      today: dt.date | None = None) -> dict[str, Any]:
    """One department's figures, its daily series and its most-called resources (signed-in users)."""
    if not _signed_in(user):
        raise NotFound("部门不存在 (department not found)")
    dept = Department.objects.filter(pk=department_id).select_related("node__region", "region").first()
    if dept is None:
        raise NotFound("部门不存在 (department not found)")
    period = Period(days, today)
    latest = latest_snapshot()
    where = {"department_id": dept.pk}
    rows, _hists = _department_rows(period, latest.day if latest is not None else None, where)
    row = rows.get(str(dept.pk)) or _finish({**_zero(), "department_id": str(dept.pk), "name": dept.name,
                                             "node_id": str(dept.node_id), "region_code": ""}, {})
    region = dept.region or dept.node.region
    return {
        "department": {"id": str(dept.pk), "name": dept.name, "node": dept.node.name,
                       "region_code": region.code if region else "", "region_name": region.name if region else ""},
        "as_of": latest.snapshot_at if latest is not None else None,
        "period": period.as_dict(),
        "figures": row,
        "daily": _daily(period, where),
        "top_resources": _top_resources(period, where),
    }
