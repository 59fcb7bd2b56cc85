"""Writes for datasets: mounting (挂接) a published resource, and loading data into it.

Loading is all-or-nothing without one long transaction (DESIGN.md §4, "Storage"): rows of a new
*generation* are validated and written in chunks, each chunk its own short transaction (so the single
SQLite writer is never held for a whole load); when the whole file is good the dataset's generation
pointer is switched in one short transaction together with the audit event, and the old generation's
rows are deleted afterwards, again in chunks. On any problem the staged rows are deleted and the live
data is untouched. A process killed mid-load leaves a STAGING upload whose heartbeat (``updated_at``,
touched on every chunk) goes stale: the next load on the dataset marks it failed and deletes its rows.

A load is a full replace in the change log's terms: once staged, the difference from the live generation is
written as numbered changes above the committed ``last_seq`` (:mod:`.changelog`), and the switch moves
``last_seq`` with the generation, so the changes become visible exactly when the data does.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Field, Max
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.catalog.models import Resource
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.datasets import hooks, sealing
from govshare.datasets.changelog import ChangeWriter, clear_uncommitted, diff_generations
from govshare.datasets.choices import BatchKind, UploadStatus
from govshare.datasets.models import ChangeBatch, Dataset, DatasetRecord, DatasetUpload
from govshare.datasets.parsers import HeaderMap, Problem, RawRow, dict_rows, open_table, problem
from govshare.datasets.validation import Column, RowValidator, columns_for

log = logging.getLogger("govshare.datasets")

MODES = ("replace",)
DEFAULT_CHUNK_ROWS = 5000
DEFAULT_STALE_SECONDS = 3600
_SPOOL_MEMORY = 16 * 1024 * 1024

Progress = Callable[[int], None]


@dataclass(frozen=True)
class BatchInfo:
    """How a load appears in the change log: its idempotency id, kind and source label."""

    batch_id: str
    kind: str = BatchKind.REPLACE
    source: str = ""
    delivery: bool = True  # False: a machine re-read (reconciliation) that counts as arrival only if it changed data


def _setting(name: str, default: int) -> int:
    return int(settings.GOVSHARE.get(name, default))


# ---------------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------------


def is_provider_side(actor: Any, resource: Resource) -> bool:
    """Provider staff or department administrator of the resource's providing department."""
    return (getattr(actor, "role", None) in (Role.PROVIDER, Role.DEPT_ADMIN)
            and getattr(actor, "department_id", None) == resource.provider_id)


def require_provider_side(actor: Any, resource: Resource) -> None:
    if actor is None or isinstance(actor, str):  # the platform itself: CLI run by an operator, demo builder
        return
    if not is_provider_side(actor, resource):
        raise PermissionDenied("只有资源提供部门的人员可以挂接和上传数据 (provider department only)")


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) and not isinstance(actor, str) else None


# ---------------------------------------------------------------------------------------------
# Mounting (挂接)
# ---------------------------------------------------------------------------------------------


def mount_resource(*, actor: Any, resource: Resource) -> Dataset:
    """Create the platform-held dataset of a published resource; its columns are the published items.

    A dataset needs a key item (信息项 marked ``is_key``, e.g. 公民身份号码): it identifies a record for
    queries, verification, disputes and change logs, and row numbers are not stable identities.
    """
    require_provider_side(actor, resource)
    with transaction.atomic():
        locked = (Resource.objects.select_for_update(of=("self",))
                  .select_related("published_version", "node").get(pk=resource.pk))
        if not locked.is_listed or locked.published_version is None:
            raise Conflict("只有已发布的资源可以挂接 (only a published resource can be mounted)",
                           details={"status": locked.status})
        existing = Dataset.objects.filter(resource=locked).first()
        if existing is not None:
            raise Conflict("该资源已挂接 (the resource is already mounted)",
                           details={"dataset_id": str(existing.pk)})
        columns = columns_for(locked)
        key = next((c for c in columns if c.is_key), None)
        if key is None:
            raise ValidationFailed("挂接需要一个主键信息项（如公民身份号码），请修订资源并标记主键 "
                                   "(mounting needs a key item: revise the resource and mark one)", field="items")
        dataset = Dataset.objects.create(node=locked.node, resource=locked, key_column=key.column_name,
                                         mounted_at=timezone.now(),
                                         resource_version=locked.published_version.number)
        record_event(actor=actor, action="dataset.mounted", target_type="dataset", target_id=str(dataset.pk),
                     data={"resource": str(locked.pk), "code": locked.code, "key_column": key.column_name,
                           "version": locked.published_version.number})
    return dataset


