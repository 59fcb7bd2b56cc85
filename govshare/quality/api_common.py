"""The quality router and the download helpers its endpoints share."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from ninja import Router

from govshare.core.exports import neutralise_text

router = Router(tags=["quality 数据质量与疑义数据"])


def _download(body: Iterator[bytes], content_type: str, filename: str, truncated: bool) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Govshare-Truncated"] = "1" if truncated else "0"
    return response


def csv_download(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]], filename: str,
                 truncated: bool) -> StreamingHttpResponse:
    """UTF-8 with BOM (Chinese spreadsheets detect it); every cell neutralised against formula injection."""

    def body() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([f"{zh} ({en})" for en, zh in columns])
        yield buf.getvalue().encode("utf-8-sig")
        for row in rows:
            buf.seek(0)
            buf.truncate()
            cells = []
            for name, _ in columns:
                value = row.get(name)
                if isinstance(value, dt.date):
                    value = value.isoformat()
                elif isinstance(value, bool):
                    value = "是" if value else "否"
                elif isinstance(value, dict | list):
                    value = json.dumps(value, ensure_ascii=False, sort_keys=True)
                cells.append(neutralise_text(value))
            writer.writerow(cells)
            yield buf.getvalue().encode("utf-8")

    return _download(body(), "text/csv; charset=utf-8", filename, truncated)


def json_download(rows: Iterable[dict[str, Any]], filename: str, truncated: bool) -> StreamingHttpResponse:
    def body() -> Iterator[bytes]:
        yield b'{"items":['
        for i, row in enumerate(rows):
            yield (b"," if i else b"") + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False).encode("utf-8")
        yield f'],"truncated":{"true" if truncated else "false"}}}'.encode("ascii")

    return _download(body(), "application/json; charset=utf-8", filename, truncated)
