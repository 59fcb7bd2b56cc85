"""List endpoints: cursor pagination and a query count that does not grow with the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govshare.conftest import client_for
from govshare.core.identifiers import make_resident_id
from govshare.licences.services import keys
from govshare.licences.services.lookup import window_lookup
from govshare.licences.tests.conftest import PERSON, LicenceWorld

pytestmark = pytest.mark.django_db


def test_lists_page_with_cursors_and_bounded_queries(lw: LicenceWorld, django_assert_max_num_queries: Any) -> None:
    for n in range(1, 8):
        lw.marry(holder=make_resident_id("445102", dt.date(1970, 1, n), 5), holder_name=f"陈{n}")
    lw.register()
    keys.rotate_key(actor=None, department=lw.civil)
    for n in range(4):
        window_lookup(actor=lw.clerk, holder=PERSON, case_number=f"BJ{n}", item_code="I1")
    cases = [(lw.civil_staff, "/api/v1/licences", 7), (lw.office, "/api/v1/licences/uses", 4),
             (lw.clerk, "/api/v1/licences/types", 2), (lw.clerk, "/api/v1/licences/items", 1),
             (lw.clerk, "/api/v1/licences/keys", 3)]
    for user, url, total in cases:
        c = client_for(user)
        c.get(url)  # warm the session and the data key cache
        seen: list[Any] = []
        cursor = None
        while True:
            with django_assert_max_num_queries(8):
                page = c.get(url, {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == total, (url, len(seen))
        assert len({str(x.get("id") or x.get("key_id")) for x in seen}) == total
    tampered = client_for(lw.civil_staff).get("/api/v1/licences", {"cursor": "x" + (cursor or "abc")})
    assert tampered.status_code == 422