# ---------------------------------------------------------------------------------------------
# Uploads
# ---------------------------------------------------------------------------------------------


def _spool(stream: IO[bytes] | bytes, max_bytes: int) -> tuple[IO[bytes], int]:
    """A seekable stream of the upload and its size; ``size > max_bytes`` means "too large" (not read)."""
    if isinstance(stream, bytes | bytearray | memoryview):
        data = bytes(stream)
        return io.BytesIO(data), len(data)
    if stream.seekable():
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        return stream, size
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)
    size = 0
    while chunk := stream.read(1024 * 1024):
        size += len(chunk)
        if size > max_bytes:
            spool.close()
            return io.BytesIO(), size
        spool.write(chunk)
    spool.seek(0)
    return spool, size


def _refuse(actor: Any, dataset: Dataset, filename: str, reason: str, **data: Any) -> None:
    """Audit an upload refused before staging (too large, another load running)."""
    with transaction.atomic():
        record_event(actor=actor, action="dataset.upload_refused", target_type="dataset",
                     target_id=str(dataset.pk), result=Result.DENIED,
                     data={"filename": filename, "reason": reason, **data})


def upload(
    *,
    actor: Any,
    dataset: Dataset,
    filename: str,
    stream: IO[bytes] | bytes,
    mode: str = "replace",
    progress: Progress | None = None,
) -> DatasetUpload:
    """Load a CSV / XLSX / JSON file into the dataset, replacing its data all-or-nothing.

    Returns the upload record: ``APPLIED`` with the new generation live, or ``REJECTED`` with up to
    ``UPLOAD_MAX_REPORTED_PROBLEMS`` problems (row, column, reason) and nothing written. A file over
    ``UPLOAD_MAX_BYTES`` raises :class:`ValidationFailed` (``field="file"``) before anything is read.
    """
    resource = Resource.objects.select_related("published_version").get(pk=dataset.resource_id)
    require_provider_side(actor, resource)
    if mode not in MODES:
        raise ValidationFailed(f"不支持的上传模式 {mode}，目前只支持 replace (unsupported mode)", field="mode")
    filename = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:255]
    max_bytes = _setting("UPLOAD_MAX_BYTES", 200 * 1024 * 1024)
    f, size = _spool(stream, max_bytes)
    if size > max_bytes:
        _refuse(actor, dataset, filename, "too_large", size=size, max_bytes=max_bytes)
        raise ValidationFailed(f"文件大小 {size} 字节超过上限 {max_bytes} 字节 (file larger than {max_bytes} bytes)",
                               field="file", details={"size": size, "max_bytes": max_bytes})
    columns = columns_for(resource)
    validator = RowValidator(columns)
    up = _begin(actor=actor, dataset=dataset, filename=filename, mode=mode, resource=resource)
    try:
        table = open_table(f, filename, columns)
    except BaseException:
        _fail(actor, dataset, up, 0)
        raise
    try:
        up.file_format, up.encoding = table.file_format, table.encoding
        DatasetUpload.objects.filter(pk=up.pk).update(file_format=up.file_format, encoding=up.encoding)
        return _ingest(actor=actor, dataset=dataset, up=up, rows=table.rows, columns=columns,
                       labels=table.labels or [c.name for c in columns], validator=validator,
                       problems=table.problems, progress=progress, size=size,
                       batch=BatchInfo(f"upload:{up.pk}", source=f"upload:{filename}"[:200]))
    finally:
        table.close()


