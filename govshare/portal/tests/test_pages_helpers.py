"""The shared list-page helper: cursor pages that keep the filters, newest-first paging, and exports."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from govshare import testing
from govshare.organizations.models import Department
from govshare.portal.pages import PAGE_SIZE, Column, Page, listing

pytestmark = pytest.mark.django_db
COLUMNS = [Column("name", "名称"), Column("node.name", "节点")]


def _depts(n: int) -> None:
    node = testing.node()
    for i in range(n):
        testing.department(node, name=f"部门{i:03d}" if i else "=HYPERLINK(\"http://x\")")


def test_pages_walk_every_row_once_keeping_the_filters() -> None:
    _depts(PAGE_SIZE + 7)
    rows = Department.objects.select_related("node").order_by("pk")
    rf = RequestFactory()
    page = listing(rf.get("/x", {"q": "部门"}), rows, columns=COLUMNS, filename="d")
    assert isinstance(page, Page) and len(page.rows) == PAGE_SIZE and page.next_url is not None
    assert page.next_url.startswith("?q=") and "after=" in page.next_url
    second = listing(rf.get("/x" + page.next_url), rows, columns=COLUMNS, filename="d")
    assert isinstance(second, Page) and second.next_url is None
    assert {r.pk for r in page.rows} | {r.pk for r in second.rows} == set(rows.values_list("pk", flat=True))
    assert len(page.rows) + len(second.rows) == rows.count()


def test_newest_first_paging() -> None:
    _depts(PAGE_SIZE + 3)
    rows = Department.objects.select_related("node").order_by("-created_at")
    rf = RequestFactory()
    first = listing(rf.get("/x"), rows, columns=COLUMNS, filename="d", cursor="created_at", descending=True)
    assert isinstance(first, Page) and first.next_after is not None
    second = listing(rf.get("/x", {"after": first.next_after}), rows, columns=COLUMNS, filename="d",
                     cursor="created_at", descending=True)
    assert isinstance(second, Page)
    assert not {r.pk for r in first.rows} & {r.pk for r in second.rows}
    assert max(r.created_at for r in second.rows) < min(r.created_at for r in first.rows)


def test_exports_neutralise_formulas_and_carry_every_row() -> None:
    _depts(5)
    rows = Department.objects.select_related("node").order_by("pk")
    rf = RequestFactory()
    csv_answer = listing(rf.get("/x", {"format": "csv"}), rows, columns=COLUMNS, filename="d")
    text = csv_answer.content.decode("utf-8-sig")  # type: ignore[union-attr]
    assert "'=HYPERLINK" in text and text.count("\n") == 6
    json_answer = listing(rf.get("/x", {"format": "json"}), rows, columns=COLUMNS, filename="d")
    data = json.loads(json_answer.content)  # type: ignore[union-attr]
    assert len(data) == 5 and set(data[0]) == {"name", "node.name"}
