"""The group-commit writer: durable, sequence-numbered, nothing lost under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection

from govshare.audit.models import AuditEvent, AuditKeyRef
from govshare.audit.seal import seal_pending
from govshare.audit.services import actor_fields, audit_key_hmac
from govshare.audit.tests.conftest import AUDIT_APPS
from govshare.audit.verify import verify_chain
from govshare.audit.writer import AuditWriter, WriterClosed, get_writer, stop_writer

# reset_sequences: an earlier transactional test's flush leaves a hole at the start on SQLite.
# available_apps: flush only what these tests touch (with CASCADE on PostgreSQL).
pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True, available_apps=AUDIT_APPS)


@pytest.fixture
def writer() -> Iterator[AuditWriter]:
    w = AuditWriter(max_batch=64).start()
    yield w
    w.stop()


def test_32_threads_lose_nothing_and_seqs_are_unique(writer: AuditWriter) -> None:
    threads, per_thread = 32, 25
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def client(n: int) -> None:
        try:
            barrier.wait()
            seqs = []
            for i in range(per_thread):
                hmacs = [audit_key_hmac(f"K{n}-{i}")] if i % 5 == 0 else []
                ticket = writer.submit({"action": "data.query", "target_type": "grant", "target_id": f"{n}-{i}",
                                        "data": {"thread": n, "i": i, **({"key_hmacs": hmacs} if hmacs else {})},
                                        **actor_fields(f"system-{n}")})
                seqs.append(ticket.wait(60))
            results[n] = seqs
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert not errors
    all_seqs = [s for seqs in results.values() for s in seqs]
    assert len(all_seqs) == threads * per_thread == len(set(all_seqs))
    rows = dict(AuditEvent.objects.filter(action="data.query").values_list("seq", "target_id"))
    assert set(rows) == set(all_seqs)
    for n, seqs in results.items():
        assert [rows[s] for s in seqs] == [f"{n}-{i}" for i in range(per_thread)]
        assert seqs == sorted(seqs)  # one thread's events keep their order
    assert AuditKeyRef.objects.count() == threads * (per_thread // 5)
    assert writer.batches < threads * per_thread  # batched: fewer commits than events
    assert seal_pending().events == threads * per_thread
    report = verify_chain()
    assert report.ok, report.lines()


def test_failed_batch_reaches_every_waiter_and_the_writer_goes_on(writer: AuditWriter,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = writer._insert
    calls = {"n": 0}

    def flaky(batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return real(batch)

    monkeypatch.setattr(writer, "_insert", flaky)
    ticket = writer.submit({"action": "data.query"})
    with pytest.raises(RuntimeError, match="disk full"):
        ticket.wait(10)
    assert writer.write({"action": "data.verify"}) > 0
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["data.verify"]


def test_bad_events_are_refused_at_submit(writer: AuditWriter) -> None:
    with pytest.raises(ValueError):
        writer.submit({"action": ""})
    with pytest.raises(ValueError):
        writer.submit({"action": "x", "bogus": 1})
    with pytest.raises(ValueError):
        writer.submit({"action": "x", "data": {"key_hmacs": ["not-hex"]}})
    with pytest.raises(TypeError):
        writer.submit({"action": "x", "data": {"when": object()}})
    with pytest.raises(ValueError):
        writer.submit({"action": "x", "data": {"nul": "a\x00b"}})
    assert AuditEvent.objects.count() == 0


def test_stop_flushes_then_refuses() -> None:
    w = AuditWriter(max_batch=10, max_delay=0.05).start()
    tickets = [w.submit({"action": "data.query", "target_id": str(i)}) for i in range(25)]
    w.stop()
    assert all(t.done for t in tickets)
    assert sorted(t.wait(0) for t in tickets) == sorted(AuditEvent.objects.values_list("seq", flat=True))
    with pytest.raises(WriterClosed):
        w.submit({"action": "data.query"})


def test_process_writer_singleton() -> None:
    w = get_writer()
    assert get_writer() is w and w.running
    seq = w.write({"action": "data.query"})
    assert AuditEvent.objects.filter(seq=seq).exists()
    stop_writer()
    assert not w.running
    assert connection.vendor in ("sqlite", "postgresql")


def test_parallel_verification_agrees_with_inline(writer: AuditWriter) -> None:
    from govshare.audit import triggers

    seqs = [writer.submit({"action": "data.query", "target_id": str(i),
                           "data": {"key_hmacs": [audit_key_hmac(f"P{i}")]}}).wait(30) for i in range(60)]
    seal_pending(block_events=7)
    inline, parallel = verify_chain(), verify_chain(jobs=2)
    assert inline.ok and parallel.ok, parallel.lines()
    assert parallel.events_checked == inline.events_checked == 60
    with connection.cursor() as cursor:
        triggers.uninstall(connection)
        cursor.execute(f'UPDATE "{AuditEvent._meta.db_table}" SET "target_id" = %s WHERE "seq" = %s',  # noqa: S608
                       ["forged", seqs[33]])
        triggers.install(connection)
    bad = verify_chain(jobs=2)
    assert bad.first_bad_seq == seqs[33] and [p.kind for p in bad.problems] == ["modified"]
