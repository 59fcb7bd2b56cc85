"""The licence state table (every state × action) and the pure payload helpers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govshare.core.identifiers import IdentifierError, make_resident_id, make_uscc
from govshare.licences import workflow
from govshare.licences.choices import HolderKind, LicenceAction, LicenceStatus
from govshare.licences.payload import add_years, canonical, normalise_holder_id, serialise

EXPECTED = {
    (LicenceStatus.VALID, LicenceAction.REVOKE): LicenceStatus.REVOKED,
    (LicenceStatus.VALID, LicenceAction.EXPIRE): LicenceStatus.EXPIRED,
    (LicenceStatus.EXPIRED, LicenceAction.REVOKE): LicenceStatus.REVOKED,
}


@pytest.mark.parametrize("status", list(LicenceStatus))
@pytest.mark.parametrize("action", list(LicenceAction))
def test_every_state_and_action(status: str, action: str) -> None:
    assert workflow.transition(status, action) == EXPECTED.get((status, action))
    assert (action in workflow.allowed_actions(status)) == ((status, action) in EXPECTED)


def test_revoked_is_final() -> None:
    assert workflow.allowed_actions(LicenceStatus.REVOKED) == []


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20), max_size=6),
       st.text(min_size=1, max_size=30))
def test_serialisation_is_deterministic_whatever_the_order(fields: dict[str, str], name: str) -> None:
    issued = dt.datetime(2026, 3, 1, 8, 30, 15, 999, tzinfo=dt.UTC)
    a = canonical(type_code="T001", number="N1", holder_id="X", holder_name=name, fields=fields, issuer="I",
                  valid_from=dt.date(2026, 3, 1), valid_to=None, issued_at=issued)
    b = canonical(type_code="T001", number="N1", holder_id="X", holder_name=name,
                  fields=dict(reversed(list(fields.items()))), issuer="I", valid_from=dt.date(2026, 3, 1),
                  valid_to=None, issued_at=issued)
    assert serialise(a) == serialise(b)
    assert json.loads(serialise(a)) == a
    assert "陈" in serialise({"n": "陈"}).decode("utf-8")  # UTF-8 as is, not \u-escaped
    assert a["issued_at"] == "2026-03-01T08:30:15Z"


def test_add_years_and_holder_ids() -> None:
    assert add_years(dt.date(2024, 3, 1), 5) == dt.date(2029, 2, 28)
    assert add_years(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert add_years(dt.date(2025, 1, 1), 10) == dt.date(2034, 12, 31)
    person = make_resident_id("445121", dt.date(1960, 2, 29), 7)  # 潮安县 code since changed: still valid
    company = make_uscc("9", "1", "445100", "MA4W3K2J")
    assert normalise_holder_id(f" {person.lower()} ") == person
    assert normalise_holder_id(company.lower(), HolderKind.COMPANY) == company
    with pytest.raises(IdentifierError):
        normalise_holder_id(company, HolderKind.PERSON)
    with pytest.raises(IdentifierError):
        normalise_holder_id("not an id")
