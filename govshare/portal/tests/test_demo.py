"""The demo city (``govshare demo``), its generators, and the operator commands around it."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from govshare import cli, testing
from govshare.accounts.choices import ADMIN_ROLES, Role
from govshare.accounts.models import User
from govshare.accounts.services import sign_in
from govshare.audit.models import AuditBlock
from govshare.baselibs.models import BaseLibrary, Discrepancy, LibrarySource, Lineage
from govshare.catalog.choices import Category, OpenType, ResourceStatus, ShareType, UpdateCycle
from govshare.catalog.models import Resource
from govshare.client import GovshareClient, wsgi_transport
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.core.identifiers import (
    is_valid_uscc,
    resident_id_area_code,
    resident_id_birth_date,
    validate_resident_id,
)
from govshare.datasets.models import Dataset, DatasetRecord
from govshare.demo.accounts import DemoBuildHasher
from govshare.demo.builder import DemoError, ensure_demo, find_demo
from govshare.demo.city import DEMO_PASSWORD, USERS
from govshare.demo.companies import generate_companies
from govshare.demo.people import generate_people
from govshare.demo.reset import reset_database
from govshare.exchange.choices import ApplicationStatus, GrantStatus, ItemMode
from govshare.exchange.models import Application, Grant, GrantItem
from govshare.licences.models import Licence, LicenceType, ServiceMaterial
from govshare.organizations.models import Department, Node, Region
from govshare.portal.management.commands.serve import StaticFiles, default_workers, display_url
from govshare.quality.choices import DisputeStatus
from govshare.quality.models import Dispute
from govshare.registry.models import AppCredential
from govshare.subscriptions.delivery import deliver_due
from govshare.subscriptions.models import Subscription
from govshare.wsgi import application as wsgi_application

CURRENT_AREAS = {"445102", "445103", "445122"}


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def test_help_lists_the_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("demo", "serve", "createadmin", "regions", "migrate", "worker"):
        assert f"  {verb} " in out
    assert "GOVSHARE_HOME" in out


# ---------------------------------------------------------------------------------------------
# Generators (no database)
# ---------------------------------------------------------------------------------------------


def test_people_are_valid_distinct_and_deterministic() -> None:
    people = list(generate_people(3000))
    ids = [p.id_number for p in people]
    assert len(set(ids)) == len(ids)
    for p in people:
        assert validate_resident_id(p.id_number) == p.id_number
        assert resident_id_area_code(p.id_number) in CURRENT_AREAS  # current codes only (not 潮安县 445121)
        assert dt.date(1940, 1, 1) <= resident_id_birth_date(p.id_number) <= dt.date(2020, 12, 31)
        assert (int(p.id_number[16]) % 2 == 1) == (p.gender == "男")
        assert p.household_address.startswith("广东省潮州市")
        assert len(p.mobile) == 11 and p.mobile[0] == "1"
        assert 2 <= len(p.name) <= 4
    assert [p.row() for p in generate_people(3000)] == [p.row() for p in people]  # seeded
    assert [p.id_number for p in generate_people(100)] == ids[:100]  # prefix-stable
    assert {resident_id_area_code(i) for i in ids} == CURRENT_AREAS


def test_companies_have_valid_uscc_in_chaozhou() -> None:
    companies = list(generate_companies(1500))
    assert len({c.uscc for c in companies}) == len({c.name for c in companies}) == 1500
    for c in companies:
        assert is_valid_uscc(c.uscc)
        assert c.uscc.startswith("91") and c.uscc[2:6] == "4451"
        assert c.name.startswith(("潮州市", "饶平县"))
        assert c.status in ("存续", "在业", "注销", "吊销", "迁出")
    assert [c.row() for c in generate_companies(50)] == [c.row() for c in companies[:50]]


# ---------------------------------------------------------------------------------------------
# The build (one build, many checks: a build costs a few seconds)
# ---------------------------------------------------------------------------------------------


def _demo(*args: str) -> tuple[str, float]:
    out = io.StringIO()
    start = time.perf_counter()
    call_command("demo", "--no-serve", "--people", "2000", "--companies", "300", *args, stdout=out)
    return out.getvalue(), time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.django_db
def test_demo_builds_a_believable_city_and_reuses_it() -> None:
    output, first_seconds = _demo()
    # The whole city, resource center included, in about half a minute on an idle machine (it shares the CPU
    # with another test worker in CI, hence the margin).
    assert first_seconds < 180

    # Nodes: the city and four county-level nodes, one of them (枫溪区) without a region code.
    city = Node.objects.get(is_local=True)
    assert (city.code, city.name, city.region_id) == ("445100", "潮州市", "445100")
    counties = Node.objects.filter(parent=city)
    assert {n.name for n in counties} == {"湘桥区", "潮安区", "饶平县", "枫溪区"}
    assert counties.get(name="枫溪区").region_id is None

    # Departments with valid 统一社会信用代码 of government organs (机关: 11…).
    departments = list(Department.objects.all())
    assert len(departments) >= 10
    assert all(is_valid_uscc(d.uscc) and d.uscc.startswith("11") for d in departments)
    assert Department.objects.filter(is_data_office=True, node=city).count() == 1

    # Every role has a user; administrators have a second factor, no one is a superuser.
    for role in Role.values:
        assert User.objects.filter(role=role).exists(), role
    quick = DemoBuildHasher()
    for user in User.objects.all():
        assert bool(user.totp_secret_enc) == (user.role in ADMIN_ROLES)
        assert not user.is_superuser
        assert quick.verify(DEMO_PASSWORD, user.password)

    # The catalog: 60+ resources over the three categories, every share type, update cycle, level, state.
    resources = list(Resource.objects.select_related("published_version"))
    assert len(resources) >= 60
    assert {r.category for r in resources} == set(Category.values)
    assert {r.share_type for r in resources} == set(ShareType.values)
    assert {r.update_cycle for r in resources} == set(UpdateCycle.values)
    assert {r.sensitivity for r in resources} == {1, 2, 3, 4}
    assert {r.status for r in resources} == set(ResourceStatus.values)
    assert any(r.status == ResourceStatus.DRAFT and r.published_version_id for r in resources)  # revising
    assert any(r.status == ResourceStatus.DRAFT and r.review_note for r in resources)  # sent back
    tightened = Resource.objects.get(name="社会保险参保信息")
    assert [v.number for v in tightened.versions.all()] == [1, 2]
    assert tightened.published_version is not None and tightened.published_version.tightened
    for r in resources:  # the classification rules hold
        if r.sensitivity >= 3:
            assert r.open_type != OpenType.UNCONDITIONAL, r.name
        if r.sensitivity == 4:
            assert r.open_type == OpenType.NONE, r.name
        if r.share_type == ShareType.NONE:
            assert r.no_share_basis.strip(), r.name

    # Datasets: 2000 people with valid 身份证号 and current area codes; 300 companies.
    people = Dataset.objects.get(resource__name="人口基本信息")
    records = DatasetRecord.objects.filter(dataset=people, generation=people.generation)
    assert people.row_count == records.count() == 2000
    for key, data in records.values_list("key", "data"):
        assert validate_resident_id(key) == key == data["id_number"]
        assert key[:6] in CURRENT_AREAS
    companies = Dataset.objects.get(resource__name="法人基本信息")
    assert companies.row_count == 300
    assert all(is_valid_uscc(k) for k in DatasetRecord.objects.filter(
        dataset=companies, generation=companies.generation).values_list("key", flat=True))
    assert Dataset.objects.count() >= 4
    # 养老保险待遇发放: the L4 payment account is sealed at rest (SM4 + blind index), never stored in clear.
    pensions = Dataset.objects.get(resource__name="养老保险待遇发放信息")
    stored = list(DatasetRecord.objects.filter(dataset=pensions, generation=pensions.generation)
                  .values_list("data", flat=True)[:20])
    assert pensions.row_count >= 50 and stored
    assert all(isinstance(d["bank_card"], dict) and set(d["bank_card"]) == {"bi", "ct"} for d in stored)

    # Three systems have credentials; the printed block has every login, seed and secret.
    assert AppCredential.objects.filter(status="active").count() == 3
    assert "人口基本信息" in output and "目录资源 " in output
    for spec in USERS:
        assert f" {spec.username} " in output
    assert output.count(DEMO_PASSWORD) >= len(USERS)
    assert "pyotp.TOTP" in output
    summary = ensure_demo(people=2000, companies=300, out=lambda _line: None)
    for login in summary.logins:
        if login.totp_secret:
            assert login.totp_secret in output
    assert [c.app_secret in output for c in summary.credentials] == [True, True, True]

    # An administrator signs in with the printed password and a code from the printed seed; the quick
    # demo hash is replaced by a full-strength one on that first sign-in.
    office = next(login for login in summary.logins if login.username == "shujuju")
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user = sign_in(username="shujuju", password=DEMO_PASSWORD, otp=pyotp.TOTP(office.totp_secret).now(),
                       client_ip="127.0.0.1")
    user.refresh_from_db()
    assert user.password.startswith(f"pbkdf2_sha256${PBKDF2PasswordHasher.iterations}$")

    # The exchange: applications in every state (internal review once the city enables it), overdue
    # stages escalated, grants in every item mode, one suspended, one revoked, one past the guard by override.
    statuses = set(Application.objects.values_list("status", flat=True))
    assert statuses == set(ApplicationStatus.values)
    assert Application.objects.filter(status=ApplicationStatus.REFUSED).exclude(refusal_reason="").exists()
    assert Application.objects.filter(escalated_at__isnull=False, stage_due_at__lt=timezone.now()).exists()
    assert Application.objects.filter(reminded_at__isnull=False).exists()
    assert set(GrantItem.objects.values_list("mode", flat=True)) == set(ItemMode.values)
    assert Grant.objects.filter(status=GrantStatus.SUSPENDED).count() == 1
    assert Grant.objects.filter(status=GrantStatus.REVOKED).count() == 1
    assert Grant.objects.exclude(guard_override_reason="").count() == 1
    printed = {c.system for c in summary.credentials}
    assert printed <= set(Grant.objects.filter(status=GrantStatus.ACTIVE, resource__name="人口基本信息")
                          .values_list("system__name", flat=True))
    assert AuditBlock.objects.exists()
    assert "核验调用示例" in output and "gs.verify(" in output

    # The printed verify example works with the printed credential, through the real WSGI entry.
    v = summary.verify
    assert v is not None and f'"{v.key}"' in output and f'"{v.name}"' in output
    cred = summary.credentials[0]
    gs = GovshareClient("http://testserver", cred.app_key, cred.app_secret, operator="综合窗口01",
                        case_number="BJ2026-0001", item_code="11445100MB2C0871XY", purpose="核验身份",
                        transport=wsgi_transport(wsgi_application))
    assert gs.verify(v.resource, v.key, {"person_name": v.name})["all_match"] is True
    assert gs.verify(v.resource, v.key, {"person_name": v.name + "甲"})["all_match"] is False

    # The resource center: base libraries (房屋 among them) fused from 3+ departments with discrepancies and lineage;
    # 10+ licence types with licences and the 事项 → 材料 mapping; disputes in every state; a connector that pulled
    # and reconciled; a webhook and a table-sink subscription, whose table the worker's delivery pass fills.
    libraries = {lib.code: lib for lib in BaseLibrary.objects.all()}
    assert {"population", "legal_person", "housing", "social_credit", "geo_address"} <= set(libraries)
    for code in ("population", "legal_person", "housing"):
        sources = LibrarySource.objects.filter(library=libraries[code])
        assert sources.values("dataset__resource__provider").distinct().count() >= 3, code
    assert Discrepancy.objects.filter(library=libraries["population"]).exists()
    assert Discrepancy.objects.filter(library=libraries["housing"]).exists()
    assert Lineage.objects.exists()
    assert LicenceType.objects.count() >= 10
    assert Licence.objects.count() > 100 and Licence.objects.filter(status="revoked").exists()
    assert ServiceMaterial.objects.filter(licence_type__isnull=False).exists()
    assert set(Dispute.objects.values_list("status", flat=True)) == set(DisputeStatus.values)
    connector = SourceConnector.objects.get()
    assert connector.last_success_at is not None
    assert ConnectorRun.objects.filter(connector=connector, kind="reconcile").exists()
    subs = {s.kind: s for s in Subscription.objects.all()}
    assert set(subs) == {"webhook", "table"} and subs["webhook"].url == "http://127.0.0.1:8701/hook"
    assert subs["table"].status == "active"
    for _ in range(10):  # the worker's delivery pass (the table sink needs no receiver)
        deliver_due()
    with sqlite3.connect(subs["table"].sink_database) as conn:
        delivered = conn.execute("SELECT count(*) FROM gs_subscribed_records").fetchone()[0]
    assert delivered == 2000
    assert "基础库：5 个" in output and "电子证照：证照类型" in output and "前置库接入" in output
    assert "数据共享调用演示：24 次成功" in output and "共享统计：已汇总最近 30 天" in output

    # A second run reuses the city: nothing changes, and it is quick.
    before = (Resource.objects.count(), User.objects.count(), DatasetRecord.objects.count(),
              Application.objects.count(), Grant.objects.count(), AuditBlock.objects.count())
    again, second_seconds = _demo()
    assert "沿用已有数据" in again
    assert (Resource.objects.count(), User.objects.count(), DatasetRecord.objects.count(),
            Application.objects.count(), Grant.objects.count(), AuditBlock.objects.count()) == before
    assert second_seconds < 5


@pytest.mark.django_db
def test_demo_refuses_a_real_installation() -> None:
    testing.node("330100", name="杭州市", is_local=True)
    with pytest.raises(DemoError, match="杭州市"):
        find_demo()
    with pytest.raises(DemoError, match="拒绝清空"):
        reset_database()  # refuses before touching anything
    assert Node.objects.filter(code="330100").exists()


@pytest.mark.django_db
def test_demo_never_builds_into_or_resets_a_database_with_other_data() -> None:
    testing.department(testing.node("T9001"))  # data, but no local node
    with pytest.raises(DemoError, match="非演示数据"):
        find_demo()
    with pytest.raises(DemoError, match="拒绝清空"):
        reset_database()


@pytest.mark.django_db
def test_demo_after_createadmin_refuses_rather_than_mixing_data() -> None:
    call_command("createadmin", "--node-code", "445100", "--node-name", "潮州市", stdout=io.StringIO())
    for args in ((), ("--reset",)):
        with pytest.raises(CommandError, match="潮州市"):
            call_command("demo", "--no-serve", *args, stdout=io.StringIO())
    assert User.objects.count() == 3 and Node.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# createadmin, regions
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_createadmin_creates_three_separate_administrators_once() -> None:
    with pytest.raises(CommandError, match="--node-code"):
        call_command("createadmin", stdout=io.StringIO())
    out = io.StringIO()
    call_command("createadmin", "--node-code", "445100", "--node-name", "潮州市", "--region", "445100", stdout=out)
    node = Node.objects.get(is_local=True)
    assert (node.code, node.region_id) == ("445100", "445100")
    admins = {u.role: u for u in User.objects.filter(node=node)}
    assert set(admins) == {Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN}
    text = out.getvalue()
    for user in admins.values():
        assert not user.is_superuser and not user.is_staff
        assert user.totp_secret_enc and user.totp_confirmed
        assert user.username in text
    passwords = [line.split("密码：")[1] for line in text.splitlines() if line.strip().startswith("密码：")]
    assert len(set(passwords)) == 3
    assert all(len(p) >= 16 and admins[Role.SYS_ADMIN].check_password(p) is (i == 0)
               for i, p in enumerate(passwords))
    with pytest.raises(CommandError, match="已有管理员"):
        call_command("createadmin", stdout=io.StringIO())
    assert User.objects.count() == 3


@pytest.mark.django_db
def test_regions_command_loads_the_table_idempotently() -> None:
    out = io.StringIO()
    call_command("load_regions", stdout=out)
    total = Region.objects.count()
    assert total > 3000 and f"新增 {total} 条" in out.getvalue()
    assert Region.objects.get(code="445103").name == "潮安区"
    out = io.StringIO()
    call_command("load_regions", stdout=out)
    assert "新增 0 条" in out.getvalue() and Region.objects.count() == total


# ---------------------------------------------------------------------------------------------
# serve: the static-file wrapper and defaults
# ---------------------------------------------------------------------------------------------


def _call(app: StaticFiles, path: str, method: str = "GET", **headers: str) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, hdrs: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(hdrs)

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method, **headers}, start_response))
    return seen["status"], seen["headers"], body


def test_static_files_are_served_safely(tmp_path: Path) -> None:
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body{}", encoding="utf-8")
    (root / ".hidden").write_text("x", encoding="utf-8")
    (tmp_path / "secret_key").write_text("s3cret", encoding="utf-8")
    (root / "link").symlink_to(tmp_path / "secret_key")

    def django(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"django"]

    app = StaticFiles(django, root=root, prefix="/static/")
    status, headers, body = _call(app, "/static/css/site.css")
    assert status == "200 OK" and body == b"body{}"
    assert headers["Content-Type"] == "text/css; charset=utf-8" and headers["Content-Length"] == "6"
    assert _call(app, "/static/css/site.css", HTTP_IF_NONE_MATCH=headers["ETag"])[0] == "304 Not Modified"
    assert _call(app, "/static/css/site.css", method="HEAD")[2] == b""
    assert _call(app, "/static/css/site.css", method="POST")[0].startswith("405")
    for bad in ("/static/../secret_key", "/static/.hidden", "/static/link", "/static/css", "/static/",
                "/static/css/..%2f..%2fsecret_key", "/static/css\\site.css"):
        assert _call(app, bad)[0] == "404 Not Found", bad
    assert _call(app, "/api/v1/docs")[2] == b"django"


def test_serve_defaults() -> None:
    assert 1 <= default_workers() <= 4
    assert display_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/"  # noqa: S104
    assert display_url("::1", 80) == "http://[::1]:80/"
