"""Read an import file into plain tables: XLSX (the govshare workbook or any sheet of a foreign catalog),
CSV (UTF-8, optionally with its ``_items.csv`` companion), JSON (a list of records), or a ZIP of the two
CSVs. Problems with the file as a whole (encoding, broken JSON, unreadable workbook) raise
``ValidationFailed`` naming the row or field; nothing is written before the file has been read."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from govshare.catalog.importer import layout
from govshare.catalog.importer.mapping import clean, header_key, is_blank, table, unneutralise
from govshare.core.errors import ValidationFailed

Readable = str | Path | bytes | IO[bytes]


@dataclass
class Table:
    """Rows of one sheet or file: ``(row number as the user sees it, {header: value})``."""

    name: str
    headers: list[str]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    unit: str = "行"  # 行 (spreadsheet/CSV row) or 条记录 (JSON record)


@dataclass
class Source:
    format: str  # xlsx | csv | json | zip
    resources: Table
    items: Table | None = None


def _fail(message: str, field: str = "file", **details: Any) -> ValidationFailed:
    return ValidationFailed(message, field=field, details=details or None)


def _read_bytes(src: Readable | None) -> bytes | None:
    if src is None:
        return None
    if isinstance(src, bytes):
        data = src
    elif isinstance(src, str | Path):
        data = Path(src).read_bytes()
    else:
        data = src.read()
        if isinstance(data, str):  # a text stream handed over by mistake
            data = data.encode("utf-8")
    limit = int(settings.GOVSHARE.get("UPLOAD_MAX_BYTES", 200 * 1024 * 1024))
    if len(data) > limit:
        raise _fail(f"文件过大：{len(data)} 字节，上限 {limit} 字节 (file too large)")
    return data


def _kind(filename: str, data: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix == ".xls":
        raise _fail("不支持旧版 .xls 文件，请另存为 .xlsx (legacy .xls is not supported; save as .xlsx)")
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix == ".json":
        return "json"
    if suffix == ".zip" or data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return "xlsx" if "xl/workbook.xml" in zf.namelist() else "zip"
        except zipfile.BadZipFile:
            raise _fail("无法读取压缩文件 (not a valid ZIP/XLSX file)") from None
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 (BOM optional) or UTF-16 with a BOM. GBK/GB18030 files are detected and refused with the
    row of the first undecodable byte: silently guessing an encoding corrupts names."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        try:
            data.decode("gb18030")
            guess = "GBK/GB18030"
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data[:65536]).best()
            guess = best.encoding.upper() if best is not None else "未知 (unknown)"
        raise ValidationFailed(
            f"{what} 不是 UTF-8 编码（检测为 {guess}，第 {row} 行起无法解码）；请在 Excel 中另存为"
            f"“CSV UTF-8”后重试 (file is not UTF-8: looks like {guess}, row {row})",
            field="file", code="bad_encoding", details={"row": row, "encoding": guess},
        ) from None


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return unneutralise(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


def _unique_headers(raw: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for i, h in enumerate(raw):
        name = clean(h) or f"(第{i + 1}列)"
        base, n = name, 2
        while name in out:
            name, n = f"{base} ({n})", n + 1
        out.append(name)
    return out


def _known_headers(items: bool) -> set[str]:
    t = table()
    groups = t.item_fields if items else t.fields
    return {header_key(a) for aliases in groups.values() for a in aliases}


def _header_index(rows: Sequence[Sequence[Any]], items: bool) -> int:
    """The header row: the first of the top rows naming a known column (a title row may come first)."""
    known = _known_headers(items)
    first_filled = None
    for i, row in enumerate(rows[:10]):
        if any(not is_blank(c) for c in row):
            if first_filled is None:
                first_filled = i
            if any(header_key(c) in known for c in row if isinstance(c, str)):
                return i
    return first_filled if first_filled is not None else 0


def _table(name: str, raw_rows: Iterable[Sequence[Any]], items: bool = False) -> Table:
    rows = [list(r) for r in raw_rows]
    if not rows:
        return Table(name=name, headers=[])
    h = _header_index(rows, items)
    headers = _unique_headers(rows[h])
    out = Table(name=name, headers=headers)
    for offset, row in enumerate(rows[h + 1:], start=h + 2):
        if all(is_blank(c) for c in row):
            continue
        values = [_cell(c) for c in row]
        if len(values) > len(headers):
            extra = values[len(headers):]
            if any(not is_blank(v) for v in extra):
                raise _fail(f"{name} 第 {offset} 行的列数多于表头 (row {offset} has more cells than headers)",
                            row=offset)
        out.rows.append((offset, dict(zip(headers, values, strict=False))))
    return out


DEFAULT_MAX_UNCOMPRESSED = 1024 * 1024 * 1024


def _check_inflated(data: bytes) -> None:
    """Refuse a ZIP/XLSX whose members inflate past ``UPLOAD_MAX_XLSX_UNCOMPRESSED_BYTES`` (a zip bomb), before
    anything is decompressed. ``zipfile`` stops at each member's declared size, so the sum is a true bound."""
    limit = int(settings.GOVSHARE.get("UPLOAD_MAX_XLSX_UNCOMPRESSED_BYTES", DEFAULT_MAX_UNCOMPRESSED))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            inflated = sum(i.file_size for i in zf.infolist())
    except zipfile.BadZipFile:
        raise _fail("无法读取压缩文件 (not a valid ZIP/XLSX file)") from None
    if inflated > limit:
        raise _fail(f"文件解压后 {inflated} 字节，超过上限 {limit} 字节 (uncompressed size over the limit)",
                    size=inflated, max_bytes=limit)


