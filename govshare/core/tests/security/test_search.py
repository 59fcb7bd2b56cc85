"""SQL-looking (and full-text-operator-looking) search terms through the catalog search API, its CSV twin and
the portal search page: never a server error, never "everything", nothing written, tables intact."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from govshare import testing
from govshare.audit.models import AuditEvent
from govshare.catalog.models import Resource
from govshare.conftest import client_for

pytestmark = pytest.mark.django_db

TERMS = ["' OR 1=1 --", "' OR ''='", "1; DROP TABLE catalog_resource; --", "不动产' UNION SELECT username, password "
         "FROM accounts_user --", "%", "_", "%' OR name LIKE '%", "\\", '"', "NEAR(不动产 法人)", "不动产 OR 1=1",
         "*", ":*", "'不动产':*", "不动产 | 法人", "!不动产", "{name}: 不动产", "$(id)", "\x00", "不动产\x00' --",
         "a" * 1000]


@pytest.fixture
def catalog(seeded: None, provider_dept: Any, data_office: Any) -> list[Any]:
    return [testing.resource(provider_dept, name=n, publish_by=data_office)
            for n in ("人口基本信息", "法人基本信息", "不动产登记信息")]


@pytest.mark.parametrize("term", TERMS)
def test_sql_looking_terms_are_plain_words(term: str, catalog: list[Any], consumer: Any) -> None:
    c = client_for(consumer)
    baseline = c.get("/api/v1/catalog/search?q=不动产").json()["total"]
    assert baseline >= 1
    before = (Resource.objects.count(), AuditEvent.objects.count())
    resp = c.get(f"/api/v1/catalog/search?q={quote(term)}")
    assert resp.status_code in (200, 422), resp.content[:300]
    if resp.status_code == 422:
        assert resp.json()["error"]["details"]["field"] == "q"
    else:
        body = resp.json()
        assert body["total"] < len(catalog)  # never "match everything"
    assert c.get(f"/api/v1/catalog/search.csv?q={quote(term)}").status_code in (200, 422)
    page = c.get(f"/catalog/?q={quote(term)}")
    assert page.status_code == 200
    assert (Resource.objects.count(), AuditEvent.objects.count()) == before
    # The tables are still there and whole.
    assert c.get("/api/v1/catalog/search?q=不动产").json()["total"] == baseline
