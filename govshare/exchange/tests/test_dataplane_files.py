"""GET /dp/v1/file: the granted view as CSV / XLSX, watermarked per grant, labelled, optionally SM4-encrypted;
and the row filter answering identically across query, verify and file."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest

from govshare.client import GovshareError
from govshare.core.crypto import DecryptionError, generate_sm4_key
from govshare.core.masking import mask
from govshare.exchange import watermark
from govshare.exchange.dataplane import gsf
from govshare.exchange.dataplane.cache import _watermark_secret
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    PERSON_GRANT,
    World,
    _fresh_dataplane,
    events,
    world_fixture,
)

pytestmark = pytest.mark.django_db


def secret_of(grant: Any) -> bytes:
    return _watermark_secret(str(grant.pk), grant.watermark_secret_enc)


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_is_the_granted_view_watermarked_and_labelled(world: World) -> None:
    f = world.client().file(world.code, "csv")
    assert f.headers["content-type"].startswith("text/csv") and not f.encrypted
    assert f.labels == {"Resource": world.code, "Level": "L3", "Grant": str(world.grant.pk),
                        "Purpose": world.grant.purpose, "Expires": world.grant.valid_to.isoformat()}
    rows = read_csv(f.content)
    assert list(rows[0]) == ["id_number", "person_name", "gender", "current_address"]  # no verify_only item
    assert [r["id_number"] for r in rows] == sorted(p["id_number"] for p in world.inside)  # row filter, key order
    first = next(p for p in world.inside if p["id_number"] == rows[0]["id_number"])
    assert watermark.strip(rows[0]["person_name"]) == mask("name", first["person_name"])
    assert watermark.strip(rows[0]["current_address"]) == first["current_address"]
    assert rows[0]["current_address"] != first["current_address"]  # carries the invisible mark
    # The file names its grant, and no other.
    other = world.make_grant(world.resource, PERSON_GRANT)
    found = watermark.detect(rows, key_column="id_number", candidates={
        world.grant.pk: secret_of(world.grant), other.pk: secret_of(other)}, min_rows=3)
    assert [m.grant_id for m in found] == [world.grant.pk]
    (start,) = events("dataplane.file")
    (end,) = events("dataplane.file_completed")
    assert start.result == "ok" and start.data["format"] == "csv" and start.data["encrypted"] is False
    assert end.data["rows"] == 6 and end.data["complete"] is True and len(end.data["sm3"]) == 64
    assert end.request_id == start.request_id


def test_xlsx_has_properties_label_sheet_and_watermark(world: World) -> None:
    f = world.client().file(world.code, "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(f.content))
    assert wb.sheetnames == ["数据", "数据标签"]
    rows = list(wb["数据"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    records = [dict(zip(header, r, strict=True)) for r in body]
    assert len(records) == 6 and "mobile" not in header
    found = watermark.detect(records, key_column="id_number", candidates={world.grant.pk: secret_of(world.grant)},
                             min_rows=3)
    assert [m.grant_id for m in found] == [world.grant.pk]
    custom = {p.name: p.value for p in wb.custom_doc_props.props}
    assert custom["GS-Data-Label-Grant"] == str(world.grant.pk) and custom["GS-Data-Label-Level"] == "L3"
    assert "数据标签" in (wb.properties.subject or "")
    label = {r[0]: r[1] for r in wb["数据标签"].iter_rows(values_only=True) if r and r[0]}
    assert label["Resource"] == world.code and label["person_name"] == "姓名"


def test_sm4_encrypted_file_decrypts_with_the_systems_private_key(world: World) -> None:
    f = world.client(sm2_private_key=world.sm2_private).file(world.code, "csv", encrypt=True)
    assert f.encrypted and f.raw.startswith(b"GSF1") and f.headers["content-type"] == "application/octet-stream"
    assert f.headers["x-gs-encryption"] == "SM4-GCM-GSF1" and len(read_csv(f.content)) == 6
    # Without the private key the file cannot be read; a cut-off or altered file fails authentication.
    with pytest.raises(ValueError, match="private key"):
        world.client().file(world.code, "csv", encrypt=True)
    key = generate_sm4_key()
    blob = b"".join(gsf.encrypt_frames(key, [b"a" * 100, b"b" * 50], 64))
    assert gsf.decrypt_frames(key, blob) == b"a" * 100 + b"b" * 50
    frame0_end = 4 + 4 + int.from_bytes(blob[4:8], "big")
    with pytest.raises(DecryptionError):
        gsf.decrypt_frames(key, blob[:frame0_end])  # truncated at a frame boundary
    with pytest.raises(DecryptionError):
        gsf.decrypt_frames(key, blob[:-1] + bytes([blob[-1] ^ 1]))
    # A system without an SM2 public key cannot ask for an encrypted file.
    type(world.system).objects.filter(pk=world.system.pk).update(sm2_public_key="")
    from django.db import transaction

    from govshare.core.epoch import bump_authz_epoch

    with transaction.atomic():
        bump_authz_epoch()
    with pytest.raises(GovshareError) as info:
        world.client().file(world.code, "csv", encrypt=True)
    assert info.value.code == "sm2_key_not_registered"


def test_row_filter_is_identical_for_query_verify_and_file(world: World) -> None:
    gs = world.client()
    out = world.outside[2]
    assert gs.query(world.code, keys=[out["id_number"]])["records"] == []
    assert gs.verify(world.code, out["id_number"], {"person_name": out["person_name"]})["all_match"] is False
    rows = read_csv(gs.file(world.code, "csv").content)
    assert out["id_number"] not in {r["id_number"] for r in rows}
    by_filter = gs.query(world.code, filters={"id_number": out["id_number"]})
    assert by_filter["records"] == [] and by_filter["next_cursor"] is None
    inside = world.inside[2]
    assert gs.query(world.code, filters={"id_number": inside["id_number"]})["count"] == 1


def test_file_parameters(world: World) -> None:
    gs = world.client()
    with pytest.raises(GovshareError) as info:
        gs.file(world.code, "pdf")
    assert info.value.code == "bad_request"
    with pytest.raises(GovshareError) as info:
        gs.request("GET", "/dp/v1/file", query={"resource": world.code, "x": "1"})
    assert info.value.code == "bad_request" and info.value.details["field"] == "x"
    with pytest.raises(GovshareError) as info:
        gs.request("GET", "/dp/v1/file", query=[("resource", world.code), ("resource", world.code)])
    assert info.value.code == "bad_request"
    cut = world.make_grant(world.resource, {"id_number": "plain", "gender": "plain"}, modes=("query",))
    assert cut.pk  # a second, query-only grant does not open files: the better grant still serves them
    assert len(read_csv(gs.file(world.code, "csv").content)) == 6
