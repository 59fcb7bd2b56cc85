"""Bulk issue from a mounted source dataset (批量签发): each live row of the dataset becomes one licence.

Idempotent: a licence remembers its source (dataset, row key), so a re-run issues only rows not issued before;
when the number comes from a column, a number already issued to the same holder for the same type counts as
done too. Rows are read in key order in pages, each page in its own transaction (the single SQLite writer is
never held for the whole run); a bad row is reported and skipped, never half-written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from govshare.audit.services import record_event
from govshare.core.errors import Conflict, DomainError, ValidationFailed
from govshare.datasets.models import Dataset, DatasetRecord
from govshare.datasets.sealing import open_record
from govshare.licences.models import Licence, LicenceType
from govshare.licences.payload import normalise_holder_id
from govshare.licences.services.common import is_platform
from govshare.licences.services.issue import IssueSpec, holder_index, issue_in_transaction, require_issuer

PAGE = 200
MAX_PROBLEMS = 100


@dataclass(frozen=True)
class ColumnMapping:
    """Dataset columns for the holder, optional number and validity, and each 照面 field (field -> column)."""

    holder_id: str
    holder_name: str
    fields: Mapping[str, str] = field(default_factory=dict)
    number: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None


@dataclass
class BulkResult:
    rows: int = 0
    issued: int = 0
    skipped: int = 0  # issued by an earlier run
    failed: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "issued": self.issued, "skipped": self.skipped, "failed": self.failed,
                "problems": self.problems}


def _columns(dataset: Dataset) -> set[str]:
    version = dataset.resource.published_version
    items = version.snapshot.get("items", []) if version is not None else []
    return {str(i["column_name"]) for i in items}


def _check_mapping(licence_type: LicenceType, dataset: Dataset, mapping: ColumnMapping) -> None:
    columns = _columns(dataset)
    named = {"holder_id": mapping.holder_id, "holder_name": mapping.holder_name, "number": mapping.number,
             "valid_from": mapping.valid_from, "valid_to": mapping.valid_to,
             **{f"fields.{k}": v for k, v in mapping.fields.items()}}
    for where, column in named.items():
        if column is not None and column not in columns:
            raise ValidationFailed(f"数据集没有列 {column} (no such column)", field=f"mapping.{where}")
    defined = {f["name"]: f for f in licence_type.fields}
    unknown = sorted(set(mapping.fields) - set(defined))
    if unknown:
        raise ValidationFailed(f"证照类型没有信息项: {', '.join(unknown)} (unknown field)",
                               field=f"mapping.fields.{unknown[0]}")
    missing = [n for n, f in defined.items() if f.get("required") and n not in mapping.fields]
    if missing:
        raise ValidationFailed(f"必填信息项未映射: {', '.join(missing)} (required field not mapped)",
                               field=f"mapping.fields.{missing[0]}")


def _date(value: Any, column: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"列 {column} 不是日期 YYYY-MM-DD (not a date)", field=column) from None


def _spec(row: Mapping[str, Any], mapping: ColumnMapping) -> IssueSpec:
    def text(column: str | None) -> str | None:
        if column is None:
            return None
        value = row.get(column)
        return None if value is None else str(value)

    return IssueSpec(
        holder_id=text(mapping.holder_id) or "", holder_name=text(mapping.holder_name) or "",
        fields={name: value for name, column in mapping.fields.items() if (value := text(column)) not in (None, "")},
        number=text(mapping.number),
        valid_from=_date(row.get(mapping.valid_from), mapping.valid_from) if mapping.valid_from else None,
        valid_to=_date(row.get(mapping.valid_to), mapping.valid_to) if mapping.valid_to else None)


def _already_issued(licence_type: LicenceType, spec: IssueSpec) -> bool:
    """A column-given number already issued to this holder for this type (a re-run, or another source)."""
    if not spec.number or not spec.number.strip():
        return False
    row = Licence.objects.filter(number=spec.number.strip()).values("licence_type_id", "holder_index").first()
    if row is None:
        return False
    try:
        same_holder = row["holder_index"] == holder_index(normalise_holder_id(spec.holder_id,
                                                                             licence_type.holder_kind))
    except ValueError:
        return False
    return bool(row["licence_type_id"] == licence_type.pk and same_holder)


def _problem(result: BulkResult, key: str, exc: DomainError) -> None:
    result.failed += 1
    if len(result.problems) < MAX_PROBLEMS:
        result.problems.append({"key": key, "field": exc.details.get("field"), "reason": exc.message})


def bulk_issue(*, actor: Any, licence_type: LicenceType, dataset: Dataset, mapping: ColumnMapping) -> BulkResult:
    """Issue a licence for every live row of ``dataset`` not issued before (see the module docstring)."""
    require_issuer(actor, licence_type)
    if not is_platform(actor) and dataset.resource.provider_id != licence_type.department_id:
        raise ValidationFailed("只能使用本部门挂接的数据集签发 (the dataset must be the issuing department's own)",
                               field="dataset_id")
    if dataset.node_id != licence_type.node_id:
        raise ValidationFailed("数据集须属于本节点 (dataset of this node)", field="dataset_id")
    if dataset.generation == 0:
        raise Conflict("数据集尚无数据 (the dataset has no data yet)")
    _check_mapping(licence_type, dataset, mapping)
    generation = dataset.generation
    result = BulkResult()
    after = ""
    while True:
        page = list(DatasetRecord.objects.filter(dataset=dataset, generation=generation, key__gt=after)
                    .order_by("key").values_list("key", "data")[:PAGE])
        if not page:
            break
        after = page[-1][0]  # the stored key (the blind index when the key item is L4): the scan's cursor
        # L4 items are sealed at rest: read the rows through the datasets codec, like every other reader.
        opened = [open_record(stored, data) for stored, data in page]
        done = set(Licence.objects.filter(licence_type=licence_type, source_dataset=dataset,
                                          source_key__in=[k for k, _ in opened]).values_list("source_key", flat=True))
        with transaction.atomic():
            for key, data in opened:
                result.rows += 1
                if key in done:
                    result.skipped += 1
                    continue
                try:
                    spec = _spec(data or {}, mapping)
                    if _already_issued(licence_type, spec):
                        result.skipped += 1
                        continue
                    with transaction.atomic():
                        issue_in_transaction(actor, licence_type, spec, source=(dataset, key))
                    result.issued += 1
                except DomainError as exc:
                    _problem(result, key, exc)
    with transaction.atomic():
        record_event(actor=actor, action="licences.bulk_issued", target_type="licence_type",
                     target_id=str(licence_type.pk),
                     data={"dataset": str(dataset.pk), "generation": generation, "rows": result.rows,
                           "issued": result.issued, "skipped": result.skipped, "failed": result.failed})
    return result
