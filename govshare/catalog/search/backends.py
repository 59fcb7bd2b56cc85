"""Database side of catalog search: the match expression, relevance scores and index maintenance.

Both engines keep one index document per resource in ``catalog_search_doc`` (migration
``0002_search_index``), written by :func:`sync_document` after each write and reloaded by
:func:`reload_documents`:

* PostgreSQL — ``simple`` tsvectors of the normalised ``search_text`` (whole document, name line, code
  line), GIN-indexed. Vectors are stored, not computed from an expression index, so a common term
  (信息, 数据) never recomputes ``to_tsvector`` per row. Relevance is ``ts_rank``.
* SQLite — an FTS5 table (columns name, code, body) keyed by the integer id of a map row that holds the
  resource's UUID. Relevance is ``bm25`` with the name weighted highest.

Both evaluate the same boolean tree over the same token sets, so they return the same result set; only
the relevance order can differ. SQL here names only these constant tables; every value, the rendered
query included, is a bound parameter, and the query renderers admit only a closed token alphabet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import NotSupportedError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Expression, F
from django.db.models.sql.compiler import SQLCompiler

from govshare.catalog.models import Resource
from govshare.catalog.search.text import Node, split_document, to_fts5, to_tsquery

_SqlParams = tuple[str, tuple[Any, ...]]

# --- PostgreSQL ------------------------------------------------------------------------------

_PG_MATCH_IDS = "SELECT resource_id FROM catalog_search_doc WHERE document @@ to_tsquery('simple', %s)"
# Scores joined onto already-matched rows (the row query's own SQL as a derived table "f" whose first
# column, "_id", is the resource id as text): the match is evaluated once, scores come from key lookups.
_PG_WITH_SCORES = (
    "SELECT f.*, d.name @@ q.query, d.code @@ q.query, ts_rank(d.document, q.query) "
    "FROM ({rows}) f JOIN catalog_search_doc d ON d.resource_id = CAST(f._id AS uuid) "
    "CROSS JOIN (SELECT to_tsquery('simple', %s) AS query) q"
)
_PG_UPDATE = ("UPDATE catalog_search_doc SET name = strip(to_tsvector('simple', %s)), "
              "code = strip(to_tsvector('simple', %s)), document = strip(to_tsvector('simple', %s)) "
              "WHERE resource_id = %s")
_PG_INSERT = ("INSERT INTO catalog_search_doc (name, code, document, resource_id) VALUES ("
              "strip(to_tsvector('simple', %s)), strip(to_tsvector('simple', %s)), "
              "strip(to_tsvector('simple', %s)), %s)")
_PG_DELETE = "DELETE FROM catalog_search_doc WHERE resource_id = %s"
_PG_DELETE_ALL = "DELETE FROM catalog_search_doc"

# --- SQLite ----------------------------------------------------------------------------------

_SQLITE_MATCH_IDS = ("SELECT d.resource_id FROM catalog_search_fts JOIN catalog_search_doc d "
                     "ON d.id = catalog_search_fts.rowid WHERE catalog_search_fts MATCH %s")
# bm25 needs the FTS5 cursor of a MATCH, so SQLite scores every match in one query of its own.
_SQLITE_SCORES = (
    "SELECT d.resource_id, "
    "catalog_search_fts.rowid IN (SELECT rowid FROM catalog_search_fts WHERE catalog_search_fts MATCH %s), "
    "catalog_search_fts.rowid IN (SELECT rowid FROM catalog_search_fts WHERE catalog_search_fts MATCH %s), "
    "-bm25(catalog_search_fts, 10.0, 5.0, 1.0) "  # weights: name, code, body
    "FROM catalog_search_fts JOIN catalog_search_doc d ON d.id = catalog_search_fts.rowid "
    "WHERE catalog_search_fts MATCH %s"
)
_SQLITE_MAP = "INSERT INTO catalog_search_doc (resource_id) VALUES (%s) ON CONFLICT (resource_id) DO NOTHING"
_SQLITE_MAP_WITH_ID = "INSERT INTO catalog_search_doc (id, resource_id) VALUES (%s, %s)"
_SQLITE_DOC_ID = "SELECT id FROM catalog_search_doc WHERE resource_id = %s"
_SQLITE_CURRENT = "SELECT name, code, body FROM catalog_search_fts WHERE rowid = %s"
_SQLITE_FTS_DELETE = "DELETE FROM catalog_search_fts WHERE rowid = %s"
_SQLITE_FTS_INSERT = "INSERT INTO catalog_search_fts (rowid, name, code, body) VALUES (%s, %s, %s, %s)"
_SQLITE_DELETE = "DELETE FROM catalog_search_doc WHERE resource_id = %s"
_SQLITE_DELETE_ALL = ("DELETE FROM catalog_search_fts", "DELETE FROM catalog_search_doc")
_SQLITE_OPTIMIZE = "INSERT INTO catalog_search_fts (catalog_search_fts) VALUES ('optimize')"


def _unsupported(vendor: str) -> NotSupportedError:
    return NotSupportedError(f"catalog search supports PostgreSQL and SQLite, not {vendor}")


def _fts5_expression(tree: Node, section: str | None = None) -> str:
    expression = to_fts5(tree)
    return expression if section is None else f"{section} : ({expression})"


class SearchMatch(Expression):
    """True when the resource's index document satisfies the query tree. Usable in ``filter()``; the
    primary key comes in as an ordinary column expression, so table aliases stay right wherever Django
    puts the query."""

    conditional = True

    def __init__(self, tree: Node) -> None:
        super().__init__(output_field=BooleanField())
        self.tree = tree
        self.pk: Any = F("pk")

    def __repr__(self) -> str:
        return f"SearchMatch({self.tree!r})"

    def get_source_expressions(self) -> list[Any]:
        return [self.pk]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.pk,) = exprs

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> _SqlParams:
        raise _unsupported(connection.vendor)

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> _SqlParams:
        pk_sql, params = compiler.compile(self.pk)
        return f"{pk_sql} IN ({_PG_MATCH_IDS})", (*params, to_tsquery(self.tree))

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> _SqlParams:
        pk_sql, params = compiler.compile(self.pk)
        return f"{pk_sql} IN ({_SQLITE_MATCH_IDS})", (*params, _fts5_expression(self.tree))


def fetch_rows(sql: str, params: Sequence[Any], tree: Node | None = None) -> list[tuple[Any, ...]]:
    """Run a row query whose first column, ``_id``, is the resource id as text (as the database spells
    it) and return the rows as the driver gives them. With ``tree``, each row gets three more values:
    all query terms in the name, all in the code, and the engine's relevance score (higher is better).
    Rows must already match ``tree``."""
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise _unsupported(vendor)
    with connection.cursor() as cursor:
        if tree is None:
            cursor.execute(sql, params)
            return cursor.fetchall()
        if vendor == "postgresql":
            cursor.execute(_PG_WITH_SCORES.format(rows=sql), [*params, to_tsquery(tree)])
            return cursor.fetchall()
        cursor.execute(_SQLITE_SCORES, [_fts5_expression(tree, "name"), _fts5_expression(tree, "code"),
                                        _fts5_expression(tree)])
        scores = {rid: (bool(name_hit), bool(code_hit), float(score or 0.0))
                  for rid, name_hit, code_hit, score in cursor.fetchall()}
        cursor.execute(sql, params)
        missing = (False, False, 0.0)
        return [(*row, *scores.get(row[0], missing)) for row in cursor.fetchall()]


# --- maintenance -----------------------------------------------------------------------------


def _db_pk(pk: Any) -> Any:
    field = Resource._meta.pk
    return field.get_db_prep_value(pk, connection) if field is not None else pk


def _vectors(search_text: str) -> list[str]:
    name, code, body = split_document(search_text)
    return [name, code, "\n".join((name, code, body))]


def _write(cursor: Any, pk: Any, search_text: str) -> None:
    db_pk = _db_pk(pk)
    if connection.vendor == "postgresql":
        # UPDATE, then INSERT when there was nothing to update: portable where ON CONFLICT is not.
        cursor.execute(_PG_UPDATE, [*_vectors(search_text), db_pk])
        if not cursor.rowcount:
            cursor.execute(_PG_INSERT, [*_vectors(search_text), db_pk])
        return
    name, code, body = split_document(search_text)
    cursor.execute(_SQLITE_MAP, [db_pk])
    cursor.execute(_SQLITE_DOC_ID, [db_pk])
    doc_id = cursor.fetchone()[0]
    cursor.execute(_SQLITE_CURRENT, [doc_id])
    current = cursor.fetchone()
    if current is not None and tuple(current) == (name, code, body):
        return
    cursor.execute(_SQLITE_FTS_DELETE, [doc_id])
    cursor.execute(_SQLITE_FTS_INSERT, [doc_id, name, code, body])


def _check_vendor() -> None:
    if connection.vendor not in ("postgresql", "sqlite"):
        raise _unsupported(connection.vendor)


def sync_document(resource_pk: Any, search_text: str) -> None:
    """Bring one resource's index document up to date (inside the caller's transaction)."""
    _check_vendor()
    with connection.cursor() as cursor:
        _write(cursor, resource_pk, search_text)


def remove_document(resource_pk: Any) -> None:
    _check_vendor()
    with connection.cursor() as cursor:
        cursor.execute(_PG_DELETE if connection.vendor == "postgresql" else _SQLITE_DELETE, [_db_pk(resource_pk)])


def reload_documents(batches: Iterable[Sequence[tuple[Any, str]]]) -> int:
    """Replace every index document with batches of ``(pk, search_text)``. Returns the number written."""
    _check_vendor()
    postgres = connection.vendor == "postgresql"
    count = 0
    with connection.cursor() as cursor:
        for statement in (_PG_DELETE_ALL,) if postgres else _SQLITE_DELETE_ALL:
            cursor.execute(statement)
        for batch in batches:
            if postgres:
                cursor.executemany(_PG_INSERT, [[*_vectors(text), _db_pk(pk)] for pk, text in batch])
            else:
                numbered = list(enumerate(batch, start=count + 1))
                cursor.executemany(_SQLITE_MAP_WITH_ID, [[i, _db_pk(pk)] for i, (pk, _) in numbered])
                cursor.executemany(_SQLITE_FTS_INSERT, [[i, *split_document(text)] for i, (_, text) in numbered])
            count += len(batch)
        if not postgres:
            cursor.execute(_SQLITE_OPTIMIZE)
    return count
