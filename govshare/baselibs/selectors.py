"""Permission-checked reads of base libraries. A library outside the caller's sight is missing (404).

- Libraries (metadata, bindings, last run): whoever can see the library's catalog resource.
- Runs: the node's data office and the library's providing department.
- Discrepancies: the node's data office (all), and a department whose dataset is an authoritative source
  of the library (those against its own data); values only masked per the data element.
- Lineage of one record: the node's data office.
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from govshare.baselibs.choices import DiscrepancyStatus, SourceRole
from govshare.baselibs.conf import is_data_office_of, is_department_staff
from govshare.baselibs.models import BaseLibrary, Discrepancy, FusionRun, LibrarySource, Lineage
from govshare.catalog.selectors import resources_visible_to
from govshare.core.errors import NotFound, PermissionDenied, ValidationFailed


def libraries_visible_to(user: Any) -> QuerySet[BaseLibrary]:
    last = FusionRun.objects.filter(library=OuterRef("pk")).order_by("-started_at").values("pk")[:1]
    return (BaseLibrary.objects.filter(resource__in=resources_visible_to(user).values("pk"))
            .select_related("resource", "resource__provider", "node", "dataset")
            .annotate(last_run_id=Subquery(last)))


def visible_library(user: Any, library_id: Any) -> BaseLibrary:
    library = libraries_visible_to(user).filter(pk=library_id).first()
    if library is None:
        raise NotFound("基础库不存在 (base library not found)")
    return library


def sources_of(libraries: list[BaseLibrary]) -> dict[Any, list[LibrarySource]]:
    out: dict[Any, list[LibrarySource]] = {lib.pk: [] for lib in libraries}
    for b in (LibrarySource.objects.filter(library__in=[lib.pk for lib in libraries])
              .select_related("dataset__resource__provider").order_by("field", "role", "position")):
        out[b.library_id].append(b)
    return out


def last_runs(libraries: list[BaseLibrary]) -> dict[Any, FusionRun]:
    ids = [getattr(lib, "last_run_id", None) for lib in libraries]
    return {r.library_id: r for r in FusionRun.objects.filter(pk__in=[i for i in ids if i])}


def runs_of(user: Any, library: BaseLibrary) -> QuerySet[FusionRun]:
    if not (is_data_office_of(user, library.node_id) or is_department_staff(user, library.resource.provider_id)):
        raise PermissionDenied("只有数据主管部门和基础库提供部门可以查看融合作业 (data office or providing "
                               "department only)")
    return FusionRun.objects.filter(library=library)


def authoritative_departments(library: BaseLibrary) -> set[Any]:
    return set(LibrarySource.objects.filter(library=library, role=SourceRole.AUTHORITATIVE)
               .values_list("dataset__resource__provider_id", flat=True))


def discrepancies_of(user: Any, library: BaseLibrary, *, status: str | None = None, field: str | None = None,
                     key: str | None = None) -> QuerySet[Discrepancy]:
    qs = Discrepancy.objects.filter(library=library)
    if not is_data_office_of(user, library.node_id):
        dept = getattr(user, "department_id", None)
        if not (is_department_staff(user, dept) and dept in authoritative_departments(library)):
            raise PermissionDenied("只有数据主管部门和权威来源部门可以查看校核差异 (data office or an authoritative "
                                   "source department only)")
        qs = qs.filter(authoritative__dataset__resource__provider_id=dept)
    if status:
        if status not in DiscrepancyStatus.values:
            raise ValidationFailed(f"状态无效: {status}", field="status")
        qs = qs.filter(status=status)
    if field:
        qs = qs.filter(field=field)
    if key:
        qs = qs.filter(key__in={key.strip(), key.strip().upper()})
    return qs.select_related("authoritative__dataset__resource__provider", "cross_check__dataset__resource__provider")


def lineage_of(user: Any, library: BaseLibrary, key: str) -> Lineage:
    if not is_data_office_of(user, library.node_id):
        raise PermissionDenied("只有数据主管部门可以查看记录血缘 (data office only)")
    found = Lineage.objects.filter(library=library, key__in={key.strip(), key.strip().upper()}).first()
    if found is None:
        raise NotFound("该记录不存在或尚未融合 (no such fused record)")
    return found
