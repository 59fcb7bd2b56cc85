"""Installing a library: a published, mounted 基础信息资源, and bindings that respect 一数一源."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.baselibs.choices import SourceRole
from govshare.baselibs.models import LibrarySource
from govshare.baselibs.tests.conftest import City, it
from govshare.catalog.choices import ResourceStatus, ShareType
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.datasets.services import mount_resource

pytestmark = pytest.mark.django_db


def refused(town: City, **kw: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        town.install(**kw)
    return info.value


def test_install_creates_a_published_mounted_basic_resource(town: City) -> None:
    lib = town.install()
    r = lib.resource
    assert r.status == ResourceStatus.PUBLISHED and r.is_listed and r.classification_id == "101001"
    assert r.category == "basic" and r.share_type == ShareType.CONDITIONAL and r.provider_id == town.office_dept.pk
    items = list(r.items.order_by("position").values_list("column_name", "is_key", "element__code"))
    assert items[0] == ("id_number", True, "DE0001") and len(items) == 11
    assert [c for c, key, _ in items if key] == ["id_number"]
    assert r.sensitivity == 3  # 就高从严: the most sensitive item (身份证号, 户籍地址 … are L3)
    assert lib.dataset.key_column == "id_number" and lib.dataset.resource_id == r.pk
    auth = LibrarySource.objects.filter(library=lib, role=SourceRole.AUTHORITATIVE)
    assert auth.count() == 11  # one per field
    assert auth.get(field="marital_status").dataset_id == town.datasets["mzj"].pk
    assert LibrarySource.objects.filter(library=lib, role=SourceRole.CROSS_CHECK).count() == 8
    assert lib.due and lib.due_full
    (event,) = AuditEvent.objects.filter(action="baselib.installed")
    assert event.actor_id == str(town.office.pk) and event.data["warnings"] == []
    with pytest.raises(Conflict):
        town.install()


def test_every_field_needs_exactly_one_authoritative_source(town: City) -> None:
    sources = town.population_sources()
    del sources["marital_status"]
    err = refused(town, sources=sources)
    assert err.field == "sources.marital_status" and "一数一源" in err.message
    sources = town.population_sources()
    sources["gender"]["authoritative"] = [(town.datasets["gaj"], "gender"), (town.datasets["rsj"], "gender")]
    err = refused(town, sources=sources)
    assert err.field == "sources.gender.authoritative" and "一数一源" in err.message
    sources = town.population_sources()
    sources["gender"]["cross_checks"].append((town.datasets["gaj"], "gender"))  # its own authoritative dataset
    assert "another dataset" in refused(town, sources=sources).message


def test_bindings_must_carry_the_key_and_the_fields_element(town: City) -> None:
    # A dataset that does not carry the 身份证号 (keyed by something else) cannot feed the 人口 library.
    other = testing.resource(town.depts["mzj"], name="婚姻登记点", items=[it("名称", "DE0050", key=True),
                                                                     it("婚姻状况", "DE0009")], publish_by=town.office)
    ds = mount_resource(actor=town.staff["mzj"], resource=other)
    sources = town.population_sources()
    sources["marital_status"]["authoritative"] = (ds, "marital_status")
    err = refused(town, sources=sources)
    assert err.field == "sources.marital_status.authoritative" and "主键" in err.message
    sources = town.population_sources()
    sources["gender"]["authoritative"] = (town.datasets["gaj"], "ethnicity")  # another data element
    assert "数据元" in refused(town, sources=sources).message
    sources = town.population_sources()
    sources["gender"]["authoritative"] = (town.datasets["gaj"], "no_such_column")
    assert "没有列" in refused(town, sources=sources).message
    sources = town.population_sources()
    sources["shoe_size"] = {"authoritative": (town.datasets["gaj"], "gender")}
    assert refused(town, sources=sources).field == "sources.shoe_size"
    # Nothing was written by the refused installs.
    assert not LibrarySource.objects.exists()


def test_sources_must_be_on_the_node_and_the_installer_its_data_office(town: City) -> None:
    away = testing.node("445200", name="揭阳市", level="city")
    away_dept = testing.department(away, name="揭阳市公安局")
    r = testing.resource(away_dept, name="户籍人口信息", items=[it("公民身份号码", "DE0001", key=True),
                                                           it("性别", "DE0003")],
                         publish_by=testing.user(Role.DATA_OFFICE, at=away,
                                                 dept=testing.department(away, is_data_office=True)))
    ds = mount_resource(actor=None, resource=r)
    sources = town.population_sources()
    sources["gender"]["cross_checks"] = [(ds, "gender")]
    assert "本节点" in refused(town, sources=sources).message
    with pytest.raises(PermissionDenied):
        town.install(actor=town.staff["gaj"])
    with pytest.raises(ValidationFailed) as info:
        town.install(code="licences")
    assert "电子证照" in info.value.message
    with pytest.raises(ValidationFailed):
        town.install(code="no_such_library")


def test_the_schema_holds_one_authoritative_source_per_field(town: City) -> None:
    lib = town.install()
    with pytest.raises(IntegrityError), transaction.atomic():
        LibrarySource.objects.create(library=lib, field="gender", role=SourceRole.AUTHORITATIVE,
                                     dataset=town.datasets["rsj"], column="gender", match_column="id_number")


def test_a_source_department_unlike_its_role_is_installed_with_a_warning(town: City) -> None:
    sources = town.population_sources()
    sources["marital_status"]["authoritative"] = (town.datasets["gaj"], "person_name")
    with pytest.raises(ValidationFailed):  # 姓名 is not 婚姻状况
        town.install(sources=sources)
    sources = town.population_sources()
    sources["insurance_status"]["authoritative"] = (town.datasets["rsj"], "insurance_status")
    sources["phone"]["authoritative"] = (town.datasets["gaj"], "phone")  # 公安局 where 人社局 is expected
    sources["phone"]["cross_checks"] = [(town.datasets["rsj"], "phone")]
    town.install(sources=sources)
    (event,) = AuditEvent.objects.filter(action="baselib.installed")
    assert len(event.data["warnings"]) == 1 and "人社局" in event.data["warnings"][0]
