"""The REST API: definitions, install, libraries, run now, runs, masked discrepancies, lineage."""

from __future__ import annotations

from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.baselibs.models import BaseLibrary
from govshare.baselibs.services import fuse
from govshare.baselibs.tests.conftest import City
from govshare.conftest import client_for
from govshare.core.masking import mask

pytestmark = pytest.mark.django_db
B = "/api/v1/baselibs"


def install_body(town: City) -> dict[str, Any]:
    def ref(src: tuple[Any, ...]) -> dict[str, Any]:
        return {"dataset_id": str(src[0].pk), "column": src[1]}

    return {"code": "population", "sources": {
        f: {"authoritative": ref(s["authoritative"]), "cross_checks": [ref(c) for c in s.get("cross_checks", [])]}
        for f, s in town.population_sources().items()}}


def test_definitions(town: City) -> None:
    c = client_for(town.staff["gaj"])
    defs = c.get(f"{B}/definitions").json()
    assert {d["code"] for d in defs} >= {"population", "legal_person", "housing", "social_credit", "geo_address"}
    pop = c.get(f"{B}/definitions/population").json()
    assert pop["key"] == "id_number" and pop["fields"][8]["authoritative"] == "民政局"
    assert c.get(f"{B}/definitions/nope").status_code == 404


def test_install_run_and_read_through_the_api(town: City, django_assert_max_num_queries: Any) -> None:
    office = client_for(town.office)
    resp = office.post(f"{B}/install", install_body(town), content_type="application/json")
    assert resp.status_code == 201, resp.content
    lib = resp.json()
    assert lib["code"] == "population" and lib["due"] and lib["last_run"] is None and len(lib["sources"]) == 19
    marital = next(s for s in lib["sources"] if s["field"] == "marital_status")
    assert marital["department_name"] == "市民政局" and marital["role"] == "authoritative"
    # The same install again: a conflict; a bad dataset id: a 422 naming the field.
    assert office.post(f"{B}/install", install_body(town), content_type="application/json").status_code == 409
    body = install_body(town)
    body["code"] = "legal_person"
    body["sources"]["uscc"] = {"authoritative": {"dataset_id": str(town.node.pk), "column": "uscc"}}
    bad = office.post(f"{B}/install", body, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "sources.uscc.authoritative"
    # "Run now" marks it due; the run itself is the worker's.
    library = BaseLibrary.objects.get(pk=lib["id"])
    assert office.post(f"{B}/{lib['id']}/run", {"full": True}, content_type="application/json").status_code == 202
    fuse(actor="worker", library=library)
    detail = office.get(f"{B}/{lib['id']}").json()
    assert detail["row_count"] == 8 and detail["last_run"]["status"] == "succeeded" and detail["last_run"]["full"]
    runs = office.get(f"{B}/{lib['id']}/runs").json()["items"]
    assert len(runs) == 1 and runs[0]["upserts"] == 8
    reader = client_for(town.staff["gaj"])
    reader.get(B)
    with django_assert_max_num_queries(10):  # session and user, libraries, their sources, their last runs
        listing = reader.get(B).json()
    assert [x["code"] for x in listing["items"]] == ["population"]


@pytest.fixture
def fused(town: City) -> tuple[City, BaseLibrary]:
    ppl = town.people
    town.batch("rsj", [{**ppl[2], "person_name": "陈三"}, {**ppl[1], "phone": "13900000000"}])
    lib = town.install()
    fuse(actor=town.office, library=lib)
    return town, lib


def test_discrepancies_are_masked_and_scoped_to_the_authoritative_department(fused: tuple[City, BaseLibrary]) -> None:
    town, lib = fused
    url = f"{B}/{lib.pk}/discrepancies"
    items = client_for(town.office).get(url).json()["items"]
    assert len(items) == 2
    name = next(i for i in items if i["field"] == "person_name")
    assert name["authoritative_value"] == mask("name", town.people[2]["person_name"])
    assert name["cross_check_value"] == "陈*"
    assert name["key"] == mask("id_number", town.people[2]["id_number"]) and name["dispute_id"]
    assert name["authoritative_department"] == "市公安局" and name["field_name"] == "姓名"
    phone = next(i for i in items if i["field"] == "phone")
    assert phone["authoritative_value"] == "139****0000"
    assert phone["authoritative_department"] == "市人力资源和社会保障局"
    # Each authoritative department sees those against its own data; a department that is no authoritative
    # source sees none of them.
    mine = client_for(town.staff["gaj"]).get(url).json()["items"]
    assert [i["field"] for i in mine] == ["person_name"]
    assert [i["field"] for i in client_for(town.staff["rsj"]).get(url).json()["items"]] == ["phone"]
    assert client_for(town.staff["wjw"]).get(url).status_code == 403
    by_key = client_for(town.office).get(url, {"key": town.people[1]["id_number"], "status": "open"}).json()["items"]
    assert [i["field"] for i in by_key] == ["phone"]
    assert client_for(town.office).get(url, {"status": "nope"}).status_code == 422


def test_lineage_for_the_data_office(fused: tuple[City, BaseLibrary]) -> None:
    town, lib = fused
    key = town.people[0]["id_number"]
    out = client_for(town.office).get(f"{B}/{lib.pk}/lineage/{key}").json()
    assert out["key"] == key
    assert out["fields"]["marital_status"]["dataset_id"] == str(town.datasets["mzj"].pk)
    assert out["fields"]["person_name"]["department_name"] == "市公安局" and out["fields"]["phone"]["seq"] >= 1
    assert client_for(town.staff["gaj"]).get(f"{B}/{lib.pk}/lineage/{key}").status_code == 403
    assert client_for(town.office).get(f"{B}/{lib.pk}/lineage/445102199901010000").status_code == 404
    outsider = testing.user(Role.DATA_OFFICE, at=testing.node("445200", name="揭阳市", level="city"))
    assert client_for(outsider).get(f"{B}/{lib.pk}/lineage/{key}").status_code == 403


def test_refused_records_are_reported_with_masked_keys(town: City) -> None:
    town.batch("gaj", [{**town.people[0], "person_name": ""}])  # the library's 姓名 is required
    lib = town.install()
    fuse(actor=town.office, library=lib)
    (run,) = client_for(town.office).get(f"{B}/{lib.pk}/runs").json()["items"]
    assert run["rejected"] == 1
    assert run["problems"][0]["key"] == mask("id_number", town.people[0]["id_number"])
    assert run["problems"][0]["field"] == "person_name"