def load_rows(
    *,
    actor: Any,
    dataset: Dataset,
    rows: Iterable[Mapping[str, Any]],
    label: str = "rows",
    progress: Progress | None = None,
    batch: BatchInfo | None = None,
) -> DatasetUpload:
    """Replace the dataset's data with ``rows`` (mappings keyed by column name or Chinese item name):
    the same validation, staging, difference and swap as :func:`upload`, without a file."""
    resource = Resource.objects.select_related("published_version").get(pk=dataset.resource_id)
    require_provider_side(actor, resource)
    columns = columns_for(resource)
    validator = RowValidator(columns)
    up = _begin(actor=actor, dataset=dataset, filename=label[:255], mode="replace", resource=resource,
                file_format="rows")
    return _ingest(actor=actor, dataset=dataset, up=up, rows=dict_rows(rows, HeaderMap(columns)),
                   columns=columns, labels=[c.name for c in columns], validator=validator, problems=[],
                   progress=progress, size=None, batch=batch or BatchInfo(f"upload:{up.pk}", source=label[:200]))


def _begin(*, actor: Any, dataset: Dataset, filename: str, mode: str, resource: Resource,
           file_format: str = "") -> DatasetUpload:
    """Allocate a new generation and the STAGING upload record; clear abandoned loads."""
    now = timezone.now()
    stale_before = now - dt.timedelta(seconds=_setting("UPLOAD_STALE_SECONDS", DEFAULT_STALE_SECONDS))
    version = resource.published_version.number if resource.published_version else None
    abandoned: list[tuple[Any, int]] = []
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        staging = DatasetUpload.objects.filter(dataset=locked, status=UploadStatus.STAGING)
        running = staging.filter(updated_at__gte=stale_before).first()
        if running is None:
            abandoned = list(staging.values_list("pk", "generation"))
            if abandoned:
                staging.update(status=UploadStatus.FAILED, finished_at=now, updated_at=now)
                record_event(actor=actor, action="dataset.upload_abandoned", target_type="dataset",
                             target_id=str(locked.pk), result=Result.FAILED,
                             data={"uploads": [str(pk) for pk, _ in abandoned]})
            clear_uncommitted(locked.pk, locked.last_seq)
            last = DatasetUpload.objects.filter(dataset=locked).aggregate(m=Max("generation"))["m"] or 0
            up = DatasetUpload.objects.create(
                node_id=locked.node_id, dataset=locked, generation=max(last, locked.generation) + 1,
                status=UploadStatus.STAGING, filename=filename, file_format=file_format, mode=mode,
                resource_version=version, uploaded_by=_user_or_none(actor),
            )
    if running is not None:
        _refuse(actor, dataset, filename, "busy", running_upload=str(running.pk))
        raise Conflict("该数据集已有上传正在进行，请稍后再试 (another upload to this dataset is in progress)",
                       details={"upload_id": str(running.pk)})
    for _, generation in abandoned:
        _delete_generation(dataset.pk, generation)
    return up


@dataclass
class _Report:
    limit: int
    problems: list[Problem] = field(default_factory=list)
    count: int = 0
    bad_rows: int = 0

    def add(self, p: Problem) -> None:
        self.count += 1
        if len(self.problems) < self.limit:
            self.problems.append(p)


