"""Reads of the domain tables that the rollup turns into daily figures (docs/statistics.md).

Nothing here writes. Each function reads one domain with a handful of grouped, indexed queries; none reads
the audit log. Departments are keyed by ``str(pk)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, Q, Sum

from govshare.accounts.choices import Role
from govshare.catalog.models import Resource
from govshare.core.calendar import SHANGHAI, get_table, working_days_between
from govshare.datasets.selectors import freshness, lateness_by_department
from govshare.exchange.choices import ApplicationAction, ApplicationStatus
from govshare.exchange.models import Application, ApplicationStep, UsageCounter
from govshare.organizations.models import Node
from govshare.quality.choices import OPEN_DISPUTE_STATUSES, DisputeStatus
from govshare.quality.models import Dispute
from govshare.stats import figures

STOCK_FIELDS = ("resources", "mounted", "scheduled", "late", "disputes_open", "disputes_overdue")
CALL_FIELDS = ("calls_query", "calls_verify", "calls_made")
FLOW_FIELDS = ("applications_received", "applications_made", "approved", "refused", "disputes_raised")


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a calendar day in China."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)
    return start, start + dt.timedelta(days=1)


def _add(out: dict[str, dict[str, Any]], dept: Any, name: str, value: int) -> None:
    if dept is None or not value:
        return
    row = out.setdefault(str(dept), {})
    row[name] = row.get(name, 0) + int(value)


# --------------------------------------------------------------------------------------------------
# Stock: the state now
# --------------------------------------------------------------------------------------------------


def stock(now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per providing department: listed resources, mounted ones (the 挂接率 of ``catalog`` and ``datasets``),
    late ones (the freshness rule of ``datasets``), open and overdue disputes."""
    out: dict[str, dict[str, Any]] = {}
    listed = (Resource.objects.filter(is_listed=True).values("provider_id")
              .annotate(n=Count("pk"), m=Count("pk", filter=Q(dataset__generation__gt=0))))
    for r in listed:
        _add(out, r["provider_id"], "resources", r["n"])
        _add(out, r["provider_id"], "mounted", r["m"])
    # The freshness selector in the scope of each node's data office (every dataset of the node): the very
    # same rule the resource-center pages show, not a copy of it.
    for node_id in Node.objects.values_list("pk", flat=True):
        scope = SimpleNamespace(role=Role.DATA_OFFICE, node_id=node_id, department_id=None)
        for d in lateness_by_department(freshness(scope, now=now)):
            _add(out, d["department_id"], "scheduled", d["scheduled"])
            _add(out, d["department_id"], "late", d["late"])
    overdue = (Q(status=DisputeStatus.SUBMITTED, accept_due_at__lt=now)
               | Q(status=DisputeStatus.ACCEPTED, resolve_due_at__lt=now))
    disputes = (Dispute.objects.filter(status__in=OPEN_DISPUTE_STATUSES).values("provider_id")
                .annotate(n=Count("pk"), late=Count("pk", filter=overdue)))
    for r in disputes:
        _add(out, r["provider_id"], "disputes_open", r["n"])
        _add(out, r["provider_id"], "disputes_overdue", r["late"])
    return out


# --------------------------------------------------------------------------------------------------
# Flows: the events of one day
# --------------------------------------------------------------------------------------------------

# A decision: the provider's approve/refuse, or a submission approved at once (无条件共享).
_DECISIONS = (Q(action__in=[ApplicationAction.APPROVE, ApplicationAction.REFUSE])
              | Q(action="submit", to_status__in=[ApplicationStatus.APPROVED, ApplicationStatus.PENDING_SUPPLY]))


@dataclass
class Flows:
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    review_days: dict[str, list[int]] = field(default_factory=dict)


def flows(day: dt.date) -> Flows:
    """Applications submitted (to the provider, by the consumer), decisions with their review time in working
    days, and disputes raised, on ``day``."""
    start, end = day_bounds(day)
    out = Flows()
    d = out.departments
    in_day = {"created_at__gte": start, "created_at__lt": end}
    for r in Application.objects.filter(**in_day).values("provider_id").annotate(n=Count("pk")):
        _add(d, r["provider_id"], "applications_received", r["n"])
    for r in Application.objects.filter(**in_day).values("consumer_id").annotate(n=Count("pk")):
        _add(d, r["consumer_id"], "applications_made", r["n"])
    table = get_table()
    steps = (ApplicationStep.objects.filter(_DECISIONS, **in_day)
             .values_list("action", "application__provider_id", "application__created_at", "created_at"))
    for action, provider_id, submitted_at, decided_at in steps:
        approved = action != ApplicationAction.REFUSE
        _add(d, provider_id, "approved" if approved else "refused", 1)
        days = max(0, working_days_between(submitted_at, decided_at, table=table))
        out.review_days.setdefault(str(provider_id), []).append(days)
    raised = (Dispute.objects.filter(submitted_at__gte=start, submitted_at__lt=end).values("provider_id")
              .annotate(n=Count("pk")))
    for r in raised:
        _add(d, r["provider_id"], "disputes_raised", r["n"])
    return out


@dataclass
class Calls:
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # resource id -> (providing department id, query calls, verify calls)
    resources: dict[str, tuple[str, int, int]] = field(default_factory=dict)


def calls(day: dt.date) -> Calls:
    """Admitted data-plane calls of ``day`` from the data plane's own per-grant day counters
    (``exchange.UsageCounter``): bucket ``d:<day>`` counts every admitted call of the grant, ``v:<day>:<key>``
    its verify calls per key. Query (and file) calls are the difference."""
    stamp = f"{day:%Y%m%d}"
    total_q, verify_q = Q(bucket=f"d:{stamp}"), Q(bucket__startswith=f"v:{stamp}:")
    rows = (UsageCounter.objects.filter(total_q | verify_q, day=day)
            .values("grant__resource_id", "grant__provider_id", "grant__consumer_id")
            .annotate(total=Sum("count", filter=total_q), verify=Sum("count", filter=verify_q)))
    out = Calls()
    per_resource: dict[str, list[Any]] = {}
    for r in rows:
        total, verify = int(r["total"] or 0), int(r["verify"] or 0)
        query = max(0, total - verify)
        _add(out.departments, r["grant__provider_id"], "calls_query", query)
        _add(out.departments, r["grant__provider_id"], "calls_verify", verify)
        _add(out.departments, r["grant__consumer_id"], "calls_made", total)
        acc = per_resource.setdefault(str(r["grant__resource_id"]), [str(r["grant__provider_id"]), 0, 0])
        acc[1] += query
        acc[2] += verify
    out.resources = {k: (v[0], v[1], v[2]) for k, v in per_resource.items() if v[1] or v[2]}
    return out


def review_figures(days: list[int]) -> dict[str, Any]:
    hist = figures.histogram(days)
    return {"review_days": hist, "review_median": figures.median(hist), "review_p90": figures.p90(hist)}
