"""Fusion over sources that store L4 items sealed (govshare.datasets.sealing): the library is built from the
plaintext, cross-checks compare plaintext, and the sources' raw rows hold no L4 value in clear."""

from __future__ import annotations

import pytest
from django.db import connection

from govshare.baselibs.models import Discrepancy
from govshare.baselibs.services import fuse
from govshare.baselibs.tests import conftest
from govshare.catalog.services import ItemSpec
from govshare.datasets.changes import live_records
from govshare.datasets.models import DatasetRecord

pytestmark = pytest.mark.django_db


def l4(items: list[ItemSpec], *columns: str) -> list[ItemSpec]:
    """The items with ``columns`` raised to L4 (an item may be more sensitive than its data element)."""
    from govshare import testing

    out = []
    for i in items:
        column = i.column_name or testing.element(i.element_code).column_name
        out.append(ItemSpec(name=i.name, element_code=i.element_code, column_name=i.column_name, is_key=i.is_key,
                            sensitivity=4 if column in columns else None))
    return out


def raw_rows(dataset_id: object) -> str:
    table = connection.ops.quote_name(DatasetRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, CAST(data AS TEXT) FROM {table} WHERE dataset_id = %s",  # noqa: S608
                       [DatasetRecord._meta.get_field("dataset").get_db_prep_value(dataset_id, connection)])
        return "\n".join(f"{k} {d}" for k, d in cursor.fetchall())


def test_fusion_reads_sealed_sources_in_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    dept, name, items = conftest.SOURCES["gaj"]
    # The 公安局 source seals the key (身份证号) and the phone; the 人社局 source, authoritative for the phone,
    # seals the phone too.
    monkeypatch.setitem(conftest.SOURCES, "gaj", (dept, name, l4(items, "id_number", "phone")))
    r_dept, r_name, r_items = conftest.SOURCES["rsj"]
    monkeypatch.setitem(conftest.SOURCES, "rsj", (r_dept, r_name, l4(r_items, "phone")))
    town = conftest.build_city()
    people = town.people
    for slot in ("gaj", "rsj"):
        raw = raw_rows(town.datasets[slot].pk)
        assert not any(p["phone"] in raw for p in people)
    assert not any(p["id_number"] in raw_rows(town.datasets["gaj"].pk) for p in people)
    # The 公安局 keeps an old number for one person: a cross-check disagreement on sealed values.
    town.batch("gaj", [{**people[1], "phone": "13900000000"}])

    lib = town.install()
    run = fuse(actor=town.office, library=lib)
    assert run.upserts == len(people)
    fused = live_records(dataset=lib.dataset, keys=[p["id_number"] for p in people])
    assert {k: (r["phone"], r["person_name"]) for k, r in fused.items()} == {
        p["id_number"]: (p["phone"], p["person_name"]) for p in people}
    (d,) = Discrepancy.objects.filter(library=lib, field="phone")
    assert d.key == people[1]["id_number"]
