"""The rule engine (pure): built-in and configured rules, the regex guard, and properties with hypothesis."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from govshare.core.identifiers import (
    USCC_ALPHABET,
    is_valid_org_code,
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_id,
    make_uscc,
)
from govshare.quality.rules import (
    ColumnInfo,
    ConfiguredRule,
    Evaluator,
    Regions,
    RuleError,
    RuleSpec,
    builtin_specs,
    check_pattern,
    compile_rules,
    rule_specs,
    validate_params,
)

TODAY = dt.date(2025, 6, 30)
PEOPLE = [
    ColumnInfo("id_number", "string", 18, True, True, "DE0001", "resident_id"),
    ColumnInfo("person_name", "string", 50, True, False, "DE0002"),
    ColumnInfo("gender", "enum", 1, False, False, "DE0003", enum_values=("男", "女", "未知")),
    ColumnInfo("birth_date", "date", 10, False, False, "DE0004"),
    ColumnInfo("region_code", "string", 6, False, False, "DE0024", "region_code"),
    ColumnInfo("mobile", "string", 11, False, False, "DE0008", "mobile"),
]
CROSS = ConfiguredRule(rule_id="x1", kind="cross_field", element_code="DE0001",
                       params={"birth": "DE0004", "gender": "DE0003"})
REGIONS = Regions(known=frozenset({"445100", "445102", "445103", "445121"}),
                  current=frozenset({"445100", "445102", "445103"}))


def evaluator(*configured: ConfiguredRule, columns: list[ColumnInfo] = PEOPLE) -> Evaluator:
    return compile_rules(columns, configured, today=TODAY, regions=REGIONS)


def kinds(failures: list) -> set[tuple[str, str]]:
    return {(f.column, f.kind) for f in failures}


def person(rid: str, **extra: str | None) -> dict[str, str | None]:
    birth = f"{rid[6:10]}-{rid[10:12]}-{rid[12:14]}"
    gender = "男" if int(rid[16]) % 2 else "女"
    return {"id_number": rid, "person_name": "张三", "gender": gender, "birth_date": birth, "region_code": "445102",
            "mobile": "13800138000", **extra}


GOOD_ID = make_resident_id("445102", dt.date(1980, 5, 6), 11)


# ---------------------------------------------------------------------------------------------
# Built-in rules
# ---------------------------------------------------------------------------------------------


def test_builtin_rules_come_from_items_and_elements() -> None:
    specs = {(s.column, s.kind, s.key) for s in builtin_specs(PEOPLE)}
    assert ("id_number", "required", "builtin:required") in specs
    assert ("id_number", "identifier", "builtin:identifier") in specs
    assert ("id_number", "length", "builtin:length") in specs
    assert ("gender", "enumeration", "builtin:enumeration") in specs
    assert ("gender", "length", "builtin:length") not in specs  # the enumeration is authoritative
    assert ("birth_date", "type", "builtin:type") in specs
    assert ("region_code", "region_code", "builtin:region_code") in specs
    assert ("mobile", "pattern", "builtin:pattern") in specs
    assert not any(s[0] == "person_name" and s[1] == "identifier" for s in specs)


def test_a_clean_record_passes_every_builtin_rule() -> None:
    assert evaluator(CROSS).evaluate(person(GOOD_ID)) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"person_name": None}, ("person_name", "required")),
    ({"person_name": ""}, ("person_name", "required")),
    ({"gender": "M"}, ("gender", "enumeration")),
    ({"birth_date": "1980-02-30"}, ("birth_date", "type")),
    ({"birth_date": "19800506"}, ("birth_date", "type")),
    ({"region_code": "999999"}, ("region_code", "region_code")),
    ({"region_code": "445199"}, ("region_code", "region_code")),
    ({"mobile": "12345"}, ("mobile", "pattern")),
    ({"person_name": "张" * 51}, ("person_name", "length")),
    ({"id_number": GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")}, ("id_number", "identifier")),
])
def test_builtin_failures(change: dict[str, str | None], expected: tuple[str, str]) -> None:
    failures = evaluator().evaluate(person(GOOD_ID, **change))
    assert expected in kinds(failures)
    assert all(f.rule_key.startswith("builtin:") for f in failures)


def test_retired_region_code_passes_unless_current_only() -> None:
    # 潮安县 445121 became 潮安区 445103: a code valid at birth must pass by default.
    row = person(GOOD_ID, region_code="445121")
    assert evaluator().evaluate(row) == []
    strict = ConfiguredRule(rule_id="r1", kind="region_code", column="region_code", params={"current_only": True})
    failures = evaluator(strict).evaluate(row)
    assert [(f.column, f.rule_key) for f in failures] == [("region_code", "rule:r1")]
    assert "撤销" in failures[0].message


def test_id_number_with_a_retired_area_code_is_valid() -> None:
    rid = make_resident_id("445121", dt.date(1970, 1, 1), 3)
    assert evaluator(CROSS).evaluate(person(rid)) == []


# ---------------------------------------------------------------------------------------------
# Configured rules
# ---------------------------------------------------------------------------------------------


def test_configured_rules_add_to_builtin_rules() -> None:
    rules = [
        ConfiguredRule(rule_id="len", kind="length", column="person_name", params={"min": 2, "max": 4}),
        ConfiguredRule(rule_id="enum", kind="enumeration", element_code="DE0003", params={"values": ["男", "女"]}),
        ConfiguredRule(rule_id="pat", kind="pattern", column="person_name", params={"regex": r"[\u4e00-\u9fff]+"}),
        ConfiguredRule(rule_id="dr", kind="date_range", element_code="DE0004", params={"min": "1900-01-01",
                                                                                         "max": "today"}),
        ConfiguredRule(rule_id="req", kind="required", column="mobile", params={}),
    ]
    ev = evaluator(*rules)
    row = person(GOOD_ID, person_name="L", gender="未知", mobile=None)
    keys = {(f.column, f.rule_key) for f in ev.evaluate(row)}
    assert keys == {("person_name", "rule:len"), ("person_name", "rule:pat"), ("gender", "rule:enum"),
                    ("mobile", "rule:req")}
    assert {(f.column, f.rule_key) for f in ev.evaluate(person(GOOD_ID, birth_date="2025-07-01"))} >= {
        ("birth_date", "rule:dr")}
    assert ev.evaluate(person(GOOD_ID)) == []


def test_element_rule_applies_to_every_column_carrying_the_element() -> None:
    columns = [*PEOPLE, ColumnInfo("spouse_id", "string", 18, False, False, "DE0001", "resident_id")]
    rule = ConfiguredRule(rule_id="u", kind="length", element_code="DE0001", params={"min": 18})
    specs = [s for s in rule_specs(columns, [rule]) if s.key == "rule:u"]
    assert sorted(s.column for s in specs) == ["id_number", "spouse_id"]


def test_cross_field_rule_names_the_column_that_disagrees() -> None:
    ev = evaluator(CROSS)
    f = ev.evaluate(person(GOOD_ID, birth_date="1980-05-07"))
    assert [(x.column, x.kind) for x in f] == [("birth_date", "cross_field")]
    f = ev.evaluate(person(GOOD_ID, gender="女"))
    assert [(x.column, x.kind) for x in f] == [("gender", "cross_field")]
    assert ev.evaluate(person(GOOD_ID, gender="未知")) == []  # unknown gender: nothing to compare
    assert ev.evaluate(person(GOOD_ID, birth_date=None)) == []


def test_cross_field_rule_without_its_columns_does_not_apply() -> None:
    columns = PEOPLE[:2]
    assert [s for s in rule_specs(columns, [CROSS]) if s.kind == "cross_field"] == []


def test_item_cross_field_rule_by_column_names() -> None:
    rule = ConfiguredRule(rule_id="c", kind="cross_field", column="id_number", params={"gender": "gender"})
    f = evaluator(rule).evaluate(person(GOOD_ID, gender="女", birth_date="1999-01-01"))
    assert [(x.column, x.rule_key) for x in f] == [("gender", "rule:c")]


def test_custom_message_replaces_the_default() -> None:
    rule = ConfiguredRule(rule_id="m", kind="required", column="mobile", message="请补录联系电话")
    f = evaluator(rule).evaluate(person(GOOD_ID, mobile=None))
    assert [x.message for x in f] == ["请补录联系电话"]


@pytest.mark.parametrize(("kind", "params", "field"), [
    ("nonsense", {}, "kind"),
    ("type", {"data_type": "blob"}, "params.data_type"),
    ("length", {}, "params.max"),
    ("length", {"min": 5, "max": 2}, "params.min"),
    ("length", {"max": -1}, "params.max"),
    ("length", {"max": True}, "params.max"),
    ("enumeration", {"values": []}, "params.values"),
    ("enumeration", {"values": "男"}, "params.values"),
    ("pattern", {"regex": "("}, "params.regex"),
    ("pattern", {"regex": "a" * 201}, "params.regex"),
    ("identifier", {"identifier": "passport"}, "params.identifier"),
    ("date_range", {"min": "2020-13-01"}, "params.min"),
    ("date_range", {"min": "2021-01-01", "max": "2020-01-01"}, "params.min"),
    ("date_range", {}, "params.max"),
    ("cross_field", {}, "params.birth"),
    ("cross_field", {"birth": "x;drop"}, "params.birth"),
])
def test_bad_parameters_are_refused_with_the_field(kind: str, params: dict, field: str) -> None:
    with pytest.raises(RuleError) as exc:
        validate_params(kind, params)
    assert exc.value.field == field


def test_parameters_are_normalised() -> None:
    assert validate_params("enumeration", {"values": [{"code": "1", "name": "男"}, ["2", "女"], "9", "9"]}) == {
        "values": ["1", "2", "9"]}
    assert validate_params("region_code", {}) == {"current_only": False}
    assert validate_params("date_range", {"max": "today"}) == {"min": None, "max": "today"}


# ---------------------------------------------------------------------------------------------
# Regex guard
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [r"(a+)+b", r"(a*)*", r"(.*a){1,30}", r"(a|aa)*b", r"(\w+\s?)*$", r"(a)\1",
                                     r"(?:x+y*)+", r"(a|b)(?(1)c|d)"])
def test_catastrophic_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(RuleError):
        check_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"[0-9]{17}[0-9X]", r"(\d{3}-){2}\d{4}", r"[A-Z]+", r"1[3-9][0-9]{9}",
                                     r"(?:ab){3}", r"[\u4e00-\u9fff]{2,4}", r"(a|b)*"])
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    assert check_pattern(pattern).pattern == pattern


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_the_guard_either_compiles_or_refuses(pattern: str) -> None:
    try:
        compiled = check_pattern(pattern)
    except RuleError as exc:
        assert exc.field == "params.regex"
    else:
        assert isinstance(compiled, re.Pattern)


def test_long_values_are_not_matched() -> None:
    rule = ConfiguredRule(rule_id="p", kind="pattern", column="person_name", params={"regex": r"[a-z]+"})
    f = evaluator(rule).evaluate(person(GOOD_ID, person_name="a" * 1001))
    assert ("person_name", "rule:p") in {(x.column, x.rule_key) for x in f}


def test_an_unusable_configured_rule_is_skipped_not_fatal() -> None:
    spec = RuleSpec(key="rule:bad", kind="pattern", column="person_name", params={"regex": "(a+)+"}, rule_id="bad")
    ev = Evaluator([spec], today=TODAY)
    assert ev.skipped == [spec]
    assert ev.evaluate({"person_name": "aaaa"}) == []


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

births = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)
areas = st.sampled_from(["445102", "445103", "445121", "110101", "440305", "650102"])
seqs = st.integers(min_value=0, max_value=999)


@settings(max_examples=200, deadline=None)
@given(areas, births, seqs)
def test_a_valid_id_with_matching_birth_date_and_gender_always_passes(area: str, birth: dt.date, seq: int) -> None:
    rid = make_resident_id(area, birth, seq)
    row = person(rid)
    assert row["birth_date"] == birth.isoformat()
    assert row["gender"] == ("男" if seq % 2 else "女")
    assert [f for f in evaluator(CROSS).evaluate(row) if f.kind == "cross_field"] == []


@settings(max_examples=200, deadline=None)
@given(areas, births, seqs, st.integers(min_value=-40000, max_value=40000).filter(bool))
def test_changing_the_birth_date_makes_the_cross_field_rule_fail(area: str, birth: dt.date, seq: int,
                                                                  shift: int) -> None:
    other = birth + dt.timedelta(days=shift)
    assume(dt.date(1, 1, 1) < other < dt.date(9999, 1, 1))
    rid = make_resident_id(area, birth, seq)
    failures = evaluator(CROSS).evaluate(person(rid, birth_date=other.isoformat()))
    assert ("birth_date", "cross_field") in kinds(failures)
    assert ("gender", "cross_field") not in kinds(failures)


@settings(max_examples=100, deadline=None)
@given(areas, births, seqs)
def test_flipping_the_gender_makes_the_cross_field_rule_fail(area: str, birth: dt.date, seq: int) -> None:
    rid = make_resident_id(area, birth, seq)
    flipped = "女" if seq % 2 else "男"
    assert ("gender", "cross_field") in kinds(evaluator(CROSS).evaluate(person(rid, gender=flipped)))


RID_CHARS = "0123456789X"
ID_COLUMNS = [ColumnInfo("rid", validator="resident_id"), ColumnInfo("uscc", validator="uscc"),
              ColumnInfo("org", validator="org_code")]


def _identifier_fails(column: str, value: str) -> bool:
    ev = compile_rules(ID_COLUMNS, today=TODAY)
    return any(f.column == column and f.kind == "identifier" for f in ev.evaluate({column: value}))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=RID_CHARS, min_size=16, max_size=19),
                 st.builds(make_resident_id, areas, births, seqs),
                 st.builds(lambda a, b, s, i, c: (x := make_resident_id(a, b, s))[:i] + c + x[i + 1:],
                           areas, births, seqs, st.integers(0, 17), st.sampled_from(RID_CHARS))))
def test_resident_id_checksum_rule_agrees_with_core_identifiers(value: str) -> None:
    assert _identifier_fails("rid", value) == (not is_valid_resident_id(value, today=TODAY))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=USCC_ALPHABET + "IOZ", min_size=17, max_size=19),
                 st.builds(lambda d, k, b: make_uscc(d, k, "445100", b), st.sampled_from("159ANY"),
                           st.sampled_from("123"), st.text(alphabet="0123456789ABCDEFGH", min_size=8, max_size=8))))
def test_uscc_checksum_rule_agrees_with_core_identifiers(value: str) -> None:
    assert _identifier_fails("uscc", value) == (not is_valid_uscc(value))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789ABCDEFX-", min_size=8, max_size=11))
def test_org_code_checksum_rule_agrees_with_core_identifiers(value: str) -> None:
    assert _identifier_fails("org", value) == (not is_valid_org_code(value))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789X", min_size=18, max_size=18))
def test_failure_messages_never_quote_the_value(value: str) -> None:
    rules = [ConfiguredRule(rule_id="e", kind="enumeration", column="id_number", params={"values": ["A"]}),
             ConfiguredRule(rule_id="p", kind="pattern", column="id_number", params={"regex": "[A-Z]+"}),
             ConfiguredRule(rule_id="d", kind="date_range", column="id_number", params={"min": "2000-01-01"})]
    for f in evaluator(*rules).evaluate(person(GOOD_ID, id_number=value)):
        assert value not in f.message
        assert value[6:14] not in f.message  # the birth-date part either


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=RID_CHARS + "x ", min_size=17, max_size=19),
                 st.builds(make_resident_id, areas, births, seqs)))
def test_the_fast_resident_id_path_only_accepts_what_core_accepts(value: str) -> None:
    from govshare.quality.rules import _fast_resident_id, resident_id_facts

    fast = _fast_resident_id(value, TODAY)
    if fast is not None:
        assert is_valid_resident_id(value, today=TODAY)
        assert fast == dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    facts = resident_id_facts(value, TODAY)
    assert (facts is not None) == is_valid_resident_id(value, today=TODAY)


def test_without_a_region_table_only_the_structure_is_checked() -> None:
    ev = compile_rules(PEOPLE, today=TODAY, regions=Regions())
    assert ev.evaluate(person(GOOD_ID, region_code="445199")) == []
    assert ("region_code", "region_code") in kinds(ev.evaluate(person(GOOD_ID, region_code="995100")))
    assert ("region_code", "region_code") in kinds(ev.evaluate(person(GOOD_ID, region_code="44510")))
