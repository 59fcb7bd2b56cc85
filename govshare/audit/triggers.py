"""Database triggers that make the audit tables append-only (DESIGN.md §4 "Audit log").

Every UPDATE and DELETE of a row in an audit table is refused by the database itself, whatever the
client (ORM, raw SQL, a database console). The error is an integrity error on both backends
(SQLite ``RAISE(ABORT, …)``, PostgreSQL SQLSTATE 23001 ``restrict_violation``), so Django raises
:class:`django.db.IntegrityError`.

Limits, by design:

- A database administrator can drop the triggers. Tampering is then caught by the sealed hash chain
  (:mod:`govshare.audit.verify`), and ``verify`` reports missing triggers.
- On PostgreSQL ``TRUNCATE`` does not fire row triggers. Production deployments should also
  ``REVOKE UPDATE, DELETE, TRUNCATE`` on these tables from the application role (docs/audit.md).
- On SQLite, Django rebuilds a table for most ``ALTER TABLE`` migrations, which drops its triggers:
  a later migration that alters an audit table must call :func:`install` again.

Migrations pass an explicit, frozen table list; :data:`AUDIT_TABLES` is the current one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MESSAGE = "audit log is append-only"
PG_FUNCTION = "govshare_audit_append_only"

# Tables whose rows are never updated or deleted.
AUDIT_TABLES = ("audit_auditevent", "audit_auditkeyref", "audit_auditblock", "audit_verificationrun")


def _sqlite_names(table: str) -> tuple[str, str]:
    return f"{table}_no_update", f"{table}_no_delete"


def _pg_name(table: str) -> str:
    return f"{table}_append_only"


def install_sql(vendor: str, tables: Iterable[str] = AUDIT_TABLES) -> list[str]:
    """The statements that create the triggers (idempotent)."""
    statements: list[str] = []
    if vendor == "sqlite":
        for table in tables:
            upd, dele = _sqlite_names(table)
            for name, op in ((upd, "UPDATE"), (dele, "DELETE")):
                statements.append(
                    f'CREATE TRIGGER IF NOT EXISTS "{name}" BEFORE {op} ON "{table}" '
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
    elif vendor == "postgresql":
        statements.append(
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"  RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';\n"
            "END\n$$"
        )
        for table in tables:
            name = _pg_name(table)
            statements.append(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
            statements.append(
                f'CREATE TRIGGER "{name}" BEFORE UPDATE OR DELETE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
            )
    return statements


def uninstall_sql(vendor: str, tables: Iterable[str] = AUDIT_TABLES, *, drop_function: bool = True) -> list[str]:
    """The statements that drop the triggers (what a malicious administrator would run)."""
    statements: list[str] = []
    if vendor == "sqlite":
        for table in tables:
            statements += [f'DROP TRIGGER IF EXISTS "{name}"' for name in _sqlite_names(table)]
    elif vendor == "postgresql":
        statements += [f'DROP TRIGGER IF EXISTS "{_pg_name(table)}" ON "{table}"' for table in tables]
        if drop_function:
            statements.append(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    return statements


def _execute(connection: Any, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def install(connection: Any, tables: Iterable[str] = AUDIT_TABLES) -> None:
    """Create the triggers on ``connection`` (a Django connection or a schema editor's connection)."""
    _execute(connection, install_sql(connection.vendor, tables))


def uninstall(connection: Any, tables: Iterable[str] = AUDIT_TABLES, *, drop_function: bool = True) -> None:
    _execute(connection, uninstall_sql(connection.vendor, tables, drop_function=drop_function))


def missing(connection: Any, tables: Iterable[str] = AUDIT_TABLES) -> list[str]:
    """Names of the expected triggers that do not exist (empty when all are in place)."""
    tables = list(tables)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            expected = [name for table in tables for name in _sqlite_names(table)]
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        elif connection.vendor == "postgresql":
            expected = [_pg_name(table) for table in tables]
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
        else:
            return []
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]