def _ingest(
    *,
    actor: Any,
    dataset: Dataset,
    up: DatasetUpload,
    rows: Iterator[RawRow],
    columns: Sequence[Column],
    labels: Sequence[str],
    validator: RowValidator,
    problems: Sequence[Problem],
    progress: Progress | None,
    size: int | None,
    batch: BatchInfo,
) -> DatasetUpload:
    report = _Report(limit=_setting("UPLOAD_MAX_REPORTED_PROBLEMS", 100))
    for p in problems:
        report.add(p)
    chunk_rows = _setting("UPLOAD_CHUNK_ROWS", DEFAULT_CHUNK_ROWS)
    key_index = validator.key_index
    key_name = columns[key_index].column_name
    names = [c.column_name for c in columns]
    seen: dict[str, int] = {}  # key -> first row (duplicates); ~100 bytes per row
    chunk: list[tuple[str, dict[str, Any]]] = []
    # L4 items are sealed before they are written (govshare.datasets.sealing); the switch records the profile.
    profile = sealing.profile_for(node=sealing.node_code(dataset.node_id), columns=columns)
    total = written = 0
    writer = _StagingWriter(dataset.pk, up.generation)
    try:
        for row_no, values, shape in rows:
            total += 1
            data, cell_problems = validator.validate(values)
            if shape or cell_problems:
                report.bad_rows += 1
                for p in shape or ():
                    report.add(p)
                for cp in cell_problems:
                    report.add(problem(cp.reason, row=row_no, column=labels[cp.index], field=names[cp.index]))
            key = data[key_name]
            if key is not None:
                first = seen.setdefault(key, row_no)
                if first != row_no:
                    if not (shape or cell_problems):
                        report.bad_rows += 1
                    report.add(problem(f"主键重复，与第 {first} 行相同 (duplicate key: same as row {first})",
                                       row=row_no, column=labels[key_index], field=key_name))
            if report.count:
                continue  # the upload will be rejected: keep validating, stop writing
            assert key is not None  # the key item is required: a missing key is a problem above
            chunk.append(sealing.seal_record(profile, key, data))
            if len(chunk) >= chunk_rows:
                written += len(chunk)
                writer.write(up, chunk, written)
                chunk = []
                if progress is not None:
                    progress(total)
        if not report.count and total == 0:
            report.add(problem("文件中没有数据行 (no data rows)", field="file"))
        if not report.count and chunk:
            written += len(chunk)
            writer.write(up, chunk, written)
            if progress is not None:
                progress(total)
    except BaseException:
        _fail(actor, dataset, up, total)
        raise
    if report.count:
        return _reject(actor, dataset, up, report, total, size)
    return _apply(actor, dataset, up, total, size, batch, profile)


class _StagingWriter:
    """Writes staged rows, one short transaction per chunk.

    Not ``bulk_create``: building thousands of model instances and preparing every field through the
    ORM cost more than the INSERT itself (SQLite: ~18k rows/s with bulk_create, ~60k rows/s here).
    PostgreSQL gets ``COPY … FROM STDIN`` (plain protocol, no extension; the PostgreSQL-compatible
    KingbaseES and openGauss speak it too), because psycopg's client-side parameter binding spends
    more time splitting a large multi-row INSERT than the server spends inserting it. Every other
    backend gets multi-row parametrised INSERTs sized by its ``bulk_batch_size``.
    """

    def __init__(self, dataset_id: Any, generation: int) -> None:
        meta = DatasetRecord._meta
        self.connection = connections[router.db_for_write(DatasetRecord)]
        quote = self.connection.ops.quote_name
        fields = [cast(Field[Any, Any], meta.get_field(n)) for n in ("dataset", "generation", "key", "data")]
        table = quote(meta.db_table)
        columns = ", ".join(quote(f.column) for f in fields)
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        self.insert_prefix = f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 - names from model metadata
        self.batch = max(1, self.connection.ops.bulk_batch_size(fields, [None] * 100_000))
        self.dataset = meta.get_field("dataset").get_db_prep_save(dataset_id, self.connection)
        self.generation = generation

    def write(self, up: DatasetUpload, rows: list[tuple[str, dict[str, Any]]], written: int) -> None:
        ds, gen = self.dataset, self.generation
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                if self.connection.vendor == "postgresql":
                    dumps = json.dumps
                    with cursor.cursor.copy(self.copy_sql) as copy:
                        for key, data in rows:
                            copy.write_row((ds, gen, key, dumps(data, ensure_ascii=False)))
                else:
                    adapt = self.connection.ops.adapt_json_value
                    for start in range(0, len(rows), self.batch):
                        part = rows[start:start + self.batch]
                        params: list[Any] = []
                        for key, data in part:
                            params += (ds, gen, key, adapt(data, None))
                        cursor.execute(self.insert_prefix + ", ".join(["(%s, %s, %s, %s)"] * len(part)), params)
            # The heartbeat: a STAGING upload whose updated_at goes stale was abandoned.
            DatasetUpload.objects.filter(pk=up.pk).update(rows_valid=written, updated_at=timezone.now())


