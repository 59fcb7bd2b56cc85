"""Reading uploaded tables: CSV, XLSX and JSON, into rows aligned with a resource's columns.

Row numbers are the ones the user sees: for CSV and XLSX the header is row 1 and the first data row is
row 2 (a CSV record spanning several lines because of a quoted line break still counts as one row, as in
Excel); for JSON, row N is the N-th object of the array.

Header cells map to data items by English column name (case-insensitive) or by the item's Chinese name;
a leading ``*`` (how templates mark required columns) is ignored. Unknown and duplicate columns, and
missing required columns, are problems.

Safety: the size of the upload is checked by the caller before anything is parsed. XLSX is a zip: its
declared uncompressed size is capped before openpyxl opens it (zip bomb), and ``zipfile`` never inflates
an entry beyond its declared size. openpyxl parses XML with ``defusedxml`` when that package is installed
(it refuses entity expansion and external entities); without it the stdlib parser is used, whose bundled
expat (≥ 2.4.1) already limits entity amplification ("billion laughs") — installing ``defusedxml`` is
still recommended. JSON is parsed in memory, so it has its own, smaller size cap.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO, Any, TypedDict

from django.conf import settings

from govshare.datasets.validation import Column

DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_XLSX_UNCOMPRESSED = 1024 * 1024 * 1024
_CHUNK = 1024 * 1024

# Encodings accepted from the charset-normalizer fallback: Chinese ones that the UTF-8 → GB18030 ladder
# does not cover (Big5 from 港澳台 sources, UTF-16/32 without a BOM). Anything else it might guess
# (cp1252, latin-1 …) would decode a broken file into plausible-looking mojibake, so it is refused.
_FALLBACK_ENCODINGS = frozenset({"big5", "big5hkscs", "cp950", "utf_16", "utf_16_le", "utf_16_be",
                                 "utf_32", "utf_32_le", "utf_32_be"})


class Problem(TypedDict):
    row: int | None
    column: str | None
    field: str | None
    reason: str


def problem(reason: str, *, row: int | None = None, column: str | None = None,
            field: str | None = None) -> Problem:
    return {"row": row, "column": column, "field": field, "reason": reason}


# (row number, values aligned with the columns, problems of the row's shape or None)
RawRow = tuple[int, list[Any], list[Problem] | None]


@dataclass
class Table:
    file_format: str
    encoding: str = ""
    labels: list[str] = field(default_factory=list)  # per column: the header text used, or the item name
    problems: list[Problem] = field(default_factory=list)  # structural: the upload cannot be read as rows
    rows: Iterator[RawRow] = field(default_factory=lambda: iter(()))
    close: Callable[[], None] = lambda: None


class TableError(Exception):
    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0]["reason"] if problems else "")
        self.problems = list(problems)


# ---------------------------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------------------------


def _norm_header(cell: Any) -> str:
    text = "" if cell is None else str(cell)
    return text.replace("\ufeff", "").strip().lstrip("*＊").strip()


class HeaderMap:
    """Maps header texts to column indexes (English column name, case-insensitive, or Chinese name)."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self._lookup: dict[str, int] = {}
        for i, c in enumerate(self.columns):
            self._lookup[c.column_name.lower()] = i
        for i, c in enumerate(self.columns):
            self._lookup.setdefault(c.name, i)
        for i, c in enumerate(self.columns):  # the data element's name, when it is unambiguous
            if c.element_name:
                self._lookup.setdefault(c.element_name, i)

    def index(self, text: str) -> int | None:
        return self._lookup.get(text) if text in self._lookup else self._lookup.get(text.lower())

    def map_header(self, header: Sequence[Any], *, row: int | None = 1,
                   required: bool = True) -> tuple[list[int | None], list[str], list[Problem]]:
        """(position in the header per column, label per column, problems)."""
        positions: list[int | None] = [None] * len(self.columns)
        labels = [c.name for c in self.columns]
        problems: list[Problem] = []
        for pos, cell in enumerate(header):
            text = _norm_header(cell)
            if not text:
                continue
            idx = self.index(text)
            if idx is None:
                problems.append(problem("未知列，与任何信息项都不对应 (unknown column: matches no data item)",
                                        row=row, column=text))
            elif positions[idx] is not None:
                problems.append(problem(f"列重复，与“{labels[idx]}”对应同一信息项 (duplicate column)",
                                        row=row, column=text, field=self.columns[idx].column_name))
            else:
                positions[idx] = pos
                labels[idx] = text
        if required:
            for i, c in enumerate(self.columns):
                if positions[i] is None and c.required:
                    problems.append(problem("缺少必填列 (required column is missing)", row=row, column=c.name,
                                            field=c.column_name))
        return positions, labels, problems


