"""Catalog export to the govshare 目录编制 workbook (XLSX) or its CSV pair; the layout is documented in
``govshare.catalog.importer.layout`` and in the workbook's own 说明 sheet.

Every resource the user can see (``selectors.resources_visible_to``) is exported. Users who may see the
working copy (the provider department, the node's data office and administrators) get the working
copy; everybody else gets the published version, so unpublished edits never leak. Text cells starting
with = + - @ (or a tab / carriage return) get a leading apostrophe: a spreadsheet would run them as
formulas. Export → import onto an empty node reproduces the resources and their items (as drafts).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from django.db.models import Prefetch, QuerySet

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.catalog.choices import (
    DataType,
    OpenType,
    ResourceFormat,
    ResourceStatus,
    Secrecy,
    Sensitivity,
    ShareMode,
    ShareType,
    UpdateCycle,
)
from govshare.catalog.importer import layout
from govshare.catalog.importer.mapping import neutralise
from govshare.catalog.models import DataItem, Resource
from govshare.catalog.selectors import resources_visible_to
from govshare.catalog.versions import snapshot
from govshare.organizations.models import Node

Progress = Callable[[int, int], None]
_WORKING_COPY_ROLES = (Role.DATA_OFFICE, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN)
JOIN = "、"


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return "" if value is None else str(value)


def _labels(choices: Any, values: Sequence[Any]) -> str:
    return JOIN.join(_label(choices, v) for v in values)


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def sees_working_copy(user: Any, resource: Resource) -> bool:
    if user is None:
        return True  # the operator on the server
    role = getattr(user, "role", None)
    if role in _WORKING_COPY_ROLES:
        return bool(user.node_id == resource.node_id)
    if role in (Role.PROVIDER, Role.DEPT_ADMIN):
        return bool(user.department_id == resource.provider_id)
    return False


def _resources(user: Any, node: Node | None) -> QuerySet[Resource]:
    qs = (resources_visible_to(user) if user is not None
          else Resource.objects.select_related("provider", "classification", "node", "published_version"))
    if node is not None:
        qs = qs.filter(node=node)
    items = DataItem.objects.select_related("element").order_by("position")
    return qs.select_related("source_department").prefetch_related(Prefetch("items", queryset=items)).order_by("code")


def _records(user: Any, node: Node | None, progress: Progress | None) -> Iterator[tuple[dict[str, Any], str]]:
    """``(snapshot, status)`` per resource: the working copy or the published version (see module doc)."""
    qs = _resources(user, node)
    total = qs.count()
    for done, resource in enumerate(qs, start=1):
        if progress is not None:
            progress(done, total)
        if sees_working_copy(user, resource):
            snap = snapshot(resource, list(resource.items.all()))
            status = resource.status
        elif resource.published_version is not None:
            snap = dict(resource.published_version.snapshot)
            status = ResourceStatus.PUBLISHED
        else:
            continue
        snap["published_on"] = resource.published_on.isoformat() if resource.published_on else ""
        yield snap, status


def resource_row(snap: dict[str, Any], status: str) -> list[Any]:
    src = snap.get("source_department") or {}
    values = {
        "code": snap["code"],
        "name": snap["name"],
        "classification_code": snap["classification_code"],
        "provider": snap["provider"]["name"],
        "provider_uscc": snap["provider"]["uscc"],
        "source_department": src.get("name", ""),
        "summary": snap["summary"],
        "formats": _labels(ResourceFormat, snap["formats"]),
        "share_type": _label(ShareType, snap["share_type"]),
        "share_condition": snap["share_condition"],
        "share_modes": _labels(ShareMode, snap["share_modes"]),
        "no_share_basis": snap["no_share_basis"],
        "open_type": _label(OpenType, snap["open_type"]),
        "open_condition": snap["open_condition"],
        "update_cycle": _label(UpdateCycle, snap["update_cycle"]),
        "published_on": snap.get("published_on", ""),
        "related_codes": JOIN.join(snap["related_codes"]),
        "secrecy": _label(Secrecy, snap["secrecy"]),
        "tags": JOIN.join(snap.get("tags", [])),
    }
    by_header = {
        "敏感级别": _label(Sensitivity, snap["sensitivity"]),
        "状态": _label(ResourceStatus, status),
    }
    return [neutralise(values[target] if target else by_header[header])
            for header, target, _ in layout.RESOURCE_COLUMNS]


def item_rows(snap: dict[str, Any]) -> Iterator[list[Any]]:
    for position, item in enumerate(snap["items"], start=1):
        values = {
            "resource_code": snap["code"],
            "position": position,
            "name": item["name"],
            "element_code": item["element_code"],
            "column_name": item["column_name"],
            "data_type": _label(DataType, item["data_type"]),
            "length": item["length"] if item["length"] is not None else "",
            "sensitivity": _label(Sensitivity, item["sensitivity"]),
            "required": _yes(item["required"]),
            "is_key": _yes(item["is_key"]),
        }
        yield [neutralise(values[target]) for _, target, _ in layout.ITEM_COLUMNS]


def _collect(user: Any, node: Node | None, progress: Progress | None) -> tuple[list[list[Any]], list[list[Any]]]:
    resources: list[list[Any]] = []
    items: list[list[Any]] = []
    for snap, status in _records(user, node, progress):
        resources.append(resource_row(snap, status))
        items.extend(item_rows(snap))
    return resources, items


def _xlsx(resources: list[list[Any]], items: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet(title: str, headers: Sequence[str], rows: list[list[Any]], widths: Sequence[int]) -> None:
        ws = wb.create_sheet(title)
        ws.freeze_panes = "A2"
        for i, width in enumerate(widths):
            ws.column_dimensions[_column_letter(i)].width = width
        header_cells = []
        for h in headers:
            cell = WriteOnlyCell(ws, value=h)
            cell.font = bold
            header_cells.append(cell)
        ws.append(header_cells)
        for row in rows:
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])

    sheet(layout.RESOURCE_SHEET, layout.RESOURCE_HEADERS, resources,
          [22, 30, 12, 20, 22, 16, 40, 16, 12, 20, 14, 20, 12, 20, 10, 12, 22, 10, 10, 10, 20])
    sheet(layout.ITEM_SHEET, layout.ITEM_HEADERS, items, [22, 6, 20, 12, 18, 12, 8, 10, 6, 6])
    readme = [[layout.RESOURCE_SHEET, h, d] for h, _, d in layout.RESOURCE_COLUMNS]
    readme += [[layout.ITEM_SHEET, h, d] for h, _, d in layout.ITEM_COLUMNS]
    readme.append(["", "", "以 = + - @ 开头的文本前加了单引号，防止被当作公式执行；导入时自动去除 "
                           "(a leading apostrophe neutralises formulas; the importer removes it)"])
    sheet(layout.README_SHEET, ("工作表", "列", "说明"), readme, [12, 28, 80])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def _csv(headers: Sequence[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def export_catalog(
    *, user: Any, fmt: Literal["xlsx", "csv"], node: Node | None = None, progress: Progress | None = None
) -> bytes | tuple[bytes, bytes]:
    """The catalog visible to ``user`` (``None``: everything, for the operator on the server), optionally
    limited to one node. ``xlsx`` gives the workbook; ``csv`` gives (resources CSV, items CSV)."""
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"导出格式须为 xlsx 或 csv (unknown export format {fmt!r})")
    resources, items = _collect(user, node, progress)
    record_event(actor=user, action="catalog.exported", target_type="node", target_id=node.code if node else "",
                 data={"format": fmt, "resources": len(resources), "items": len(items)})
    if fmt == "xlsx":
        return _xlsx(resources, items)
    return _csv(layout.RESOURCE_HEADERS, resources), _csv(layout.ITEM_HEADERS, items)


def csv_zip(resources_csv: bytes, items_csv: bytes, stem: str = "catalog") -> bytes:
    """The CSV pair in one ZIP (``stem.csv`` and ``stem_items.csv``), as the importer accepts it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{stem}.csv", resources_csv)
        zf.writestr(f"{stem}{layout.ITEMS_CSV_SUFFIX}", items_csv)
    return out.getvalue()
