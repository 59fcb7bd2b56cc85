"""The database refuses UPDATE and DELETE on the audit tables (triggers), on SQLite and PostgreSQL."""
# ruff: noqa: S608 - tests play a database administrator with raw SQL on fixed table names

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from govshare.audit import triggers
from govshare.audit.models import AuditBlock, AuditEvent, AuditKeyRef, VerificationRun
from govshare.audit.seal import seal_pending
from govshare.audit.services import audit_key_hmac, record_event
from govshare.audit.tests.conftest import AUDIT_APPS

pytestmark = pytest.mark.django_db


def _refused(fn: Callable[[], object]) -> None:
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        fn()


def _raw(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_triggers_are_installed_by_the_migration() -> None:
    assert triggers.missing(connection) == []


def test_event_update_and_delete_are_refused_through_the_orm() -> None:
    event = record_event(actor=None, action="test.event", data={"a": 1})
    event.action = "test.forged"
    _refused(event.save)
    _refused(event.delete)
    _refused(lambda: AuditEvent.objects.filter(seq=event.seq).update(result="failed"))
    _refused(lambda: AuditEvent.objects.all().delete())
    fresh = AuditEvent.objects.get(seq=event.seq)
    assert fresh.action == "test.event" and fresh.result == "ok"


def test_event_update_and_delete_are_refused_in_raw_sql() -> None:
    event = record_event(actor=None, action="test.event")
    table = AuditEvent._meta.db_table
    _refused(lambda: _raw(f'UPDATE "{table}" SET "action" = %s WHERE "seq" = %s', ["x", event.seq]))
    _refused(lambda: _raw(f'DELETE FROM "{table}" WHERE "seq" = %s', [event.seq]))
    _refused(lambda: _raw(f'DELETE FROM "{table}"'))
    assert AuditEvent.objects.filter(seq=event.seq, action="test.event").exists()


def test_inserts_still_work_and_seq_increases() -> None:
    a = record_event(actor=None, action="test.a")
    b = record_event(actor=None, action="test.b")
    assert b.seq > a.seq


def test_key_refs_blocks_and_runs_are_append_only_too() -> None:
    record_event(actor=None, action="data.query", data={"key_hmacs": [audit_key_hmac("445121199001011234")]})
    seal_pending()
    now = timezone.now()
    VerificationRun.objects.create(started_at=now, finished_at=now, ok=True, key_source="pinned")
    for model in (AuditKeyRef, AuditBlock, VerificationRun):
        table = model._meta.db_table
        assert model.objects.exists()
        _refused(lambda m=model: m.objects.all().delete())
        _refused(lambda t=table: _raw(f'DELETE FROM "{t}"'))
    block = AuditBlock.objects.get()
    block.head = "00" * 32
    _refused(block.save)
    _refused(lambda: _raw(f'UPDATE "{AuditKeyRef._meta.db_table}" SET "key_hmac" = %s', ["0" * 64]))


def test_a_dba_can_drop_the_triggers_which_is_why_there_is_a_chain() -> None:
    event = record_event(actor=None, action="test.event")
    triggers.uninstall(connection)
    assert triggers.missing(connection)
    AuditEvent.objects.filter(seq=event.seq).update(action="test.forged")
    assert AuditEvent.objects.get(seq=event.seq).action == "test.forged"
    triggers.install(connection)
    assert triggers.missing(connection) == []


@pytest.mark.django_db(transaction=True, available_apps=AUDIT_APPS)
def test_transactional_tests_can_still_flush_the_audit_tables() -> None:
    # On SQLite the flush after this test issues DELETE; the pytest plugin lifts the triggers for it.
    record_event(actor=None, action="test.flush", data={"key_hmacs": [audit_key_hmac("X1")]})
    seal_pending()
    assert AuditBlock.objects.count() == 1
    _refused(lambda: AuditEvent.objects.all().delete())


def test_triggers_are_back_after_a_transactional_test() -> None:
    assert triggers.missing(connection) == []
