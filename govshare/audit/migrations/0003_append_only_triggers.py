"""Refuse UPDATE and DELETE on the audit tables at the database (DESIGN.md §4 "Audit log").

SQLite: BEFORE UPDATE/DELETE triggers that RAISE(ABORT). PostgreSQL: a plpgsql function (plpgsql is
built in, not an extension) and a row trigger per table. Other vendors: nothing (the chain still
detects tampering). The table list is frozen here; see govshare.audit.triggers.
"""

from django.db import migrations

from govshare.audit import triggers

TABLES = ("audit_auditevent", "audit_auditkeyref", "audit_auditblock", "audit_verificationrun")


def forwards(apps, schema_editor):
    triggers.install(schema_editor.connection, TABLES)


def backwards(apps, schema_editor):
    triggers.uninstall(schema_editor.connection, TABLES)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_blocks_keys_refs"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
