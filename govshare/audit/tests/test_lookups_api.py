"""Who looked up this person, and the audit API's permissions per role."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from django.db import IntegrityError

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.audit import selectors
from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.audit.seal import seal_pending
from govshare.audit.services import audit_key_hmac, record_event
from govshare.audit.verify import record_run, verify_chain
from govshare.conftest import client_for
from govshare.core.errors import PermissionDenied

pytestmark = pytest.mark.django_db
PERSON = "11010519491231002X"
OTHER = "440524188001010014"
URL = "/api/v1/audit"


def _query(actor: object, *keys: str, action: str = "data.query") -> AuditEvent:
    return record_event(actor=actor, action=action, target_type="grant", target_id="g1",
                        data={"key_hmacs": [audit_key_hmac(k) for k in keys], "purpose": "办件"})


def test_key_hmac_normalises_the_key() -> None:
    assert audit_key_hmac(PERSON) == audit_key_hmac(PERSON.lower()) == audit_key_hmac(" １１０１０５19491231002x ")
    assert audit_key_hmac(PERSON) != audit_key_hmac(OTHER)
    assert PERSON not in audit_key_hmac(PERSON)


def test_lookups_find_exactly_the_events_that_queried_the_key(auditor: User, consumer: User) -> None:
    a = _query(consumer, PERSON)
    _query(consumer, OTHER)
    c = _query("system-b", OTHER, PERSON, PERSON)
    record_event(actor=consumer, action="catalog.search", data={"q": PERSON})  # no key_hmacs: not a lookup
    found = list(selectors.lookups_of(auditor, PERSON.lower()).order_by("seq"))
    assert [e.seq for e in found] == [a.seq, c.seq]
    assert AuditKeyRef.objects.filter(seq=c.seq).count() == 2  # duplicates collapsed
    assert not AuditEvent.objects.filter(data__icontains=PERSON[:10]).exclude(action="catalog.search").exists()


def test_malformed_key_hmacs_write_nothing(consumer: User) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError):
        record_event(actor=consumer, action="data.query", data={"key_hmacs": [PERSON]})
    with pytest.raises(ValueError):
        record_event(actor=consumer, action="data.query", data={"key_hmacs": "abc"})
    assert AuditEvent.objects.count() == before


def test_only_the_audit_admin_may_search(sec_admin: User, consumer: User) -> None:
    for user in (sec_admin, consumer):
        with pytest.raises(PermissionDenied):
            selectors.lookups_of(user, PERSON)
        with pytest.raises(PermissionDenied):
            selectors.events_for(user)


def test_key_refs_are_written_with_the_event_or_not_at_all(consumer: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from govshare.audit import services

    def boom(*a: object, **k: object) -> None:
        raise IntegrityError("simulated")

    monkeypatch.setattr(services, "_insert_key_refs", boom)
    before = AuditEvent.objects.count()
    with pytest.raises(IntegrityError):
        _query(consumer, PERSON)
    assert AuditEvent.objects.count() == before


# --------------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.AUDIT_ADMIN])
def test_other_roles_get_403(role: str, city: testing.Node) -> None:
    user = testing.user(role, at=city)
    c = client_for(user)
    for path in ("/events", "/events.csv", "/events.json", f"/lookups?id_number={PERSON}", "/status"):
        response = c.get(URL + path)
        assert response.status_code == 403, (role, path)
        assert response.json()["error"]["code"] == "forbidden"


def test_anonymous_gets_401() -> None:
    for path in ("/events", "/events.csv", f"/lookups?id_number={PERSON}", "/status"):
        assert client_for(None).get(URL + path).status_code == 401


def test_events_list_filters_and_cursor(auditor: User, consumer: User) -> None:
    for i in range(5):
        record_event(actor=consumer, action="catalog.resource.create", target_type="resource", target_id=f"r{i}")
    record_event(actor=consumer, action="exchange.apply", target_type="application", target_id="a1",
                 result="denied")
    seal_pending()
    c = client_for(auditor)
    page = c.get(f"{URL}/events?action=catalog.&limit=2").json()
    assert [e["target_id"] for e in page["items"]] == ["r4", "r3"] and page["next_cursor"]
    assert all(e["sealed"] for e in page["items"])
    nxt = c.get(f"{URL}/events?action=catalog.&limit=2&cursor={page['next_cursor']}").json()
    assert [e["target_id"] for e in nxt["items"]] == ["r2", "r1"]
    denied = c.get(f"{URL}/events?result=denied&actor={consumer.username}").json()["items"]
    assert [e["action"] for e in denied] == ["exchange.apply"]
    assert c.get(f"{URL}/events?target_type=resource&target_id=r3").json()["items"][0]["target_id"] == "r3"
    first = AuditEvent.objects.order_by("seq").first()
    assert first is not None
    when = first.occurred_at.isoformat().replace("+", "%2B")
    assert len(c.get(f"{URL}/events?to={when}").json()["items"]) == 0
    assert len(c.get(f"{URL}/events?from={when}&limit=200").json()["items"]) >= 6
    bad = c.get(f"{URL}/events?cursor=forged")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "cursor"


def test_csv_export_neutralises_formulas_and_is_audited(auditor: User) -> None:
    record_event(actor="=HYPERLINK(\"http://evil\")", action="test.csv", target_id="+1", data={"x": "@SUM(A1)"})
    response = client_for(auditor).get(f"{URL}/events.csv?action=test.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, row = rows[0], rows[1]
    assert header[0] == "序号 (seq)"
    assert row[header.index("主体 (actor_label)")] == "'=HYPERLINK(\"http://evil\")"
    assert row[header.index("对象ID (target_id)")] == "'+1"
    assert AuditEvent.objects.filter(action="audit.events.export", actor_id=str(auditor.pk)).exists()
    js = client_for(auditor).get(f"{URL}/events.json?action=test.csv")
    import json

    body = json.loads(b"".join(js.streaming_content))
    assert [e["action"] for e in body["items"]] == ["test.csv"] and body["truncated"] is False


def test_lookups_endpoint(auditor: User, consumer: User) -> None:
    hit = _query(consumer, PERSON)
    _query(consumer, OTHER)
    c = client_for(auditor)
    items = c.get(f"{URL}/lookups?id_number={PERSON.lower()}").json()["items"]
    assert [e["seq"] for e in items] == [hit.seq]
    assert items[0]["actor_label"] == consumer.username and items[0]["data"]["purpose"] == "办件"
    # the search is itself audited and is therefore found by the next search of the same person
    search = AuditEvent.objects.filter(action="audit.lookups").get()
    assert search.data["key_hmacs"] == [audit_key_hmac(PERSON)] and PERSON not in str(search.data)
    again = c.get(f"{URL}/lookups?id_number={PERSON}").json()["items"]
    assert [e["seq"] for e in again] == [search.seq, hit.seq]
    assert c.get(f"{URL}/lookups?key=LIC-001").status_code == 200
    bad = c.get(f"{URL}/lookups?id_number=110105194912310021")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "id_number"
    assert c.get(f"{URL}/lookups").status_code == 422


def test_status(auditor: User, make_events: Callable) -> None:
    make_events(4)
    sealed = seal_pending().events
    assert sealed >= 4  # with the events of creating the auditor
    make_events(2)
    record_run(verify_chain(), actor=auditor)
    data = client_for(auditor).get(f"{URL}/status").json()
    assert data["sealed"]["blocks"] == 1 and data["sealed"]["events"] == sealed
    assert data["unsealed"]["count"] == 3  # two events and the audit.verify event
    assert data["key"]["public_key"].startswith("04")
    assert data["last_verification"]["ok"] is True and data["last_verification"]["run_by"] == auditor.username


def test_county_auditor_sees_only_its_subtree(city: testing.Node) -> None:
    county = testing.node("445102", name="湘桥区", level="county", parent=city)
    county_auditor = testing.user(Role.AUDIT_ADMIN, at=county)
    city_user = testing.user(Role.CONSUMER, dept=testing.department(city))
    county_user = testing.user(Role.CONSUMER, dept=testing.department(county))
    record_event(actor=city_user, action="test.scope")
    mine = record_event(actor=county_user, action="test.scope")
    items = client_for(county_auditor).get(f"{URL}/events?action=test.scope").json()["items"]
    assert [e["seq"] for e in items] == [mine.seq]
