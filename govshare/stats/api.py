"""Stats API (``/api/v1/stats/``): the same figures as the home page, from the same selectors.

``GET /summary`` is public: anonymous callers get the public figures (the other fields are null or empty),
signed-in callers every figure. ``GET /departments/{id}`` needs a signed-in user.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from govshare.stats import selectors

router = Router(tags=["stats"])


class PeriodOut(Schema):
    days: int
    start: dt.date
    end: dt.date


class TotalsOut(Schema):
    resources: int
    mounted: int
    mounted_ratio: float
    departments: int
    applications_received: int
    approved: int
    calls_total: int
    # signed-in users only
    scheduled: int | None = None
    late: int | None = None
    disputes_open: int | None = None
    disputes_overdue: int | None = None
    applications_made: int | None = None
    refused: int | None = None
    decisions: int | None = None
    review_median: float | None = None
    review_p90: float | None = None
    calls_query: int | None = None
    calls_verify: int | None = None
    calls_made: int | None = None
    disputes_raised: int | None = None


class DepartmentFiguresOut(Schema):
    department_id: str
    name: str
    resources: int
    mounted: int
    mounted_ratio: float
    # signed-in users only
    region_code: str | None = None
    scheduled: int | None = None
    late: int | None = None
    disputes_open: int | None = None
    disputes_overdue: int | None = None
    applications_received: int | None = None
    applications_made: int | None = None
    approved: int | None = None
    refused: int | None = None
    decisions: int | None = None
    review_median: float | None = None
    review_p90: float | None = None
    calls_query: int | None = None
    calls_verify: int | None = None
    calls_total: int | None = None
    calls_made: int | None = None
    disputes_raised: int | None = None


class DayOut(Schema):
    day: dt.date
    applications_received: int
    approved: int
    calls_total: int
    applications_made: int | None = None
    refused: int | None = None
    calls_query: int | None = None
    calls_verify: int | None = None
    calls_made: int | None = None
    disputes_raised: int | None = None


class RegionOut(Schema):
    key: str
    code: str
    name: str
    kind: str  # city (total of a city), city_own (市本级), county, zone (功能区 without a code)
    city_code: str
    departments_count: int
    resources: int
    mounted: int
    mounted_ratio: float
    late: int
    disputes_open: int
    disputes_overdue: int
    applications_received: int
    applications_made: int
    approved: int
    refused: int
    review_median: float | None
    review_p90: float | None
    calls_query: int
    calls_verify: int
    calls_total: int


class ResourceCallsOut(Schema):
    resource_id: str
    code: str
    name: str
    department_id: str
    department_name: str
    calls_query: int
    calls_verify: int
    calls_total: int


class SummaryOut(Schema):
    public: bool
    as_of: dt.datetime | None
    computed_at: dt.datetime | None
    period: PeriodOut
    totals: TotalsOut
    departments: list[DepartmentFiguresOut]
    daily: list[DayOut]
    regions: list[RegionOut]
    top_resources: list[ResourceCallsOut]


class DepartmentInfoOut(Schema):
    id: str
    name: str
    node: str
    region_code: str
    region_name: str


class DepartmentDetailOut(Schema):
    department: DepartmentInfoOut
    as_of: dt.datetime | None
    period: PeriodOut
    figures: DepartmentFiguresOut
    daily: list[DayOut]
    top_resources: list[ResourceCallsOut]


class PeriodQuery(Schema):
    days: int | None = Field(None, ge=1, le=selectors.MAX_DAYS, description="统计期天数 (default 30)")


@router.get("/summary", auth=None, response=SummaryOut, summary="共享统计 (sharing statistics)")
def summary(request: HttpRequest, q: Query[PeriodQuery]) -> dict[str, Any]:
    return selectors.summary(request.user, days=q.days)


@router.get("/departments/{department_id}", response=DepartmentDetailOut, summary="部门共享统计")
def department(request: HttpRequest, department_id: uuid.UUID, q: Query[PeriodQuery]) -> dict[str, Any]:
    return selectors.department_detail(request.user, department_id, days=q.days)
