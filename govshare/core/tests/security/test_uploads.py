"""Hostile uploads: every one is refused with a clear error naming the file, and writes nothing.

Covers the catalog import (POST /api/v1/catalog/import) and the dataset upload (POST /api/v1/datasets/{id}/uploads):
XML entity expansion (billion laughs) and external entities (XXE) inside an XLSX, zip bombs, uploads over
``GOVSHARE['UPLOAD_MAX_BYTES']``, and path traversal in the uploaded file's name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import openpyxl.xml
import pytest

from govshare.catalog.models import Resource
from govshare.conftest import client_for
from govshare.core.tests.security import helpers as h
from govshare.datasets.models import Dataset, DatasetRecord, DatasetUpload

pytestmark = pytest.mark.django_db

CATALOG_HEADER = ["信息资源名称", "资源分类代码", "提供方", "摘要"]


def _records(dataset: Dataset) -> int:
    return DatasetRecord.objects.filter(dataset=dataset).count()


def test_openpyxl_parses_with_defusedxml() -> None:
    # openpyxl hands every XML part to defusedxml when it is importable (pyproject: "defusedxml>=0.7").
    assert openpyxl.xml.DEFUSEDXML is True


@pytest.mark.parametrize("hostile", ["billion_laughs", "xxe"])
def test_xml_entities_in_dataset_xlsx_are_refused(hostile: str, dataset: Dataset, provider: Any) -> None:
    data = h.laughing_xlsx(h.HEADER) if hostile == "billion_laughs" else h.xxe_xlsx(h.HEADER)
    started = time.monotonic()
    resp = h.upload(client_for(provider), dataset, "人口.xlsx", data)
    assert time.monotonic() - started < 10  # refused at parse time, not after expanding gigabytes
    assert resp.status_code == 422, resp.content
    err = h.error(resp)
    assert err["code"] == "validation_failed" and err["details"]["field"] == "file"
    assert "root:" not in resp.content.decode()  # /etc/passwd never read into the answer
    assert _records(dataset) == 0
    dataset.refresh_from_db()
    assert dataset.generation == 0 or not DatasetRecord.objects.filter(dataset=dataset).exists()


@pytest.mark.parametrize("hostile", ["billion_laughs", "xxe"])
def test_xml_entities_in_catalog_xlsx_are_refused(hostile: str, seeded: None, data_office: Any) -> None:
    data = h.laughing_xlsx(CATALOG_HEADER) if hostile == "billion_laughs" else h.xxe_xlsx(CATALOG_HEADER)
    before = Resource.objects.count()
    started = time.monotonic()
    resp = h.catalog_import(client_for(data_office), "目录.xlsx", data, create_departments=True)
    assert time.monotonic() - started < 10
    assert resp.status_code == 422, resp.content
    err = h.error(resp)
    assert err["details"]["field"] == "file" and "XLSX" in err["message"]
    assert "root:" not in resp.content.decode()
    assert Resource.objects.count() == before


def test_zip_bomb_dataset_xlsx_is_refused(dataset: Dataset, provider: Any, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_XLSX_UNCOMPRESSED_BYTES": 2 * 1024 * 1024}
    bomb = h.zip_bomb_xlsx(h.HEADER, 8 * 1024 * 1024)
    assert len(bomb) < 64 * 1024  # small on the wire
    resp = h.upload(client_for(provider), dataset, "bomb.xlsx", bomb)
    assert resp.status_code == 422, resp.content
    err = h.error(resp)
    assert err["details"]["field"] == "file"
    problems = err["details"]["problems"]
    assert any("解压后" in p["reason"] or "uncompressed" in p["reason"] for p in problems), problems
    assert _records(dataset) == 0


def test_zip_bomb_catalog_xlsx_is_refused(seeded: None, data_office: Any, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_XLSX_UNCOMPRESSED_BYTES": 2 * 1024 * 1024}
    before = Resource.objects.count()
    resp = h.catalog_import(client_for(data_office), "目录.xlsx", h.zip_bomb_xlsx(CATALOG_HEADER, 8 * 1024 * 1024),
                            create_departments=True)
    assert resp.status_code == 422, resp.content
    err = h.error(resp)
    assert err["details"]["field"] == "file" and "uncompressed" in err["message"]
    assert err["details"]["max_bytes"] == 2 * 1024 * 1024
    assert Resource.objects.count() == before


def test_dataset_upload_over_the_size_limit_is_refused(dataset: Dataset, provider: Any, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_BYTES": 1000}
    rows = [[h.rid(n), f"测试{n}"] for n in range(60)]
    data = h.csv_bytes(rows)
    assert len(data) > 1000
    resp = h.upload(client_for(provider), dataset, "big.csv", data)
    assert resp.status_code == 422, resp.content
    err = h.error(resp)
    assert err["details"]["field"] == "file" and "1000" in err["message"]
    assert _records(dataset) == 0
    # A file under the limit is accepted, so the refusal was the size.
    ok = h.upload(client_for(provider), dataset, "small.csv", h.csv_bytes(rows[:5]))
    assert ok.status_code == 201, ok.content and _records(dataset) == 5


def test_catalog_import_over_the_size_limit_is_refused(seeded: None, data_office: Any, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_BYTES": 200}
    before = Resource.objects.count()
    data = h.catalog_json(摘要="很长的摘要" * 40)
    resp = h.catalog_import(client_for(data_office), "目录.json", data, create_departments=True)
    assert resp.status_code == 422, resp.content
    assert h.error(resp)["details"]["field"] == "file" and "200" in h.error(resp)["message"]
    assert Resource.objects.count() == before


TRAVERSALS = ["../../../../tmp/gs-evil.csv", "..\\..\\windows\\gs-evil.csv", "/etc/cron.d/gs-evil.csv",
              "C:\\temp\\..\\gs-evil.csv"]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_traversal_in_dataset_upload_name_keeps_only_the_base_name(name: str, dataset: Dataset, provider: Any,
                                                                    settings: Any) -> None:
    # The platform never stores an upload under its client-given name: it reads the stream into the database.
    # The recorded name is the base name only, so nothing downstream can be tricked into a path.
    resp = h.upload(client_for(provider), dataset, name, h.csv_bytes([[h.rid(1), "张三"]]))
    assert resp.status_code == 201, resp.content
    stored = DatasetUpload.objects.get(pk=resp.json()["id"]).filename
    assert stored == "gs-evil.csv", stored
    assert not any(Path(p).exists() for p in ("/tmp/gs-evil.csv", "/etc/cron.d/gs-evil.csv"))
    assert not list(Path(settings.GOVSHARE_HOME).rglob("gs-evil.csv"))


def test_traversal_in_dataset_upload_name_through_the_service(dataset: Dataset, provider: Any) -> None:
    # The same rule holds for callers that bypass HTTP's own sanitising (CLI, connectors).
    import io

    from govshare.datasets import services

    up = services.upload(actor=provider, dataset=dataset, filename="..\\..\\x/../../gs-evil.csv",
                         stream=io.BytesIO(h.csv_bytes([[h.rid(2), "李四"]])))
    assert up.filename == "gs-evil.csv"


@pytest.mark.parametrize("name", TRAVERSALS[:2])
def test_traversal_in_catalog_import_name_keeps_only_the_base_name(name: str, seeded: None, data_office: Any,
                                                                   settings: Any) -> None:
    resp = h.catalog_import(client_for(data_office), name.replace(".csv", ".json"),
                            h.catalog_json(信息资源名称="路径测试资源"), create_departments=True)
    assert resp.status_code == 200, resp.content
    assert resp.json()["filename"] == "gs-evil.json"
    assert Resource.objects.filter(name="路径测试资源").count() == 1
    assert not list(Path(settings.GOVSHARE_HOME).rglob("gs-evil.*"))
