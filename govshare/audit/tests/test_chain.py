"""The pure chain definition: canonical encoding, digests, gap lists."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from govshare.audit import chain
from govshare.core.crypto import sm3_digest

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _row(seq: int, when: dt.datetime, strings: list[str], data: object) -> tuple[object, ...]:
    return (seq, when, *strings[:6], json.dumps(data), *strings[6:])


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(1, 2**62),
    when=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    strings=st.lists(_text, min_size=12, max_size=12),
    data=st.dictionaries(_text, _json, max_size=5),
)
def test_fast_canonical_equals_reference(seq: int, when: dt.datetime, strings: list[str], data: dict) -> None:
    row = _row(seq, when, strings, data)
    event = dict(zip(chain.ROW_COLUMNS, row, strict=True))
    fast = chain.canonical_row(row)
    assert fast == chain.canonical_event(event)
    parsed = json.loads(fast)
    assert list(parsed) == sorted(parsed) == list(chain.EVENT_FIELDS)
    assert parsed["seq"] == seq and parsed["data"] == data
    ok, obj = chain.is_canonical(fast.decode())
    assert ok and obj == parsed


def test_canonical_form_is_exact() -> None:
    row = (7, dt.datetime(2026, 11, 22, 2, 26, 0), "exchange.query", "42", "张三", "consumer", "user", "10.0.0.1",
           '{"b": 1, "a": "办件"}', "d1", "445100", "r1", "ok", "g1", "grant")
    assert chain.canonical_row(row).decode() == (
        '{"action":"exchange.query","actor_id":"42","actor_label":"张三","actor_role":"consumer",'
        '"actor_type":"user","client_ip":"10.0.0.1","data":{"a":"办件","b":1},"department_id":"d1",'
        '"node_code":"445100","occurred_at":"2026-11-22T02:26:00.000000Z","request_id":"r1","result":"ok",'
        '"seq":7,"target_id":"g1","target_type":"grant"}'
    )
    assert not chain.is_canonical(chain.canonical_row(row).decode().replace(",", ", ", 1))[0]


def test_iso_utc_accepts_every_stored_form() -> None:
    aware = dt.datetime(2026, 1, 2, 11, 4, 5, 120, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert chain.iso_utc(aware) == "2026-01-02T03:04:05.000120Z"
    assert chain.iso_utc(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000Z"
    assert chain.iso_utc("2026-01-02 03:04:05") == "2026-01-02T03:04:05.000000Z"
    assert chain.iso_utc("2026-01-02 03:04:05.5+00:00") == "2026-01-02T03:04:05.500000Z"


def test_digest_and_fold_are_sm3() -> None:
    canonical = b'{"x":1}'
    assert chain.event_digest(canonical) == sm3_digest(canonical)
    head = bytes.fromhex(chain.GENESIS_HEAD)
    assert chain.fold_step(head, sm3_digest(canonical)) == sm3_digest(head + sm3_digest(canonical))
    assert chain.checkpoint_message("445100", 12, "ab") == b"govshare-audit-checkpoint|445100|12|ab"


def test_gap_lists() -> None:
    assert list(chain.covered_seqs(1, 10, [[2, 3], [7, 7]])) == [1, 4, 5, 6, 8, 9, 10]
    assert chain.gaps_count([[2, 3], [7, 7]]) == 3
    assert chain.valid_gaps(1, 10, [[2, 3], [7, 7]])
    assert not chain.valid_gaps(1, 10, [[7, 7], [2, 3]])  # unsorted
    assert not chain.valid_gaps(1, 10, [[9, 10]])  # a block never ends on a gap
    assert not chain.valid_gaps(5, 10, [[3, 6]])  # outside the range
    assert not chain.valid_gaps(1, 10, "[]")
