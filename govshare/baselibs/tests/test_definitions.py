"""Definitions as data: the shipped ones are valid; a broken one is refused with every problem named."""

from __future__ import annotations

import copy
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govshare.baselibs.definitions import (
    DATA,
    DefinitionError,
    check_against_catalog,
    parse_definition,
    read_definitions,
    shipped_definitions,
    validate_definitions,
)

POPULATION = json.loads((DATA / "population.json").read_text(encoding="utf-8"))


def broken(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(POPULATION)
    doc.update(changes)
    return doc


def problems_of(doc: Any) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(doc, "x.json")
    return info.value.problems


def test_shipped_definitions_cover_the_six_base_libraries() -> None:
    defs = shipped_definitions()
    assert set(defs) == {"population", "legal_person", "housing", "social_credit", "geo_address", "licences"}
    assert {d.classification[:3] for d in defs.values()} == {"101", "102", "103", "104", "105"}
    pop = defs["population"]
    assert pop.key == "id_number" and pop.key_field.element == "DE0001"
    assert pop.field("marital_status").authoritative == "民政局"
    assert pop.field("insurance_status").authoritative == "人社局"
    assert pop.field("deceased").authoritative == "公安局" and pop.field("deceased").cross_checks == ("卫健委",)
    assert defs["legal_person"].field("tax_credit_grade").authoritative == "税务局"
    assert defs["housing"].key_field.name == "不动产单元号"
    assert defs["social_credit"].field("penalty_doc_no").multi
    assert pop.role_matches("卫健委", "潮州市卫生健康局") and not pop.role_matches("卫健委", "潮州市公安局")


@pytest.mark.django_db
def test_shipped_definitions_are_valid_against_the_catalog(seeded: None) -> None:
    defs, problems = validate_definitions()
    assert problems == [] and len(defs) == 6
    out = StringIO()
    call_command("baselibs", "validate", stdout=out)
    assert "6" in out.getvalue()
    out = StringIO()
    call_command("baselibs", "definitions", stdout=out)
    assert "婚姻状况" in out.getvalue() and "权威来源：民政局" in out.getvalue()


def test_two_authoritative_sources_are_refused() -> None:
    doc = broken()
    doc["fields"][1]["authoritative"] = ["公安局", "人社局"]
    (p,) = problems_of(doc)
    assert p.startswith("x.json.fields[1].authoritative") and "一数一源" in p


def test_every_problem_is_named() -> None:
    doc = broken(key="nope", kind="magic", code="Bad Code")
    doc["fields"][2]["authoritative"] = ""
    doc["fields"][3]["cross_checks"] = ["公安局"]  # its own authoritative source
    doc["fields"][4]["cross_checks"] = ["教育局"]  # an undeclared role
    doc["fields"][5]["column"] = "person_name"  # a duplicate column
    doc["fields"][6]["authoritive"] = "公安局"  # a typo
    problems = problems_of(doc)
    text = "\n".join(problems)
    for expected in ("x.json.code", "x.json.kind", "x.json.key", "fields[2].authoritative", "fields[3].cross_checks",
                     "fields[4]: 部门角色 教育局", "duplicate field column", "fields[6].authoritive"):
        assert expected in text, expected


def test_key_field_rules() -> None:
    doc = broken()
    doc["fields"][0]["multi"] = True
    doc["fields"][0]["cross_checks"] = ["人社局"]
    text = "\n".join(problems_of(doc))
    assert "multi-valued" in text and "has no cross-checks" in text
    assert "at least one field" in "\n".join(problems_of(broken(fields=[])))
    assert problems_of([1, 2]) == ["x.json: 应为 JSON 对象 (must be a JSON object)"]


@pytest.mark.django_db
def test_unknown_elements_and_classification_are_caught_against_the_catalog(seeded: None) -> None:
    doc = broken(classification="201")
    doc["fields"][1]["element"] = "DE9999"
    problems = check_against_catalog(parse_definition(doc, "x.json"))
    assert problems[0] == "x.json.fields[1].element: 未知数据元 DE9999 (unknown data element)"
    assert "基础信息资源" in problems[1] or "unknown classification" in problems[1]


@pytest.mark.django_db
def test_validate_command_fails_on_a_bad_directory(seeded: None, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(broken()), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(broken()), encoding="utf-8")  # the same code twice
    (tmp_path / "c.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        read_definitions(tmp_path)
    assert any("duplicate library code" in p for p in info.value.problems)
    assert any(p.startswith("c.json") for p in info.value.problems)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("baselibs", "validate", "--dir", str(tmp_path), stderr=err)
    assert "duplicate library code" in err.getvalue()
