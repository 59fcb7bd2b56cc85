"""L4 加密存储与盲索引: L4 values sealed at rest (records and change log), opened for every reader, looked up by
blind index; a full replace compares without decrypting; tampering raises an integrity error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from govshare import testing
from govshare.accounts.models import User
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.catalog.services import ItemSpec
from govshare.core.crypto.envelope import clear_key_cache
from govshare.datasets import changes, sealing, services
from govshare.datasets.models import Dataset, DatasetChange, DatasetRecord
from govshare.datasets.tests.conftest import rid

pytestmark = pytest.mark.django_db

CARDS = {n: f"62220202001122{n:05d}" for n in range(1, 7)}


def bank_items(*, key_level: int | None = None) -> list[ItemSpec]:
    # DE0013 银行卡号 is L4 on its data element; the key item may be raised to L4 on the item.
    return [
        ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True, sensitivity=key_level),
        ItemSpec(name="姓名", element_code="DE0002", required=True),
        ItemSpec(name="银行卡号", element_code="DE0013"),
    ]


def row(n: int, **over: Any) -> dict[str, Any]:
    return {"id_number": rid(n), "person_name": f"测试{n}", "bank_card": CARDS.get(n), **over}


def raw_text(table: str, *columns: str) -> str:
    """Every value of these columns as the database holds them (no ORM decoding)."""
    quote = connection.ops.quote_name
    cols = ", ".join(f"CAST({quote(c)} AS TEXT)" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {cols} FROM {quote(table)}")  # noqa: S608 - names from model metadata
        return "\n".join(str(v) for r in cursor.fetchall() for v in r)


def records_table() -> str:
    return DatasetRecord._meta.db_table


def changes_table() -> str:
    return DatasetChange._meta.db_table


def assert_no_plaintext(*values: str) -> None:
    raw = raw_text(records_table(), "key", "data") + raw_text(changes_table(), "key", "data", "old")
    for v in values:
        assert v not in raw, f"{v} is stored in clear"


def mounted(provider_dept: testing.Department, data_office: User, provider: User, *, key_level: int | None = None,
            rows: int = 6) -> Dataset:
    r = testing.resource(provider_dept, name="个人银行账户", publish_by=data_office,
                         items=bank_items(key_level=key_level))
    ds = services.mount_resource(actor=provider, resource=r)
    up = services.load_rows(actor=provider, dataset=ds, rows=[row(n) for n in range(1, rows + 1)])
    assert up.status == "applied", up.problems
    ds.refresh_from_db()
    return ds


@pytest.fixture
def bank(provider_dept: testing.Department, data_office: User, provider: User) -> Dataset:
    return mounted(provider_dept, data_office, provider)


def test_l4_values_are_sealed_in_records_and_change_log(bank: Dataset, provider: User) -> None:
    assert_no_plaintext(*CARDS.values())
    stored = DatasetRecord.objects.get(dataset=bank, generation=bank.generation, key=rid(1)).data
    cell = stored["bank_card"]
    assert set(cell) == {"bi", "ct"} and cell["ct"].startswith("sm4v1:") and len(cell["bi"]) == 64
    assert stored["person_name"] == "测试1" and stored["id_number"] == rid(1)  # L2/L3 items stay plain
    assert bank.sealing["columns"] == {"bank_card": "DE0013"} and bank.sealing["key"] == ""
    # The change log of the first load holds the same sealed form.
    change = DatasetChange.objects.get(dataset=bank, key=rid(1))
    assert change.data is not None and set(change.data["bank_card"]) == {"bi", "ct"}

    # Every reader answers plaintext.
    (first,) = [c for c in changes.changes_since(dataset=bank, after=0, limit=100) if c.key == rid(1)]
    assert first.data == row(1) and first.old is None
    assert changes.live_records(dataset=bank, keys=[rid(2)]) == {rid(2): row(2)}
    assert dict(changes.iter_live_records(dataset=bank, batch=2)) == {rid(n): row(n) for n in range(1, 7)}
    c = Client()
    c.force_login(provider)
    preview = c.get(f"/api/v1/datasets/{bank.pk}/records?limit=100").json()
    assert {i["key"]: i["data"] for i in preview["items"]} == {rid(n): row(n) for n in range(1, 7)}


def test_lookup_by_l4_value_through_the_blind_index(bank: Dataset, provider: User, consumer: User) -> None:
    assert changes.find_by_sealed_value(dataset=bank, column="bank_card", value=CARDS[3]) == {rid(3): row(3)}
    # The searched value is normalised like a loaded one (trimmed); an unknown value finds nothing.
    assert list(changes.find_by_sealed_value(dataset=bank, column="bank_card", value=f"  {CARDS[4]} ")) == [rid(4)]
    assert changes.find_by_sealed_value(dataset=bank, column="bank_card", value="6222000000000000000") == {}
    # Plain items are looked up by value too.
    assert list(changes.find_by_sealed_value(dataset=bank, column="person_name", value="测试5")) == [rid(5)]

    c = Client()
    c.force_login(provider)
    got = c.get(f"/api/v1/datasets/{bank.pk}/records/lookup", {"column": "bank_card", "value": CARDS[2]})
    assert got.status_code == 200 and got.json()["items"] == [{"key": rid(2), "data": row(2)}]
    event = AuditEvent.objects.filter(action="dataset.looked_up").get()
    assert event.data["column"] == "bank_card" and event.data["rows"] == 1
    assert CARDS[2] not in json.dumps(event.data)  # the searched L4 value is not copied into the audit log
    assert c.get(f"/api/v1/datasets/{bank.pk}/records/lookup",
                 {"column": "nope", "value": "1"}).status_code == 422
    other = Client()
    other.force_login(consumer)
    assert other.get(f"/api/v1/datasets/{bank.pk}/records/lookup",
                     {"column": "bank_card", "value": CARDS[2]}).status_code in (403, 404)


def test_full_replace_compares_sealed_values_without_changes_when_equal(bank: Dataset, provider: User) -> None:
    seq = changes.current_seq(bank)
    same = changes.replace_rows(actor=provider, dataset=bank, rows=[row(n) for n in range(1, 7)], batch_id="r1")
    assert (same.inserted, same.updated, same.deleted, same.unchanged) == (0, 0, 0, 6)
    assert changes.current_seq(bank) == seq and not DatasetChange.objects.filter(dataset=bank, seq__gt=seq).exists()

    rows = [row(n) for n in range(1, 7)]
    rows[1] = row(2, bank_card="6222020200999999999")
    moved = changes.replace_rows(actor=provider, dataset=bank, rows=rows, batch_id="r2")
    assert (moved.inserted, moved.updated, moved.deleted, moved.unchanged) == (0, 1, 0, 5)
    (change,) = changes.changes_since(dataset=bank, after=seq, limit=10)
    assert change.key == rid(2) and change.old == row(2) and change.data == row(2, bank_card="6222020200999999999")
    assert_no_plaintext("6222020200999999999", *CARDS.values())


def test_incremental_batch_seals_and_compares(bank: Dataset, provider: User) -> None:
    seq = changes.current_seq(bank)
    result = changes.apply_batch(actor=provider, dataset=bank, batch_id="b1", upserts=[
        row(1), row(2, bank_card="6222020200888888888"), row(9, bank_card="6222020200777777777")],
        deletes=[rid(3)])
    assert (result.inserted, result.updated, result.deleted, result.unchanged) == (1, 1, 1, 1)
    got = [(c.op, c.key, c.data, c.old) for c in changes.changes_since(dataset=bank, after=seq, limit=10)]
    assert sorted(got, key=lambda g: (g[0], g[1])) == sorted([
        ("upsert", rid(2), row(2, bank_card="6222020200888888888"), row(2)),
        ("upsert", rid(9), row(9, bank_card="6222020200777777777"), None),
        ("delete", rid(3), None, row(3)),
    ], key=lambda g: (g[0], g[1]))
    assert_no_plaintext("6222020200888888888", "6222020200777777777", *CARDS.values())
    assert changes.find_by_sealed_value(dataset=bank, column="bank_card", value="6222020200777777777") == {
        rid(9): row(9, bank_card="6222020200777777777")}


def test_tampered_or_moved_ciphertext_raises_an_integrity_error(bank: Dataset) -> None:
    qs = DatasetRecord.objects.filter(dataset=bank, generation=bank.generation)
    one, two = qs.get(key=rid(1)), qs.get(key=rid(2))
    token = one.data["bank_card"]["ct"]
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    qs.filter(pk=one.pk).update(data={**one.data, "bank_card": {**one.data["bank_card"], "ct": flipped}})
    with pytest.raises(sealing.SealedValueError, match="integrity"):
        changes.live_records(dataset=bank, keys=[rid(1)])
    # A valid ciphertext copied to another record does not open there either.
    qs.filter(pk=two.pk).update(data={**two.data, "bank_card": one.data["bank_card"]})
    with pytest.raises(sealing.SealedValueError, match="another record"):
        changes.live_records(dataset=bank, keys=[rid(2)])


def test_a_wrong_key_raises_an_integrity_error(bank: Dataset) -> None:
    assert changes.live_records(dataset=bank, keys=[rid(4)]) == {rid(4): row(4)}
    clear_key_cache()
    with override_settings(GOVSHARE_KEK="00" * 16, GOVSHARE_KEK_ID=_kek_id()):
        with pytest.raises(sealing.SealedValueError, match="integrity"):
            changes.live_records(dataset=bank, keys=[rid(4)])
    clear_key_cache()


def _kek_id() -> str:
    from django.conf import settings

    return str(settings.GOVSHARE_KEK_ID)


def test_an_l4_key_is_stored_as_its_blind_index(provider_dept: testing.Department, data_office: User,
                                                 provider: User) -> None:
    ds = mounted(provider_dept, data_office, provider, key_level=4, rows=4)
    assert ds.sealing["key"] == "id_number"
    stored_keys = set(DatasetRecord.objects.filter(dataset=ds).values_list("key", flat=True))
    assert len(stored_keys) == 4 and all(len(k) == 64 for k in stored_keys)
    assert_no_plaintext(*(rid(n) for n in range(1, 5)), *(CARDS[n] for n in range(1, 5)))
    # Readers give the plaintext keys back; lookups by key index the key first.
    assert changes.live_records(dataset=ds, keys=[rid(2), rid(99)]) == {rid(2): row(2)}
    assert dict(changes.iter_live_records(dataset=ds)) == {rid(n): row(n) for n in range(1, 5)}
    assert list(changes.find_by_sealed_value(dataset=ds, column="id_number", value=rid(3).lower())) == [rid(3)]
    seq = changes.current_seq(ds)
    result = changes.apply_batch(actor=provider, dataset=ds, batch_id="k1", upserts=[row(1, person_name="改名")],
                                 deletes=[rid(4)])
    assert (result.updated, result.deleted) == (1, 1)
    got = {(c.op, c.key) for c in changes.changes_since(dataset=ds, after=seq, limit=10)}
    assert got == {("upsert", rid(1)), ("delete", rid(4))}
    assert set(DatasetChange.objects.filter(dataset=ds, seq__gt=seq).values_list("key", flat=True)) <= stored_keys
    assert changes.replace_rows(actor=provider, dataset=ds, rows=[row(1, person_name="改名"), row(2), row(3)],
                                batch_id="k2").changes == 0
    assert_no_plaintext(*(rid(n) for n in range(1, 5)))


def test_records_without_l4_items_are_stored_as_before(provider_dept: testing.Department, data_office: User,
                                                        provider: User) -> None:
    r: Resource = testing.resource(provider_dept, name="人口", publish_by=data_office, items=bank_items()[:2])
    ds = services.mount_resource(actor=provider, resource=r)
    services.load_rows(actor=provider, dataset=ds, rows=[{"id_number": rid(1), "person_name": "甲"}])
    ds.refresh_from_db()
    assert ds.sealing == {}
    assert DatasetRecord.objects.get(dataset=ds).data == {"id_number": rid(1), "person_name": "甲"}