def _event_data(up: DatasetUpload, total: int, size: int | None) -> dict[str, Any]:
    return {"upload": str(up.pk), "filename": up.filename, "format": up.file_format, "encoding": up.encoding,
            "bytes": size, "rows": total, "generation": up.generation, "mode": up.mode}


def _apply(actor: Any, dataset: Dataset, up: DatasetUpload, total: int, size: int | None,
           batch: BatchInfo, profile: sealing.Profile) -> DatasetUpload:
    try:
        base, live = Dataset.objects.filter(pk=dataset.pk).values_list("last_seq", "generation").get()
        chunk = _setting("UPLOAD_CHUNK_ROWS", DEFAULT_CHUNK_ROWS)
        writer = ChangeWriter(dataset.pk, base + 1, chunk)
        diff_generations(dataset.pk, old=live, new=up.generation, writer=writer, chunk=chunk)
        locked, conflict = _swap(actor, dataset, up, total, size, batch=batch, base=base, writer=writer,
                                 profile=profile)
    except BaseException:
        _fail(actor, dataset, up, total)  # nothing was switched: the staged rows go
        raise
    if conflict:
        _delete_generation(dataset.pk, up.generation)
        clear_uncommitted(dataset.pk, locked.last_seq)
        raise Conflict("上传已被判定为中断并取消，请重新上传 (the upload was cancelled as abandoned; upload again)",
                       details={"upload_id": str(up.pk)})
    for attr in ("generation", "row_count", "last_loaded_at", "resource_version", "last_seq", "last_received_at",
                 "sealing"):
        setattr(dataset, attr, getattr(locked, attr))
    try:
        _purge_old_generations(dataset.pk, below=up.generation)
    except Exception:  # the new data is live; leftovers go with the next successful load
        log.exception("could not delete old generations of dataset %s", dataset.pk)
    return up


def _swap(actor: Any, dataset: Dataset, up: DatasetUpload, total: int, size: int | None, *,
          batch: BatchInfo, base: int, writer: ChangeWriter, profile: sealing.Profile) -> tuple[Dataset, bool]:
    """Switch the live generation, commit its changes and record the event, in one short transaction.
    Returns (dataset, conflict)."""
    now = timezone.now()
    counts = writer.counts
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        current = DatasetUpload.objects.select_for_update().get(pk=up.pk)
        if (current.status != UploadStatus.STAGING or locked.generation >= up.generation
                or locked.last_seq != base):
            conflict = True
        else:
            conflict = False
            previous = locked.generation
            locked.generation = up.generation
            locked.row_count = total
            locked.last_loaded_at = now
            if batch is None or batch.delivery or counts.changes:
                locked.last_received_at = now
            locked.resource_version = up.resource_version
            locked.last_seq = base + counts.changes
            locked.sealing = profile.to_json()
            locked.save(update_fields=["generation", "row_count", "last_loaded_at", "resource_version",
                                       "last_seq", "last_received_at", "sealing", "updated_at"])
            ChangeBatch.objects.create(
                dataset=locked, batch_id=batch.batch_id[:120], kind=batch.kind, source=batch.source[:200],
                first_seq=base + 1, last_seq=base + counts.changes, inserted=counts.inserted,
                updated=counts.updated, deleted=counts.deleted, unchanged=counts.unchanged)
            up.status = UploadStatus.APPLIED
            up.rows_total = up.rows_valid = total
            up.problems, up.problem_count = [], 0
            up.finished_at = now
            up.save(update_fields=["status", "rows_total", "rows_valid", "problems", "problem_count",
                                   "finished_at", "file_format", "encoding", "updated_at"])
            record_event(actor=actor, action="dataset.upload_applied", target_type="dataset",
                         target_id=str(locked.pk),
                         data={**_event_data(up, total, size), "previous_generation": previous,
                               "batch_id": batch.batch_id, "kind": batch.kind, "first_seq": base + 1,
                               "last_seq": base + counts.changes, "inserted": counts.inserted,
                               "updated": counts.updated, "deleted": counts.deleted,
                               "unchanged": counts.unchanged})
            if counts.changes:
                hooks.changes_committed(locked.pk)
    return locked, conflict


