"""Builders of hostile files and small request helpers for the security tests."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import openpyxl
from django.test import Client

from govshare.core.identifiers import make_resident_id

HEADER = ["公民身份号码", "姓名"]
SHEET = "xl/worksheets/sheet1.xml"
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def rid(n: int) -> str:
    return make_resident_id("445102", dt.date(1990, 1, 1) + dt.timedelta(days=n), 1)


def csv_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def xlsx_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def replace_member(xlsx: bytes, member: str, content: bytes) -> bytes:
    """``xlsx`` with one ZIP member's bytes replaced (or added)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info.filename))
        dst.writestr(member, content)
    return out.getvalue()


def billion_laughs(levels: int = 9) -> str:
    """A DTD whose entity ``&lol{levels};`` expands to 10**levels copies of "lol"."""
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return "<!DOCTYPE worksheet [" + "".join(lines) + "]>"


def sheet_xml(cells: Sequence[str], doctype: str = "", padding: str = "") -> bytes:
    """A worksheet with one header row (``cells`` as inline strings, entities allowed) and optional padding."""
    row = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{c}</t></is></c>' for i, c in enumerate(cells))
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet xmlns="{SHEET_NS}">{padding}'
            f'<sheetData><row r="1">{row}</row></sheetData></worksheet>').encode()


def laughing_xlsx(header: Sequence[str]) -> bytes:
    """A workbook whose first sheet's header cell is a billion-laughs entity (~3 GB if expanded)."""
    cells = ["&lol9;", *header[1:]]
    return replace_member(xlsx_bytes([], header), SHEET, sheet_xml(cells, billion_laughs(9)))


def xxe_xlsx(header: Sequence[str], path: str = "/etc/passwd") -> bytes:
    """A workbook whose header cell is an external entity pointing at a local file."""
    doctype = f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file://{path}">]>'
    return replace_member(xlsx_bytes([], header), SHEET, sheet_xml(["&xxe;", *header[1:]], doctype))


def zip_bomb_xlsx(header: Sequence[str], inflated_bytes: int) -> bytes:
    """A workbook whose sheet XML inflates to ``inflated_bytes`` (a comment of zeros: compresses ~1000:1)."""
    padding = "<!--" + "0" * inflated_bytes + "-->"
    return replace_member(xlsx_bytes([], header), SHEET, sheet_xml(list(header), padding=padding))


def upload(c: Client, dataset: Any, name: str, content: bytes) -> Any:
    f = io.BytesIO(content)
    f.name = name
    return c.post(f"/api/v1/datasets/{dataset.pk}/uploads", {"file": f})


def catalog_import(c: Client, name: str, content: bytes, **params: Any) -> Any:
    f = io.BytesIO(content)
    f.name = name
    query = "&".join(f"{k}={str(v).lower()}" for k, v in params.items())
    return c.post("/api/v1/catalog/import" + (f"?{query}" if query else ""), {"file": f})


def catalog_rows(**values: Any) -> list[dict[str, Any]]:
    base = {"信息资源名称": "示例资源", "资源分类代码": "399001", "提供方": "市公安局", "共享类型": "有条件共享",
            "共享方式": "接口", "开放类型": "不予开放", "更新周期": "每月", "涉密属性": "非涉密", "摘要": "示例"}
    return [{**base, **values}]


def catalog_json(**values: Any) -> bytes:
    return json.dumps(catalog_rows(**values), ensure_ascii=False).encode()


def error(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert body["ok"] is False, body
    return dict(body["error"])
