"""Sealed L4 values through the data plane: query (by key and by scan), verify, file, and the subscription pull
answer plaintext to an authorised consumer, masked per grant as before; a row filter on an L4 item still applies."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from govshare.catalog.services import ItemSpec
from govshare.core.masking import mask
from govshare.datasets.models import DatasetRecord
from govshare.exchange import watermark
from govshare.exchange.tests.test_dataplane_world import (  # noqa: F401 - fixtures
    BANK_ITEMS,
    World,
    _fresh_dataplane,
    world_fixture,
)

pytestmark = pytest.mark.django_db

INSIDE_PREFIX = "62220202"


def card(n: int) -> str:
    return f"{INSIDE_PREFIX}00112{n:06d}" if n % 2 else f"621700001122{n:07d}"


def bank_rows(world: World) -> list[dict[str, Any]]:
    return [{"id_number": p["id_number"], "person_name": p["person_name"], "bank_card": card(n)}
            for n, p in enumerate(world.inside + world.outside, start=1)]


def pull(gs: Any, code: str, **params: Any) -> dict[str, Any]:
    _, _, data = gs.request("GET", "/dp/v1/changes", query={"resource": code, **{k: str(v) for k, v in
                                                                                  params.items()}})
    answer: dict[str, Any] = json.loads(data)
    return answer


def test_consumer_sees_plaintext_and_masks_as_granted(world: World) -> None:
    rows = bank_rows(world)
    bank = world.make_resource("个人银行账户", BANK_ITEMS, rows)
    stored = "\n".join(json.dumps(d) for d in DatasetRecord.objects.filter(dataset__resource=bank)
                        .values_list("data", flat=True))
    assert not any(r["bank_card"] in stored for r in rows)
    world.make_grant(bank, {"id_number": "plain", "person_name": "plain", "bank_card": "plain"},
                     modes=("query", "verify", "file", "subscription"),
                     row_filter=f'bank_card prefix "{INSIDE_PREFIX}"')
    inside = [r for r in rows if r["bank_card"].startswith(INSIDE_PREFIX)]
    outside = [r for r in rows if not r["bank_card"].startswith(INSIDE_PREFIX)]
    assert inside and outside
    gs = world.client(sm2=True)

    # Query by key: plaintext; a record outside the (L4) row filter answers like a missing one.
    got = gs.query(bank.code, keys=[inside[0]["id_number"], outside[0]["id_number"]])
    assert [r["data"] for r in got["records"]] == [inside[0]]
    # Query by scan, paged, filtered on the sealed item: the row filter and the request's filter apply to the
    # opened records (neither is pushed down to the database, which holds ciphertext there).
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = gs.query(bank.code, filter='bank_card prefix "62"', limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [r["data"] for r in page["records"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert sorted(seen, key=lambda r: r["id_number"]) == sorted(inside, key=lambda r: r["id_number"])

    # Verify compares the plaintext.
    p = inside[1]
    assert gs.verify(bank.code, p["id_number"], {"bank_card": p["bank_card"]})["all_match"] is True
    assert gs.verify(bank.code, p["id_number"], {"bank_card": card(99)})["all_match"] is False

    # File delivery: plaintext rows of the granted view.
    f = gs.file(bank.code, "csv")
    body = list(csv.DictReader(io.StringIO(f.content.decode("utf-8-sig"))))
    cards = {watermark.strip(line["bank_card"]) for line in body}
    assert cards == {r["bank_card"] for r in inside}

    # Subscription pull: the change log's images are opened, then projected.
    changes = pull(gs, bank.code, after=0, limit=100)["changes"]
    assert sorted((c["key"], c["data"]["bank_card"]) for c in changes) == sorted(
        (r["id_number"], r["bank_card"]) for r in inside)
    snapshot = pull(gs, bank.code, snapshot=1, limit=100)["changes"]
    assert sorted(c["data"]["bank_card"] for c in snapshot) == sorted(r["bank_card"] for r in inside)


def test_masked_grant_and_an_l4_key(world: World) -> None:
    items = [ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True, sensitivity=4), *BANK_ITEMS[1:]]
    rows = bank_rows(world)
    bank = world.make_resource("个人银行账户（身份证号 L4）", items, rows)
    assert not DatasetRecord.objects.filter(dataset__resource=bank, key__in=[r["id_number"] for r in rows]).exists()
    world.make_grant(bank, {"id_number": "plain", "bank_card": "masked"}, modes=("query", "subscription"))
    gs = world.client(sm2=True)
    p = rows[2]
    got = gs.query(bank.code, keys=[p["id_number"]])
    assert got["records"] == [{"key": p["id_number"],
                               "data": {"id_number": p["id_number"], "bank_card": mask("bank_card", p["bank_card"])}}]
    changes = pull(gs, bank.code, after=0, limit=100)["changes"]
    assert sorted(c["key"] for c in changes) == sorted(r["id_number"] for r in rows)
    assert all(c["data"]["bank_card"] == mask("bank_card", r["bank_card"])
               for c in changes for r in rows if r["id_number"] == c["key"])