def _reject(actor: Any, dataset: Dataset, up: DatasetUpload, report: _Report, total: int,
            size: int | None) -> DatasetUpload:
    try:
        _record_rejection(actor, dataset, up, report, total, size)
    except BaseException:
        _fail(actor, dataset, up, total)
        raise
    return up


def _record_rejection(actor: Any, dataset: Dataset, up: DatasetUpload, report: _Report, total: int,
                      size: int | None) -> None:
    _delete_generation(dataset.pk, up.generation)
    with transaction.atomic():
        up.status = UploadStatus.REJECTED
        up.rows_total = total
        up.rows_valid = max(total - report.bad_rows, 0)
        up.problems = report.problems
        up.problem_count = report.count
        up.finished_at = timezone.now()
        up.save(update_fields=["status", "rows_total", "rows_valid", "problems", "problem_count",
                               "finished_at", "file_format", "encoding", "updated_at"])
        # Reasons only: the offending values may be personal data and are not copied into the log.
        record_event(actor=actor, action="dataset.upload_rejected", target_type="dataset",
                     target_id=str(dataset.pk), result=Result.FAILED,
                     data={**_event_data(up, total, size), "problem_count": report.count})


def _fail(actor: Any, dataset: Dataset, up: DatasetUpload, total: int) -> None:
    """An unexpected error (database, I/O): clean up what we can; a stale STAGING row covers the rest."""
    try:
        _delete_generation(dataset.pk, up.generation)
        with transaction.atomic():
            DatasetUpload.objects.filter(pk=up.pk, status=UploadStatus.STAGING).update(
                status=UploadStatus.FAILED, rows_total=total, finished_at=timezone.now(),
                updated_at=timezone.now())
            record_event(actor=actor, action="dataset.upload_failed", target_type="dataset",
                         target_id=str(dataset.pk), result=Result.FAILED,
                         data={"upload": str(up.pk), "filename": up.filename, "rows": total})
    except Exception:
        log.exception("could not clean up failed upload %s", up.pk)


def _delete_generation(dataset_id: Any, generation: int) -> None:
    """Delete one generation's rows in chunks, walking the (dataset, generation, key) unique index."""
    chunk = _setting("UPLOAD_CHUNK_ROWS", DEFAULT_CHUNK_ROWS)
    qs = DatasetRecord.objects.filter(dataset_id=dataset_id, generation=generation)
    while True:
        with transaction.atomic():
            bound = list(qs.order_by("key").values_list("key", flat=True)[chunk - 1:chunk])
            if not bound:
                qs.delete()
                return
            qs.filter(key__lte=bound[0]).delete()


def _purge_old_generations(dataset_id: Any, *, below: int) -> None:
    generations = set(DatasetRecord.objects.filter(dataset_id=dataset_id, generation__lt=below)
                      .values_list("generation", flat=True).distinct())
    for generation in sorted(generations):
        _delete_generation(dataset_id, generation)


# ---------------------------------------------------------------------------------------------
# Preview (the provider looks at its own data; the data plane for consumers comes later)
# ---------------------------------------------------------------------------------------------


def log_preview(*, actor: Any, dataset: Dataset, rows: int) -> None:
    """Audit that the provider looked at rows of its own dataset."""
    with transaction.atomic():
        record_event(actor=actor, action="dataset.previewed", target_type="dataset", target_id=str(dataset.pk),
                     data={"rows": rows, "generation": dataset.generation})


def log_lookup(*, actor: Any, dataset: Dataset, column: str, rows: int) -> None:
    """Audit that the provider looked its own records up by an item's value (the value is not logged: it may be
    an L4 value; the audit records which item and how many records matched)."""
    with transaction.atomic():
        record_event(actor=actor, action="dataset.looked_up", target_type="dataset", target_id=str(dataset.pk),
                     data={"column": column[:64], "rows": rows, "generation": dataset.generation})
