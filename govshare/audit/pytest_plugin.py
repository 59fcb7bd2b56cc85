"""pytest support for the append-only audit tables (transactional tests on SQLite).

After a transactional test (``transaction=True``, ``transactional_db``, ``live_server``) Django empties
every table with ``flush``. PostgreSQL flushes with ``TRUNCATE``, which row triggers do not see; SQLite
flushes with ``DELETE``, which the append-only triggers refuse as soon as an audit table has rows.

The fixture below drops the audit triggers just before that flush (SQLite only) and puts them back
at the start of the next test that uses it. Nothing in the application can do this: it is test
support, like the test database itself. Register it for the whole suite with
``pytest_plugins = ["govshare.audit.pytest_plugin"]`` in the top-level conftest, or import the
fixture into a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def _transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    names = set(request.fixturenames)
    return bool(names & {"transactional_db", "live_server", "django_db_reset_sequences"})


@pytest.fixture(autouse=True)
def _audit_append_only_triggers(request: pytest.FixtureRequest) -> Iterator[None]:
    uses_db = request.node.get_closest_marker("django_db") is not None or bool(
        set(request.fixturenames) & {"db", "transactional_db", "live_server", "django_db_reset_sequences"})
    if not uses_db:
        yield
        return
    # Depending on the database fixture makes this fixture's teardown run BEFORE the flush.
    request.getfixturevalue("_django_db_helper")
    from django.db import connections

    from govshare.audit import triggers

    for alias in connections:
        connection = connections[alias]
        if connection.vendor == "sqlite" and triggers.missing(connection):
            triggers.install(connection)  # inside the test's transaction for ordinary tests
    yield
    if _transactional(request):
        for alias in connections:
            connection = connections[alias]
            if connection.vendor == "sqlite":
                triggers.uninstall(connection)
