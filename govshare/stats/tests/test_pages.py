"""The home page, the department pages and the stats API: the page shows what the API answers, anonymous
visitors get the public figures only, the charts are self-contained SVG, and the home page's query count does
not grow with the audit log."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from govshare import testing
from govshare.audit.services import record_event
from govshare.conftest import client_for
from govshare.stats.services import refresh_rollups
from govshare.stats.tests.conftest import City, at

pytestmark = pytest.mark.django_db


class Figures(HTMLParser):
    """Collects ``data-total`` figures and, per ``data-dept`` row, its ``data-k`` cells."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[str, str] = {}
        self.rows: dict[str, dict[str, str]] = {}
        self._total: str | None = None
        self._cell: str | None = None
        self._dept: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("data-total"):
            self._total = a["data-total"]
        if a.get("data-dept"):
            self._dept = a["data-dept"]
            self.rows[self._dept] = {}
        if a.get("data-k") and self._dept:
            self._cell = a["data-k"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._dept = None

    def handle_data(self, data: str) -> None:
        if self._total:
            self.totals[self._total] = data.strip()
            self._total = None
        elif self._cell and self._dept:
            self.rows[self._dept][self._cell] = data.strip()
            self._cell = None


def parse(html: str) -> Figures:
    f = Figures()
    f.feed(html)
    return f


def shown(value: Any) -> str:
    return "—" if value is None else str(value)


@pytest.fixture
def busy(town: City) -> City:
    today = timezone.localdate()
    for days, refuse in [(1, False), (3, True), (5, False)]:
        town.decided(at(today - dt.timedelta(days=days + 7)), at(today - dt.timedelta(days=2)), refuse=refuse)
    town.decided(at(today, 9), None)
    other = testing.department(town.city, name="市民政局")
    testing.resource(other, name="婚姻登记信息", publish_by=town.office)
    testing.resource(other, name="低保对象信息", publish_by=town.office)
    for n in range(14):
        refresh_rollups(actor=None, day=today - dt.timedelta(days=n))
    return town


@pytest.mark.parametrize("who", ["anonymous", "provider", "data_office"])
def test_page_figures_agree_with_the_api(busy: City, who: str) -> None:
    user = {"anonymous": None, "provider": busy.provider, "data_office": busy.office}[who]
    client = client_for(user)
    page = client.get("/?days=30")
    assert page.status_code == 200
    api = client.get("/api/v1/stats/summary?days=30").json()
    assert api["public"] is (user is None)
    figures = parse(page.content.decode())
    shown_totals = {k: v for k, v in api["totals"].items() if v is not None}
    assert figures.totals == {k: shown(v) for k, v in shown_totals.items() if k in figures.totals}
    assert set(figures.totals) >= {"resources", "mounted", "mounted_ratio", "applications_received", "calls_total"}
    assert api["totals"]["resources"] == 3 and api["totals"]["applications_received"] == 4
    for d in api["departments"]:
        cells = figures.rows[d["department_id"]]
        assert cells == {k: shown(d[k]) for k in cells}, d["name"]
    assert set(figures.rows) == {d["department_id"] for d in api["departments"]}
    if user is None:
        assert api["totals"]["refused"] is None and api["regions"] == [] and "by-region" not in page.content.decode()
        assert "审核用时中位数" not in page.content.decode()
    else:
        assert figures.totals["refused"] == "1"
        assert figures.totals["review_median"] == str(api["totals"]["review_median"])
        provider_row = figures.rows[str(busy.provider.department_id)]
        assert provider_row["approved"] == "2" and provider_row["refused"] == "1"


def test_charts_are_inline_svg_without_external_references(busy: City) -> None:
    for user in (None, busy.office):
        html = client_for(user).get("/").content.decode()
        svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
        assert len(svgs) >= 3
        for svg in svgs:
            assert "http:" not in svg and "https:" not in svg and "//" not in svg.replace("</", "")
            assert "<script" not in svg and "<image" not in svg and "<foreignObject" not in svg
            assert "<title>" in svg
        assert "<script" not in html and "cdn" not in html.lower()
    # Anonymous visitors get no drill-down (the department pages need a sign-in); signed in, the bars link there.
    assert "/stats/departments/" not in client_for(None).get("/").content.decode()
    html = client_for(busy.office).get("/").content.decode()
    assert f'href="/stats/departments/{busy.provider.department_id}/"' in html


def test_names_in_charts_are_escaped(town: City) -> None:
    evil = testing.department(town.city, name="<script>alert(1)</script>局")
    testing.resource(evil, name="资源", publish_by=town.office)
    refresh_rollups(actor=None)
    html = client_for(None).get("/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_home_page_query_count_is_bounded_and_independent_of_the_audit_log(busy: City) -> None:
    client = client_for(busy.office)
    client.get("/")  # warm caches (sessions, content types)
    with CaptureQueriesContext(connection) as before:
        assert client.get("/").status_code == 200
    for n in range(300):
        record_event(actor=busy.provider, action="dataplane.query", target_type="resource", target_id=str(n))
    with CaptureQueriesContext(connection) as after:
        assert client.get("/").status_code == 200
    assert len(after) == len(before) <= 15, [q["sql"][:120] for q in after.captured_queries]
    assert not any("audit_auditevent" in q["sql"] for q in after.captured_queries)
    with CaptureQueriesContext(connection) as anonymous:
        assert client_for(None).get("/").status_code == 200
    assert len(anonymous) <= 10


def test_home_without_rollups_says_so(db: None) -> None:
    html = client_for(None).get("/").content.decode()
    assert "统计尚未生成" in html


def test_department_page_and_drill_down_links(busy: City) -> None:
    url = f"/stats/departments/{busy.provider.department_id}/"
    resp = client_for(None).get(url)
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]
    resp = client_for(busy.consumer).get(url + "?days=30")
    assert resp.status_code == 200
    figures = parse(resp.content.decode())
    api = client_for(busy.consumer).get(f"/api/v1/stats/departments/{busy.provider.department_id}?days=30").json()
    assert figures.totals["approved"] == str(api["figures"]["approved"]) == "2"
    assert figures.totals["review_median"] == shown(api["figures"]["review_median"])
    assert "<svg" in resp.content.decode()
    assert client_for(busy.consumer).get(f"/stats/departments/{uuid.uuid4()}/").status_code == 404
    # The provider's own department page links to its review inbox.
    html = client_for(busy.provider).get(url).content.decode()
    assert "/exchange/review/provider/" in html


def test_department_table_exports(busy: City) -> None:
    client = client_for(busy.office)
    resp = client.get("/stats/departments/")
    assert resp.status_code == 200 and "市公安局" in resp.content.decode()
    csv = client.get("/stats/departments/?format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("部门,已发布资源")
    assert any(line.startswith("市公安局,1,0,0.0") for line in text.splitlines())
    data = client.get("/stats/departments/?format=json").json()
    assert {d["name"] for d in data} >= {"市公安局", "市民政局", "市人社局"}