def read_xlsx(data: bytes) -> Source:
    from openpyxl import load_workbook

    _check_inflated(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise _fail(f"无法读取 XLSX 文件：{exc.__class__.__name__} (unreadable workbook)") from None
    try:
        names = wb.sheetnames
        main = wb[layout.RESOURCE_SHEET] if layout.RESOURCE_SHEET in names else wb.worksheets[0]
        resources = _table(main.title, main.iter_rows(values_only=True))
        items = None
        if layout.ITEM_SHEET in names and main.title != layout.ITEM_SHEET:
            items = _table(layout.ITEM_SHEET, wb[layout.ITEM_SHEET].iter_rows(values_only=True), items=True)
    finally:
        wb.close()
    return Source(format="xlsx", resources=resources, items=items)


def read_csv(data: bytes, name: str, items: bool = False) -> Table:
    text = decode_text(data, name)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count) if first_line else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _fail(f"{name} 不是有效的 CSV：{exc} (malformed CSV)") from None
    return _table(name, rows, items=items)


def read_json(data: bytes, name: str) -> Table:
    text = decode_text(data, name)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{name} 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列 {exc.msg} "
            f"(broken JSON at line {exc.lineno}, column {exc.colno})",
            field="file", code="bad_json", details={"line": exc.lineno, "column": exc.colno},
        ) from None
    records = doc
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        if len(lists) != 1:
            raise _fail("JSON 须为记录列表，或只含一个记录列表的对象 (expected a list of records)")
        records = lists[0]
    if not isinstance(records, list):
        raise _fail("JSON 须为记录列表 (expected a list of records)")
    headers: list[str] = []
    out = Table(name=name, headers=headers, unit="条记录")
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise _fail(f"第 {i} 条记录不是对象 (record {i} is not an object)", row=i)
        row: dict[str, Any] = {}
        for k, v in rec.items():
            key = clean(k)
            if key not in headers:
                headers.append(key)
            row[key] = [_cell(x) for x in v if not isinstance(x, dict | list)] if isinstance(v, list) \
                else (_cell(v) if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False))
        out.rows.append((i, row))
    return out


def read_zip(data: bytes) -> Source:
    _check_inflated(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        csvs = [n for n in zf.namelist() if n.lower().endswith(".csv") and not n.endswith("/")]
        item_names = [n for n in csvs if n.lower().endswith(layout.ITEMS_CSV_SUFFIX)]
        main_names = [n for n in csvs if n not in item_names]
        if len(main_names) != 1 or len(item_names) > 1:
            raise _fail("ZIP 须含一个资源 CSV 和至多一个 _items.csv (expected one resources CSV and at most "
                        "one _items.csv)")
        resources = read_csv(zf.read(main_names[0]), Path(main_names[0]).name)
        items = read_csv(zf.read(item_names[0]), Path(item_names[0]).name, items=True) if item_names else None
    return Source(format="zip", resources=resources, items=items)


def items_companion(path: Path) -> Path:
    """``catalog.csv`` → ``catalog_items.csv``."""
    return path.with_name(path.stem + layout.ITEMS_CSV_SUFFIX)


def read_source(src: Readable, filename: str, items_src: Readable | None = None) -> Source:
    data = _read_bytes(src)
    assert data is not None
    if not data.strip():
        raise _fail("文件为空 (empty file)")
    kind = _kind(filename, data)
    name = Path(filename).name or "file"
    if kind == "xlsx":
        return read_xlsx(data)
    if kind == "zip":
        return read_zip(data)
    if kind == "json":
        return Source(format="json", resources=read_json(data, name))
    if items_src is None and isinstance(src, str | Path) and items_companion(Path(src)).is_file():
        items_src = items_companion(Path(src))
    items_data = _read_bytes(items_src)
    items = read_csv(items_data, Path(name).stem + layout.ITEMS_CSV_SUFFIX, items=True) if items_data else None
    return Source(format="csv", resources=read_csv(data, name), items=items)
