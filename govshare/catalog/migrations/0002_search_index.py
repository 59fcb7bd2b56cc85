# Full-text index of the catalog (DESIGN.md §4 "Search"; govshare.catalog.search).
#
# Both engines keep one index document per resource in catalog_search_doc, written by
# govshare.catalog.search.sync_search_index after each write and reloaded by rebuild_search_index.
#
# PostgreSQL: the document is stored as `simple` tsvectors (to_tsvector('simple', …) of the normalised
# search_text: whole document, name line, code line) with a GIN index. A stored vector rather than an
# expression index on catalog_resource: with an expression index every query on a common term (信息,
# 数据) recomputes to_tsvector for each candidate row (seconds at 20k resources), and so does ts_rank.
# No extension, no custom configuration, no generated column, no ON CONFLICT: KingbaseES and openGauss
# run the same DDL.
# SQLite: a map table with an INTEGER PRIMARY KEY (stable across VACUUM, unlike catalog_resource's
# implicit rowid) and an FTS5 table whose rowid is that key. A trigger drops the FTS5 row when the map
# row goes, which the foreign key does when a resource is deleted.
# Other vendors: nothing (search raises NotSupportedError there).
#
# Existing rows are not indexed here: run govshare.catalog.search.rebuild_search_index(recompute=True)
# once after upgrading a database that already holds resources.

from django.db import migrations

PG_FORWARD = [
    """
    CREATE TABLE catalog_search_doc (
        -- No foreign key: Django's flush TRUNCATEs catalog_resource without CASCADE and would fail.
        -- Resources are never deleted by the services; search queries join catalog_resource, so an
        -- orphan row (left by a test flush) is never returned.
        resource_id uuid PRIMARY KEY,
        name tsvector NOT NULL,
        code tsvector NOT NULL,
        document tsvector NOT NULL
    )
    """,
    "CREATE INDEX catalog_search_doc_document ON catalog_search_doc USING gin (document)",
]
PG_REVERSE = ["DROP TABLE IF EXISTS catalog_search_doc"]

SQLITE_FORWARD = [
    """
    CREATE TABLE catalog_search_doc (
        id INTEGER PRIMARY KEY,
        resource_id char(32) NOT NULL UNIQUE
            REFERENCES catalog_resource (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
    )
    """,
    "CREATE VIRTUAL TABLE catalog_search_fts USING fts5(name, code, body, tokenize='unicode61')",
    """
    CREATE TRIGGER catalog_search_doc_ad AFTER DELETE ON catalog_search_doc BEGIN
        DELETE FROM catalog_search_fts WHERE rowid = old.id;
    END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS catalog_search_doc_ad",
    "DROP TABLE IF EXISTS catalog_search_fts",
    "DROP TABLE IF EXISTS catalog_search_doc",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE}),
            elidable=False,
        ),
    ]
