"""The projection of change-log entries to a grant's view, as a property: whatever happens to the records, a
consumer that applies the projected changes in order holds exactly the granted view of the final records, and
never sees a record outside the row filter or an item it was not granted (no database needed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from govshare.exchange import rowfilter
from govshare.exchange.dataplane.cache import Column, GrantInfo, Resource
from govshare.exchange.dataplane.changes import delivery_key, project_change, project_record

COLUMNS = {
    "id_number": Column("id_number", "公民身份号码", "string", 3, "id_number", {}, True, True),
    "person_name": Column("person_name", "姓名", "string", 3, "name", {}, False, False),
    "district": Column("district", "区", "string", 1, "none", {}, False, False),
    "mobile": Column("mobile", "手机号码", "string", 3, "mobile", {}, False, False),
    "note": Column("note", "备注", "string", 1, "none", {}, False, False),
}
RESOURCE = Resource(id="r", db_id="r", code="445100/101001/000001", name="人口", level=3, key_column="id_number",
                    columns=COLUMNS)


def grant(key_mode: str) -> GrantInfo:
    rf = rowfilter.parse('district in ("湘桥区", "枫溪区")', allowed_fields={c: "string" for c in COLUMNS})
    return GrantInfo(
        id="g", db_id="g", resource=RESOURCE, status="active", valid_from=None, valid_to=None,
        modes=frozenset({"subscription"}),
        items={"id_number": key_mode, "person_name": "masked", "district": "plain", "mobile": "verify_only"},
        row_filter=rf, row_filter_broken=False, rate_limit_per_minute=1, daily_quota=1, verify_quota_per_key=1,
        verify_all_match_only=False, purpose="测试", provider_id="p", consumer_id="c", watermark_secret=b"s" * 32)


@dataclass(frozen=True)
class Change:
    seq: int
    key: str
    op: str
    data: dict[str, Any] | None
    old: dict[str, Any] | None


KEYS = [f"44510219800101{n:04d}" for n in range(6)]
record = st.fixed_dictionaries({
    "person_name": st.sampled_from(["张三", "李四", "王五"]),
    "district": st.sampled_from(["湘桥区", "潮安区", "枫溪区"]),
    "mobile": st.sampled_from(["13800000000", "13900000000"]), "note": st.sampled_from(["", "甲", "乙"])})
ops = st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), record)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(ops=ops, key_mode=st.sampled_from(["plain", "masked"]))
def test_projected_changes_converge_to_the_granted_view(ops: list[tuple[str, dict[str, Any] | None]],
                                                        key_mode: str) -> None:
    g = grant(key_mode)
    live: dict[str, dict[str, Any]] = {}
    consumer: dict[str, dict[str, Any]] = {}
    for seq, (key, new) in enumerate(ops, start=1):
        old = live.get(key)
        if new is None:
            if old is None:
                continue  # deleting an unknown key writes no change
            change = Change(seq, key, "delete", None, old)
            live.pop(key)
        else:
            row = {"id_number": key, **new}
            if old == row:
                continue  # identical rows write no change
            change = Change(seq, key, "upsert", row, old)
            live[key] = row
        out = project_change(g, change)
        if out is None:
            continue
        op, dkey, data = out
        if op == "delete":
            consumer.pop(dkey, None)
        else:
            assert data is not None and set(data) == {"id_number", "person_name", "district"}  # no mobile, note
            assert data["district"] in ("湘桥区", "枫溪区")  # never a record outside the filter
            if key_mode == "masked":
                assert data["id_number"] != key and dkey.startswith("k_")
            consumer[dkey] = data
    expected = {delivery_key(g, k): project_record(g, r) for k, r in live.items() if g.matches(r)}
    assert consumer == expected


def test_the_table_of_cases() -> None:
    g = grant("plain")
    inside = {"id_number": KEYS[0], "person_name": "张三", "district": "湘桥区", "mobile": "1", "note": ""}
    outside = {**inside, "district": "潮安区"}
    assert project_change(g, Change(1, KEYS[0], "upsert", inside, None))[0] == "upsert"  # type: ignore[index]
    assert project_change(g, Change(2, KEYS[0], "upsert", outside, inside)) == ("delete", KEYS[0], None)
    assert project_change(g, Change(3, KEYS[0], "upsert", inside, outside))[0] == "upsert"  # type: ignore[index]
    assert project_change(g, Change(4, KEYS[0], "upsert", outside, outside)) is None
    assert project_change(g, Change(5, KEYS[0], "delete", None, inside)) == ("delete", KEYS[0], None)
    assert project_change(g, Change(6, KEYS[0], "delete", None, outside)) is None
    # Only items the grant does not show changed: nothing is delivered.
    assert project_change(g, Change(7, KEYS[0], "upsert", {**inside, "mobile": "2", "note": "乙"}, inside)) is None
    # A row filter that no longer parses matches nothing: fail closed.
    broken = dataclasses.replace(g, row_filter_broken=True)
    assert project_change(broken, Change(8, KEYS[0], "upsert", inside, None)) is None
    assert project_change(broken, Change(9, KEYS[0], "delete", None, inside)) is None
