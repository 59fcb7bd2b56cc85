from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.datasets.models import Dataset, DatasetRecord, DatasetUpload
from govshare.datasets.tests.conftest import (
    HEADER_EN,
    HEADER_ZH,
    bad_checksum,
    csv_bytes,
    json_bytes,
    person,
    post_file,
    rid,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db


def _live(dataset: Dataset) -> dict[str, dict[str, Any]]:
    dataset.refresh_from_db()
    return {r.key: r.data for r in DatasetRecord.objects.filter(dataset=dataset, generation=dataset.generation)}


def _problems(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.content
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and err["details"]["field"] == "file"
    return list(err["details"]["problems"])


# ---------------------------------------------------------------------------------------------
# Formats and encodings
# ---------------------------------------------------------------------------------------------


def test_utf8_csv_with_chinese_header(pc: Client, dataset: Dataset) -> None:
    rows = [person(1), person(2, birth_date="1985-3-7", mobile=" 13900000002 ")]
    r = post_file(pc, dataset, "人口.csv", csv_bytes(rows))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "applied" and body["rows_total"] == 2 and body["encoding"] == "utf-8"
    assert body["file_format"] == "csv" and body["problems"] == [] and body["filename"] == "人口.csv"
    live = _live(dataset)
    assert dataset.generation == body["generation"] == 1 and dataset.row_count == 2
    assert live[rid(1)] == {"id_number": rid(1), "person_name": "测试1", "birth_date": "1990-01-01",
                            "mobile": "13800000001", "marital_status": "已婚"}
    assert live[rid(2)]["birth_date"] == "1985-03-07" and live[rid(2)]["mobile"] == "13900000002"
    ev = AuditEvent.objects.get(action="dataset.upload_applied")
    assert ev.target_id == str(dataset.pk) and ev.data["rows"] == 2 and ev.data["generation"] == 1


def test_utf8_bom_csv_with_english_header(pc: Client, dataset: Dataset) -> None:
    content = b"\xef\xbb\xbf" + csv_bytes([person(1), person(2)], header=[h.upper() for h in HEADER_EN])
    r = post_file(pc, dataset, "people.csv", content)
    assert r.status_code == 201, r.content
    assert r.json()["encoding"] == "utf-8-sig"
    assert _live(dataset)[rid(2)]["person_name"] == "测试2"


def test_gbk_csv_is_detected(pc: Client, dataset: Dataset) -> None:
    # What Excel on Chinese Windows writes: GBK, CRLF line ends, Chinese header and values.
    rows = [person(1, person_name="欧阳娜娜"), person(2, person_name="张三丰", marital_status="未婚")]
    content = csv_bytes(rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    r = post_file(pc, dataset, "户籍人口.csv", content)
    assert r.status_code == 201, r.content
    assert r.json()["encoding"] == "gb18030"
    live = _live(dataset)
    assert live[rid(1)]["person_name"] == "欧阳娜娜" and live[rid(2)]["marital_status"] == "未婚"


def test_gb18030_only_characters(pc: Client, dataset: Dataset) -> None:
    # 𠀀 (U+20000) and 䶮 exist in GB18030 but not in GBK.
    content = csv_bytes([person(1, person_name="刘䶮"), person(2, person_name="王𠀀")], encoding="gb18030")
    r = post_file(pc, dataset, "p.csv", content)
    assert r.status_code == 201, r.content
    assert _live(dataset)[rid(2)]["person_name"] == "王𠀀"


def test_xlsx_with_typed_cells(pc: Client, dataset: Dataset) -> None:
    rows = [
        [rid(1), "测试1", dt.datetime(1990, 1, 1), 13800000001, "已婚"],  # a date cell, a number cell
        [rid(2), "测试2", "1991-02-03", "13800000002", None],
        [None, None, None, None, None],  # an empty row is skipped
        [rid(3), "测试3", 19920304, 13800000003, "离婚"],
    ]
    r = post_file(pc, dataset, "人口.xlsx", xlsx_bytes(rows))
    assert r.status_code == 201, r.content
    assert r.json()["file_format"] == "xlsx" and r.json()["rows_total"] == 3
    live = _live(dataset)
    assert live[rid(1)]["birth_date"] == "1990-01-01" and live[rid(1)]["mobile"] == "13800000001"
    assert live[rid(2)]["marital_status"] is None
    assert live[rid(3)]["birth_date"] == "1992-03-04"


def test_xlsx_resident_id_typed_as_a_number_is_explained(pc: Client, dataset: Dataset) -> None:
    r = post_file(pc, dataset, "p.xlsx", xlsx_bytes([[float(rid(1)), "测试1", None, None, None]]))
    problems = _problems(r)
    assert problems[0]["row"] == 2 and problems[0]["column"] == "公民身份号码"
    assert "文本格式" in problems[0]["reason"]


def test_xlsx_merged_cells_are_rejected(pc: Client, dataset: Dataset) -> None:
    rows = [person(1), person(2, marital_status=None)]
    r = post_file(pc, dataset, "p.xlsx", xlsx_bytes(rows, merge="E2:E3"))
    problems = _problems(r)
    merged = [p for p in problems if "合并单元格" in p["reason"]]
    assert merged and merged[0]["row"] == 2 and merged[0]["column"] == "婚姻状况"
    assert "E2:E3" in merged[0]["reason"] and "merged cells" in merged[0]["reason"]
    assert not DatasetRecord.objects.filter(dataset=dataset).exists()


def test_json_list_and_rows_object(pc: Client, dataset: Dataset) -> None:
    objs = [dict(zip(HEADER_EN, person(1), strict=True)), dict(zip(HEADER_ZH, person(2), strict=True))]
    r = post_file(pc, dataset, "p.json", json_bytes(objs))
    assert r.status_code == 201, r.content
    assert r.json()["file_format"] == "json" and set(_live(dataset)) == {rid(1), rid(2)}
    r = post_file(pc, dataset, "data", json_bytes({"rows": [dict(zip(HEADER_EN, person(3), strict=True))]}))
    assert r.status_code == 201, r.content
    assert set(_live(dataset)) == {rid(3)}


def test_json_problems_use_object_numbers(pc: Client, dataset: Dataset) -> None:
    objs = [dict(zip(HEADER_EN, person(1), strict=True)), {"id_number": rid(2), "person_name": "x", "extra": 1},
            "not an object"]
    problems = _problems(post_file(pc, dataset, "p.json", json_bytes(objs)))
    assert {"row": 2, "column": "extra"} in [{"row": p["row"], "column": p["column"]} for p in problems]
    assert any(p["row"] == 3 and "对象" in p["reason"] for p in problems)


# ---------------------------------------------------------------------------------------------
# Problems: reported with row, column and reason; nothing written
# ---------------------------------------------------------------------------------------------


def test_bad_rows_are_reported_and_nothing_is_written(pc: Client, dataset: Dataset) -> None:
    assert post_file(pc, dataset, "good.csv", csv_bytes([person(100), person(101)])).status_code == 201
    before = _live(dataset)
    gen_before = dataset.generation
    rows = [
        person(1),                                       # row 2: fine
        person(2, id_number=bad_checksum(rid(2))),       # row 3: bad 身份证号 checksum
        person(3, person_name="名字实在是太长了超过十个字"),   # row 4: longer than 10
        person(4, person_name=""),                       # row 5: required value missing
        person(5, birth_date="1990-02-30"),              # row 6: impossible date
        person(6, birth_date="90/1/1"),                  # row 7: bad date format
        person(1, person_name="重复"),                    # row 8: duplicate key of row 2
        person(7, mobile="12345"),                       # row 9: bad mobile
        person(8, marital_status="同居"),                 # row 10: not in the enumeration
    ]
    r = post_file(pc, dataset, "bad.csv", csv_bytes(rows))
    problems = _problems(r)
    got = {(p["row"], p["column"]): p["reason"] for p in problems}
    assert set(got) == {(3, "公民身份号码"), (4, "姓名"), (5, "姓名"), (6, "出生日期"), (7, "出生日期"),
                        (8, "公民身份号码"), (9, "手机号码"), (10, "婚姻状况")}
    assert "校验位" in got[(3, "公民身份号码")] and "check digit" in got[(3, "公民身份号码")]
    assert "超过 10" in got[(4, "姓名")]
    assert "必填" in got[(5, "姓名")] and "required" in got[(5, "姓名")]
    assert "有效日期" in got[(6, "出生日期")] and "YYYY-MM-DD" in got[(7, "出生日期")]
    assert "重复" in got[(8, "公民身份号码")] and "row 2" in got[(8, "公民身份号码")]
    assert all(p["field"] for p in problems)
    details = r.json()["error"]["details"]
    assert details["problem_count"] == 8 and details["rows_total"] == 9
    # Nothing written: the live generation is unchanged and no staged row is left behind.
    assert _live(dataset) == before and dataset.generation == gen_before
    assert DatasetRecord.objects.filter(dataset=dataset).count() == len(before)
    up = DatasetUpload.objects.get(pk=details["upload_id"])
    assert up.status == "rejected" and up.problem_count == 8 and up.rows_valid == 1
    ev = AuditEvent.objects.get(action="dataset.upload_rejected")
    assert ev.result == "failed" and ev.data["problem_count"] == 8
    assert rid(2)[:10] not in str(ev.data)  # reasons only, no values in the log


def test_header_problems(pc: Client, dataset: Dataset) -> None:
    content = csv_bytes([["x", rid(1), "1990-01-01", "1"]], header=["备注", "公民身份号码", "出生日期", "id_number"])
    problems = _problems(post_file(pc, dataset, "p.csv", content))
    header = [(p["column"], p["reason"][:4]) for p in problems if p["row"] == 1]
    assert ("备注", "未知列，") in header
    assert ("id_number", "列重复，") in header
    assert ("姓名", "缺少必填") in header


def test_row_with_wrong_field_count(pc: Client, dataset: Dataset) -> None:
    content = csv_bytes([person(1), [rid(2), "测试2"], [*person(3), "多余"]])
    problems = _problems(post_file(pc, dataset, "p.csv", content))
    assert [p["row"] for p in problems if "表头有" in p["reason"]] == [3, 4]


def test_reported_problems_are_capped(pc: Client, dataset: Dataset, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_REPORTED_PROBLEMS": 100}
    rows = [person(i, birth_date="bad") for i in range(150)]
    r = post_file(pc, dataset, "p.csv", csv_bytes(rows))
    problems = _problems(r)
    assert len(problems) == 100 and r.json()["error"]["details"]["problem_count"] == 150
    assert problems[0]["row"] == 2 and problems[-1]["row"] == 101


def test_unreadable_files(pc: Client, dataset: Dataset) -> None:
    for name, content, words in [
        ("p.csv", b"", "文件为空"),
        ("p.xlsx", b"not a zip", "XLSX"),
        ("p.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, ".xls"),
        ("p.json", b"{not json", "JSON"),
        ("p.json", b'{"a": 1}', "对象数组"),
        ("p.csv", "公民身份号码,姓名\n".encode() + b"\x81\x30", "编码"),
        ("p.csv", csv_bytes([]), "没有数据行"),
    ]:
        problems = _problems(post_file(pc, dataset, name, content))
        assert any(words in p["reason"] for p in problems), (name, problems)
    assert not DatasetRecord.objects.filter(dataset=dataset).exists()
    assert DatasetUpload.objects.filter(dataset=dataset, status="rejected").count() == 7


# ---------------------------------------------------------------------------------------------
# Replacement, size, concurrency, abandoned loads
# ---------------------------------------------------------------------------------------------


def test_second_upload_replaces_the_first(pc: Client, dataset: Dataset) -> None:
    assert post_file(pc, dataset, "a.csv", csv_bytes([person(i) for i in range(5)])).status_code == 201
    r = post_file(pc, dataset, "b.csv", csv_bytes([person(i, person_name=f"新{i}") for i in range(3, 10)]))
    assert r.status_code == 201 and r.json()["generation"] == 2
    live = _live(dataset)
    assert dataset.generation == 2 and dataset.row_count == 7
    assert set(live) == {rid(i) for i in range(3, 10)} and live[rid(3)]["person_name"] == "新3"
    # The old generation is gone.
    assert set(DatasetRecord.objects.filter(dataset=dataset).values_list("generation", flat=True)) == {2}
    history = pc.get(f"/api/v1/datasets/{dataset.pk}/uploads").json()["items"]
    assert [(u["filename"], u["status"]) for u in history] == [("b.csv", "applied"), ("a.csv", "applied")]


def test_oversize_upload_is_refused(pc: Client, dataset: Dataset, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_BYTES": 2000}
    content = csv_bytes([person(i) for i in range(60)])
    assert len(content) > 2000
    r = post_file(pc, dataset, "big.csv", content)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["details"]["field"] == "file" and "2000" in err["message"]
    assert not DatasetRecord.objects.filter(dataset=dataset).exists()
    assert AuditEvent.objects.filter(action="dataset.upload_refused", result="denied").exists()


def test_huge_body_is_refused_before_parsing(pc: Client, dataset: Dataset, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_BYTES": 10}
    content = csv_bytes([person(i) for i in range(2000)])  # > 10 bytes + the multipart slack
    r = post_file(pc, dataset, "big.csv", content)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "file"
    assert not DatasetUpload.objects.exists()


def test_missing_file_field(pc: Client, dataset: Dataset) -> None:
    r = pc.post(f"/api/v1/datasets/{dataset.pk}/uploads", {"other": "x"})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "file"


def test_a_running_upload_blocks_another(pc: Client, dataset: Dataset) -> None:
    DatasetUpload.objects.create(node_id=dataset.node_id, dataset=dataset, generation=5, status="staging")
    r = post_file(pc, dataset, "p.csv", csv_bytes([person(1)]))
    assert r.status_code == 409
    assert AuditEvent.objects.filter(action="dataset.upload_refused", data__reason="busy").exists()


def test_an_abandoned_upload_is_cleaned_up(pc: Client, dataset: Dataset, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_STALE_SECONDS": 60}
    # A load killed mid-way: STAGING, rows of generation 7 written, heartbeat long stale.
    dead = DatasetUpload.objects.create(node_id=dataset.node_id, dataset=dataset, generation=7, status="staging")
    DatasetUpload.objects.filter(pk=dead.pk).update(updated_at=dead.updated_at - dt.timedelta(hours=2))
    DatasetRecord.objects.bulk_create([DatasetRecord(dataset=dataset, generation=7, key=f"k{i}", data={})
                                       for i in range(10)])
    r = post_file(pc, dataset, "p.csv", csv_bytes([person(1)]))
    assert r.status_code == 201, r.content
    assert r.json()["generation"] == 8  # never reuses an abandoned generation
    dead.refresh_from_db()
    assert dead.status == "failed"
    assert set(DatasetRecord.objects.filter(dataset=dataset).values_list("generation", flat=True)) == {8}


# ---------------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------------


def test_consumer_cannot_upload(dataset: Dataset, consumer: User) -> None:
    r = post_file(client_for(consumer), dataset, "p.csv", csv_bytes([person(1)]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert not DatasetUpload.objects.exists()


def test_other_department_cannot_upload(dataset: Dataset, city: testing.Node) -> None:
    other = testing.user(Role.PROVIDER, dept=testing.department(city))
    assert post_file(client_for(other), dataset, "p.csv", csv_bytes([person(1)])).status_code == 403
    assert client_for(other).get(f"/api/v1/datasets/{dataset.pk}/uploads").status_code == 403


def test_upload_history_readers(pc: Client, dataset: Dataset, consumer: User, data_office: User) -> None:
    post_file(pc, dataset, "p.csv", csv_bytes([person(1)]))
    assert client_for(consumer).get(f"/api/v1/datasets/{dataset.pk}/uploads").status_code == 403
    r = client_for(data_office).get(f"/api/v1/datasets/{dataset.pk}/uploads")
    assert r.status_code == 200 and r.json()["items"][0]["uploaded_by"]


def test_provider_previews_its_rows(pc: Client, dataset: Dataset, consumer: User) -> None:
    post_file(pc, dataset, "p.csv", csv_bytes([person(i) for i in range(5)]))
    r = pc.get(f"/api/v1/datasets/{dataset.pk}/records", {"limit": 3})
    assert r.status_code == 200
    page1 = r.json()
    keys = sorted(rid(i) for i in range(5))
    assert [x["key"] for x in page1["items"]] == keys[:3]
    page2 = pc.get(f"/api/v1/datasets/{dataset.pk}/records",
                   {"limit": 3, "cursor": page1["next_cursor"]}).json()
    assert [x["key"] for x in page2["items"]] == keys[3:] and page2["next_cursor"] is None
    assert AuditEvent.objects.filter(action="dataset.previewed").count() == 2
    assert client_for(consumer).get(f"/api/v1/datasets/{dataset.pk}/records").status_code == 403


# ---------------------------------------------------------------------------------------------
# Crashes and hostile files
# ---------------------------------------------------------------------------------------------


def test_a_crash_mid_load_leaves_the_live_data_alone(pc: Client, dataset: Dataset, provider: User,
                                                     settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from govshare.datasets import services

    assert post_file(pc, dataset, "a.csv", csv_bytes([person(i) for i in range(3)])).status_code == 201
    before = _live(dataset)
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_CHUNK_ROWS": 2}
    real_write = services._StagingWriter.write
    calls = {"n": 0}

    def flaky_write(self: Any, up: Any, rows: Any, written: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real_write(self, up, rows, written)

    monkeypatch.setattr(services._StagingWriter, "write", flaky_write)
    with pytest.raises(OSError):
        services.upload(actor=provider, dataset=dataset, filename="b.csv",
                        stream=csv_bytes([person(i) for i in range(10, 20)]))
    assert _live(dataset) == before
    assert DatasetRecord.objects.filter(dataset=dataset).count() == 3  # staged rows of the failed load are gone
    up = DatasetUpload.objects.get(filename="b.csv")
    assert up.status == "failed"
    assert AuditEvent.objects.filter(action="dataset.upload_failed", result="failed").exists()


def test_a_failed_swap_switches_nothing(pc: Client, dataset: Dataset, provider: User,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from govshare.datasets import services

    assert post_file(pc, dataset, "a.csv", csv_bytes([person(1)])).status_code == 201
    before = _live(dataset)
    real_record = services.record_event

    def failing_record(**kw: Any) -> Any:
        if kw.get("action") == "dataset.upload_applied":
            raise RuntimeError("audit store unavailable")
        return real_record(**kw)

    monkeypatch.setattr(services, "record_event", failing_record)
    with pytest.raises(RuntimeError):
        services.upload(actor=provider, dataset=dataset, filename="b.csv", stream=csv_bytes([person(2)]))
    assert _live(dataset) == before and dataset.generation == 1  # no swap without its audit event
    assert set(DatasetRecord.objects.filter(dataset=dataset).values_list("generation", flat=True)) == {1}
    assert DatasetUpload.objects.get(filename="b.csv").status == "failed"


def _rewrite_zip(content: bytes, name: str, old: bytes, new: bytes) -> bytes:
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == name:
                assert old in data
                data = data.replace(old, new)
            dst.writestr(info, data)
    return out.getvalue()


def test_xlsx_with_a_wrong_dimension_is_read_to_the_end(pc: Client, dataset: Dataset) -> None:
    content = xlsx_bytes([person(i) for i in range(4)])
    content = _rewrite_zip(content, "xl/worksheets/sheet1.xml", b'<dimension ref="A1:E5" />',
                           b'<dimension ref="A1:A1" />')
    r = post_file(pc, dataset, "p.xlsx", content)
    assert r.status_code == 201, r.content
    assert r.json()["rows_total"] == 4 and len(_live(dataset)) == 4


def test_xlsx_inflating_beyond_the_cap_is_rejected(pc: Client, dataset: Dataset, settings: Any) -> None:
    settings.GOVSHARE = {**settings.GOVSHARE, "UPLOAD_MAX_XLSX_UNCOMPRESSED_BYTES": 4096}
    problems = _problems(post_file(pc, dataset, "p.xlsx", xlsx_bytes([person(i) for i in range(50)])))
    assert "解压后超过" in problems[0]["reason"]