# ---------------------------------------------------------------------------------------------
# Format and encoding detection
# ---------------------------------------------------------------------------------------------


def detect_format(head: bytes, filename: str) -> str:
    ext = PurePath(filename or "").suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError(problem("不支持旧版 Excel (.xls) 文件，请另存为 .xlsx 或 CSV (legacy .xls is not supported)"))
    if ext in (".xlsx", ".xlsm"):
        raise TableError(problem("文件扩展名为 .xlsx，但内容不是有效的 XLSX 文件 (not a valid XLSX file)"))
    if ext == ".json":
        return "json"
    if ext in (".csv", ".txt", ".tsv"):
        return "csv"
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def _decodes(f: IO[bytes], encoding: str) -> bool:
    """Whether the whole stream decodes strictly (incremental, 1 MB at a time)."""
    f.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        while chunk := f.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        f.seek(0)
    return True


def detect_encoding(f: IO[bytes]) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, then charset-normalizer for the rest.

    The ladder is deterministic: text that is valid UTF-8 is practically never meant as GBK, and
    GB18030 is a superset of GBK and GB2312, so these two strict decodes settle almost every file a
    Chinese department produces (Excel on Chinese Windows saves CSV as GBK). Statistical detection
    (charset-normalizer) is unreliable on short, mostly-ASCII tables with a few Chinese names — it
    confuses GBK with Big5 or Shift-JIS — so it is only a fallback, and only for an allowlist of
    encodings (Big5, UTF-16/32 without BOM).
    """
    f.seek(0)
    head = f.read(4)
    f.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig" if _decodes(f, "utf-8-sig") else _unknown_encoding()
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16" if _decodes(f, "utf-16") else _unknown_encoding()
    if _decodes(f, "utf-8"):
        return "utf-8"
    if _decodes(f, "gb18030"):
        return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(f.read(_CHUNK)).best()
    f.seek(0)
    enc = codecs.lookup(best.encoding).name.replace("-", "_") if best is not None else ""
    if enc in _FALLBACK_ENCODINGS and _decodes(f, enc):
        return enc
    return _unknown_encoding()


def _unknown_encoding() -> str:
    raise TableError(problem("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV "
                             "(unknown text encoding: save the file as UTF-8 or GBK CSV)", field="file"))


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _open_csv(f: IO[bytes], columns: Sequence[Column]) -> Table:
    encoding = detect_encoding(f)
    text = io.TextIOWrapper(f, encoding=encoding, newline="")
    first = text.readline()
    delimiter = "\t" if "\t" in first and "," not in first else ","
    text.seek(0)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise TableError(problem(f"CSV 格式错误 (malformed CSV): {exc}", row=1)) from None
    if not header or not any(h.strip() for h in header):
        raise TableError(problem("第1行应为表头 (row 1 must be the header)", row=1))
    positions, labels, problems = HeaderMap(columns).map_header(header)
    def close() -> None:
        text.detach()  # the caller owns the binary stream

    return Table("csv", encoding, labels, problems, _csv_rows(reader, header, positions), close)


def _csv_rows(reader: Iterator[list[str]], header: list[str],
              positions: list[int | None]) -> Iterator[RawRow]:
    width = len(header)
    unlabelled = [j for j, h in enumerate(header) if not _norm_header(h)]
    n = 1
    try:
        for rec in reader:
            n += 1
            if not any(rec):
                continue  # a blank line
            probs: list[Problem] | None = None
            if len(rec) != width and (len(rec) < width or any(x.strip() for x in rec[width:])):
                probs = [problem(f"本行有 {len(rec)} 列，表头有 {width} 列 (row has {len(rec)} fields, "
                                 f"the header has {width})", row=n)]
                rec = (rec + [""] * width)[:width]
            if unlabelled and any(rec[j].strip() for j in unlabelled if j < len(rec)):
                probs = (probs or []) + [problem("没有表头的列中有数据 (a value under a column without header)",
                                                 row=n)]
            yield n, [rec[p] if p is not None else None for p in positions], probs
    except csv.Error as exc:
        yield n + 1, [None] * len(positions), [problem(f"CSV 格式错误 (malformed CSV): {exc}", row=n + 1)]


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------

# A literal "<mergeCell " can only be a tag: inside text XML escapes "<" as "&lt;".
_MERGE_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")
_CELL_RE = re.compile(r"([A-Z]+)([0-9]+)")


def _merged_ranges(zf: zipfile.ZipFile, sheet_path: str) -> list[str]:
    """Merged ranges of one worksheet, found by streaming its XML (constant memory, any size).

    openpyxl's read-only mode, needed to stream large sheets, does not expose merged cells, and opening
    the workbook normally builds every cell in memory (~1 KB each). ``<mergeCells>`` sits after
    ``<sheetData>`` in the part, so a byte scan of the decompressed stream finds it at C speed.
    """
    found: list[str] = []
    tail = b""
    with zf.open(sheet_path.lstrip("/")) as src:
        while chunk := src.read(_CHUNK):
            buf = tail + chunk
            last_end = 0
            for m in _MERGE_RE.finditer(buf):
                found.append(m.group(1).decode())
                last_end = m.end()
            tail = buf[max(last_end, len(buf) - 512):]
    return found


def _ref_row_col(ref: str) -> tuple[int, int]:
    m = _CELL_RE.fullmatch(ref.split(":")[0])
    if not m:
        return 0, 0
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def _open_xlsx(f: IO[bytes], columns: Sequence[Column]) -> Table:
    import openpyxl

    limit = int(settings.GOVSHARE.get("UPLOAD_MAX_XLSX_UNCOMPRESSED_BYTES", DEFAULT_MAX_XLSX_UNCOMPRESSED))
    try:
        zf = zipfile.ZipFile(f)
        inflated = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError):
        raise TableError(problem("不是有效的 XLSX 文件 (not a valid XLSX file)", field="file")) from None
    if inflated > limit:
        raise TableError(problem(f"XLSX 解压后超过 {limit // (1024 * 1024)} MB (uncompressed size over the limit)",
                                 field="file"))
    f.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and similar cosmetic warnings
            wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
    except Exception as exc:
        raise TableError(problem(f"无法读取 XLSX 文件 (cannot read the XLSX file): {type(exc).__name__}",
                                 field="file")) from None
    sheets = [ws for ws in wb.worksheets if getattr(ws, "sheet_state", "visible") == "visible"] or wb.worksheets
    if not sheets:
        wb.close()
        raise TableError(problem("XLSX 中没有工作表 (the workbook has no worksheet)", field="file"))
    ws = sheets[0]
    try:
        # The <dimension> tag is written by the producing program and may be wrong (A1:A1 is common);
        # read-only mode would silently stop at it, so read to the real end of the sheet instead.
        ws.reset_dimensions()
        rows = ws.iter_rows(values_only=True)
        header = list(next(rows, None) or ())
        sheet_path = getattr(ws, "_worksheet_path", None)
        paths = [sheet_path] if sheet_path else [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        merged = [ref for path in paths for ref in _merged_ranges(zf, path)]
    except Exception as exc:
        wb.close()
        raise TableError(problem(f"无法读取 XLSX 工作表 (cannot read the worksheet): {type(exc).__name__}",
                                 field="file")) from None
    if not any(_norm_header(h) for h in header):
        wb.close()
        raise TableError(problem("第1行应为表头 (row 1 must be the header)", row=1))
    positions, labels, problems = HeaderMap(columns).map_header(header)
    if merged:
        # Only the top-left cell of a merged range holds the value: the other rows would silently
        # read as empty. The whole sheet counts as the data area (the header is row 1).
        for ref in merged:
            row, col = _ref_row_col(ref)
            label = _norm_header(header[col - 1]) if 0 < col <= len(header) else None
            problems.append(problem(f"单元格 {ref} 为合并单元格，请取消合并并在每个单元格中填写值 "
                                    f"(merged cells {ref} are not allowed: unmerge and fill every cell)",
                                    row=row or None, column=label or None))
        wb.close()
        raise TableError(*problems)
    return Table("xlsx", "", labels, problems, _xlsx_rows(rows, len(header), positions), wb.close)


def _xlsx_rows(rows: Iterator[tuple[Any, ...]], width: int, positions: list[int | None]) -> Iterator[RawRow]:
    n = 1
    try:
        for cells in rows:
            n += 1
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                continue
            probs: list[Problem] | None = None
            if len(cells) > width and any(v is not None and str(v).strip() for v in cells[width:]):
                probs = [problem("表头以外的列中有数据 (values right of the last header column)", row=n)]
            k = len(cells)
            yield n, [cells[p] if p is not None and p < k else None for p in positions], probs
    except Exception as exc:
        yield n + 1, [None] * len(positions), [
            problem(f"无法读取 XLSX 第 {n + 1} 行 (cannot read the row): {type(exc).__name__}", row=n + 1)]


# ---------------------------------------------------------------------------------------------
# JSON (and dict rows from code)
# ---------------------------------------------------------------------------------------------


_ABSENT = object()


def dict_rows(objects: Iterable[Any], header_map: HeaderMap, *, first_row: int = 1) -> Iterator[RawRow]:
    """Rows given as mappings keyed by column name or Chinese name. Unknown keys are reported once."""
    plans: dict[tuple[Any, ...], tuple[list[Any], list[Problem]]] = {}
    reported: set[str] = set()
    ncols = len(header_map.columns)
    for n, obj in enumerate(objects, start=first_row):
        if not isinstance(obj, Mapping):
            yield n, [None] * ncols, [problem("每一行应为一个对象 (each row must be an object)", row=n)]
            continue
        keys = tuple(obj)
        plan = plans.get(keys)
        if plan is None:
            positions, _, probs = header_map.map_header(keys, row=None, required=False)
            plan = ([keys[p] if p is not None else _ABSENT for p in positions], probs)
            plans[keys] = plan
        keyplan, probs = plan
        get = obj.get
        values = [get(k) for k in keyplan]
        row_probs: list[Problem] | None = None
        for p in probs:
            col = p["column"] or ""
            if col not in reported:
                reported.add(col)
                row_probs = [*(row_probs or []), {**p, "row": n}]
        yield n, values, row_probs


def _open_json(f: IO[bytes], columns: Sequence[Column]) -> Table:
    limit = int(settings.GOVSHARE.get("UPLOAD_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))
    f.seek(0, io.SEEK_END)
    size = f.tell()
    if size > limit:
        raise TableError(problem(f"JSON 文件超过 {limit // (1024 * 1024)} MB，请改用 CSV "
                                 f"(JSON over the limit: use CSV for large files)", field="file"))
    encoding = detect_encoding(f)
    try:
        doc = json.loads(f.read().decode(encoding))
    except (ValueError, RecursionError) as exc:
        raise TableError(problem(f"JSON 格式错误 (malformed JSON): {exc}", field="file")) from None
    if isinstance(doc, dict) and isinstance(doc.get("rows"), list):
        doc = doc["rows"]
    if not isinstance(doc, list):
        raise TableError(problem('JSON 应为对象数组或 {"rows": [...]} (JSON must be a list of objects or '
                                 '{"rows": [...]})', field="file"))
    header_map = HeaderMap(columns)
    return Table("json", encoding, [c.name for c in columns], [], dict_rows(doc, header_map))


def open_table(f: IO[bytes], filename: str, columns: Sequence[Column]) -> Table:
    """Open an upload as a table. Problems that make the whole file unreadable come back in
    ``Table.problems`` with no rows; the caller closes the table."""
    f.seek(0)
    head = f.read(64)
    f.seek(0)
    fmt = ""
    try:
        fmt = detect_format(head, filename)
        if not head:
            raise TableError(problem("文件为空 (the file is empty)", field="file"))
        opener = {"csv": _open_csv, "xlsx": _open_xlsx, "json": _open_json}[fmt]
        return opener(f, columns)
    except TableError as exc:
        return Table(fmt, problems=exc.problems)
