"""GET /dp/v1/file?resource=CODE&format=csv|xlsx[&encrypt=sm4]: the granted view as a file.

The view is the grant's: row filter applied (:meth:`GrantInfo.matches` via :func:`records.iterate`), masked per
grant, verify_only items left out, in key order. Every row is watermarked for the grant
(:func:`govshare.exchange.watermark.embed`, keyed by the record key, over the text cells other than the key
column); the data label travels in the ``X-GS-Data-Label-*`` headers and, for XLSX, in the workbook's document
properties and a "数据标签" sheet. Cells starting with ``= + - @`` are neutralised with a leading apostrophe.

CSV is streamed as it is read (UTF-8 with BOM, for Excel/WPS). XLSX is written with openpyxl's write-only
workbook into a temporary file and then streamed (a ZIP cannot be written front to back).

``encrypt=sm4``: the bytes are encrypted with a fresh random SM4 key in framed SM4-GCM (format ``GSF1``, see
:mod:`.gsf` and docs/dataplane.md); the key comes wrapped with the calling system's SM2 public key in
``X-GS-Wrapped-Key`` (hex of ``C1 || C3 || C2``). The system must have registered its SM2 public key.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from govshare.core.crypto import generate_sm4_key, get_sm2_provider, sm3_hasher
from govshare.core.exports import neutralise as neutralise_cell
from govshare.exchange import watermark
from govshare.exchange.choices import ItemMode
from govshare.exchange.dataplane import records
from govshare.exchange.dataplane.cache import GrantInfo, System
from govshare.exchange.dataplane.gsf import encrypt_frames
from govshare.exchange.dataplane.query import bad
from govshare.exchange.dataplane.responses import DataPlaneError

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_WM_KEY = "\x00wm-key"  # the record key, carried beside the row for embed() and dropped before writing
_DANGEROUS = ("=", "+", "-", "@")


@dataclass
class FilePlan:
    format: str
    encrypt: bool
    columns: list[str]
    data_key: bytes = b""
    wrapped_key: str = ""


@dataclass
class FileStats:
    rows: int = 0
    bytes: int = 0
    digest: Any = field(default_factory=sm3_hasher)


def plan_file(grant: GrantInfo, system: System, params: dict[str, str]) -> FilePlan:
    fmt = params.get("format", "csv")
    if fmt not in CONTENT_TYPES:
        raise bad("format 须为 csv 或 xlsx (format must be csv or xlsx)", "format")
    enc = params.get("encrypt", "")
    if enc not in ("", "sm4"):
        raise bad("encrypt 只能为 sm4 (encrypt must be sm4)", "encrypt")
    plan = FilePlan(format=fmt, encrypt=enc == "sm4", columns=grant.readable())
    if plan.encrypt:
        if not system.sm2_public_key:
            raise DataPlaneError("sm2_key_not_registered", "加密文件须先登记信息系统的 SM2 公钥 "
                                 "(register the system's SM2 public key to receive encrypted files)")
        plan.data_key = generate_sm4_key()
        plan.wrapped_key = get_sm2_provider().encrypt(system.sm2_public_key, plan.data_key).hex()
    return plan


def neutralise(value: Any, numeric: bool = False) -> Any:
    """A leading apostrophe for text that a spreadsheet would run as a formula (numbers stay numbers)."""
    return neutralise_cell(value, numeric=numeric, prefixes=_DANGEROUS)


def _text_columns(grant: GrantInfo, columns: Sequence[str]) -> list[str]:
    key = grant.resource.key_column
    out = []
    for c in columns:
        col = grant.resource.columns[c]
        if c != key and (col.data_type in ("string", "enum") or grant.items.get(c) == ItemMode.MASKED):
            out.append(c)
    return out


def _rows(grant: GrantInfo, plan: FilePlan, page_rows: int, stats: FileStats) -> Iterator[dict[str, Any]]:
    """Projected, watermarked rows of the granted view (a page at a time through embed())."""
    text_columns = _text_columns(grant, plan.columns)
    page: list[dict[str, Any]] = []

    def flush() -> list[dict[str, Any]]:
        marked = watermark.embed(page, key_column=_WM_KEY, secret=grant.watermark_secret, text_columns=text_columns)
        for row in marked:
            row.pop(_WM_KEY, None)
        page.clear()
        return marked

    for key, record in records.iterate(grant, page_rows=page_rows):
        row = records.project(grant, record, plan.columns)
        row[_WM_KEY] = key
        page.append(row)
        stats.rows += 1
        if len(page) >= page_rows:
            yield from flush()
    if page:
        yield from flush()


def _numeric(grant: GrantInfo, column: str) -> bool:
    return (grant.resource.columns[column].data_type in ("integer", "decimal")
            and grant.items.get(column) == ItemMode.PLAIN)


def csv_bytes(grant: GrantInfo, plan: FilePlan, *, page_rows: int, chunk_bytes: int,
              stats: FileStats) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    numeric = [_numeric(grant, c) for c in plan.columns]
    writer.writerow(plan.columns)
    first = True
    for row in _rows(grant, plan, page_rows, stats):
        writer.writerow([neutralise(row.get(c), n) for c, n in zip(plan.columns, numeric, strict=True)])
        if buf.tell() >= chunk_bytes:
            yield (("\ufeff" if first else "") + buf.getvalue()).encode("utf-8")
            first = False
            buf.seek(0)
            buf.truncate()
    yield (("\ufeff" if first else "") + buf.getvalue()).encode("utf-8")


def _cell(value: Any, numeric: bool) -> Any:
    if numeric and isinstance(value, str):
        try:
            number = Decimal(value)
        except (InvalidOperation, ValueError):
            return neutralise(value)
        return int(number) if number == number.to_integral_value() and "." not in value else float(number)
    return neutralise(value)


def xlsx_bytes(grant: GrantInfo, plan: FilePlan, label: dict[str, Any], *, page_rows: int, chunk_bytes: int,
               stats: FileStats) -> Iterator[bytes]:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("数据")
    ws.append(plan.columns)
    numeric = [_numeric(grant, c) for c in plan.columns]
    for row in _rows(grant, plan, page_rows, stats):
        ws.append([_cell(row.get(c), n) for c, n in zip(plan.columns, numeric, strict=True)])
    info = wb.create_sheet("数据标签")
    for name, value in watermark.label_fields(**label).items():
        info.append([name, neutralise(value)])
    info.append([])
    info.append(["信息项 (item)", "名称 (name)", "授权方式 (mode)"])
    for c in plan.columns:
        info.append([c, neutralise(grant.resource.columns[c].label), grant.items[c]])
    watermark.xlsx_properties(wb, **label)
    with tempfile.TemporaryFile() as tmp:
        wb.save(tmp)
        tmp.seek(0)
        while chunk := tmp.read(chunk_bytes):
            yield chunk


def body(grant: GrantInfo, plan: FilePlan, label: dict[str, Any], *, page_rows: int, chunk_bytes: int,
         stats: FileStats, done: Callable[[FileStats, bool], None]) -> Iterator[bytes]:
    """The response body; ``done(stats, complete)`` runs when it ends (``complete`` False when the client went
    away or an error cut it short)."""
    complete = False
    try:
        if plan.format == "csv":
            chunks = csv_bytes(grant, plan, page_rows=page_rows, chunk_bytes=chunk_bytes, stats=stats)
        else:
            chunks = xlsx_bytes(grant, plan, label, page_rows=page_rows, chunk_bytes=chunk_bytes, stats=stats)
        if plan.encrypt:
            chunks = encrypt_frames(plan.data_key, chunks, chunk_bytes)
        for chunk in chunks:
            if chunk:
                stats.bytes += len(chunk)
                stats.digest.update(chunk)
                yield chunk
        complete = True
    finally:
        done(stats, complete)
