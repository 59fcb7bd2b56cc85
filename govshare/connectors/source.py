"""What a connector reads and how: the source relation (a table or one read-only query), the selected
columns and their dataset columns, and the SQL of a probe, a pull page and a full read.

A pull page is keyset-paginated on (incremental column, key), so rows committed while a pull runs can
neither shift nor duplicate a page::

    SELECT <cols> FROM <table | (query)> src
    WHERE inc IS NOT NULL AND key IS NOT NULL
      AND inc > :lower                                   -- watermark minus the overlap window
      AND (inc > :last_inc OR (inc = :last_inc AND key > :last_key))   -- after the previous page
    ORDER BY inc, key LIMIT :page_size
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from govshare.connectors.drivers import placeholder, quote_ident, quote_table
from govshare.core.errors import ValidationFailed

QUERY_MAX_LENGTH = 20_000
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_FIRST_WORD = re.compile(r"[A-Za-z]+")


def validate_query(query: str) -> str:
    """One read-only statement starting with SELECT or WITH (a trailing ``;`` is dropped). The database
    account should be read-only as well, and the session is opened read-only: this check only keeps honest
    mistakes (two statements, an UPDATE) out."""
    text = (query or "").strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise ValidationFailed("查询语句不能为空 (query is empty)", field="source_query")
    if len(text) > QUERY_MAX_LENGTH or "\x00" in text:
        raise ValidationFailed(f"查询语句过长（最多 {QUERY_MAX_LENGTH} 字符） (query too long)", field="source_query")
    if ";" in text:
        raise ValidationFailed("只允许一条查询语句，不得包含分号 (a single statement, no semicolons)",
                               field="source_query")
    start = _LEADING.match(text)
    word = _FIRST_WORD.match(text, start.end() if start else 0)
    if word is None or word.group(0).upper() not in ("SELECT", "WITH"):
        raise ValidationFailed("查询语句必须以 SELECT 或 WITH 开头 (the query must start with SELECT or WITH)",
                               field="source_query")
    return text


def resolve_column_map(column_map: Mapping[str, str] | None, dataset_columns: Sequence[str],
                       required: Sequence[str], dataset_key: str) -> dict[str, str]:
    """source column -> dataset column; empty means "same names" for every dataset column. Checks that targets
    exist, are not mapped twice, and cover the key and every required item."""
    if not column_map:
        return {c: c for c in dataset_columns}
    if not isinstance(column_map, Mapping):
        raise ValidationFailed("列映射须为 源列 → 数据集列 的对象 (column_map must be an object)", field="column_map")
    known = set(dataset_columns)
    out: dict[str, str] = {}
    for source, target in column_map.items():
        if not isinstance(source, str) or not isinstance(target, str) or target not in known:
            raise ValidationFailed(f"列映射的目标列 {target!r} 不是数据集的列 (unknown dataset column; one of "
                                   f"{', '.join(dataset_columns)})", field="column_map")
        if target in out.values():
            raise ValidationFailed(f"数据集列 {target} 被映射了两次 (dataset column mapped twice)", field="column_map")
        out[source] = target
    missing = [c for c in [dataset_key, *required] if c not in out.values()]
    if missing:
        raise ValidationFailed(f"列映射缺少主键或必填列: {', '.join(dict.fromkeys(missing))} "
                               "(the key and every required column must be mapped)", field="column_map")
    return out


@dataclass(frozen=True)
class SourcePlan:
    engine: str
    relation: str
    columns: tuple[str, ...]  # selected source columns
    targets: tuple[str | None, ...]  # the dataset column of each (None: read only for the cursor)
    key_index: int
    inc_index: int | None
    zone: str

    @classmethod
    def build(cls, *, engine: str, source_table: str, source_query: str, column_map: Mapping[str, str],
              key_column: str, incremental_column: str) -> SourcePlan:
        if bool(source_table) == bool(source_query):
            raise ValidationFailed("请填写表名或查询语句之一 (give either a table or a query)", field="source_table")
        if source_table:
            try:
                relation = quote_table(engine, source_table)
            except ValidationFailed as exc:
                raise ValidationFailed(exc.message, field="source_table") from None
        else:
            relation = f"(\n{validate_query(source_query)}\n)"
        columns = list(column_map)
        if key_column not in column_map:
            raise ValidationFailed(f"主键列 {key_column!r} 必须出现在列映射中 (the key column must be mapped)",
                                   field="key_column")
        if incremental_column and incremental_column not in columns:
            columns.append(incremental_column)
        for name, field in [*((c, "column_map") for c in column_map), (key_column, "key_column"),
                            (incremental_column, "incremental_column")]:
            if name:
                try:
                    quote_ident(engine, name)
                except ValidationFailed as exc:
                    raise ValidationFailed(exc.message, field=field) from None
        return cls(engine=engine, relation=relation, columns=tuple(columns),
                   targets=tuple(column_map.get(c) for c in columns), key_index=columns.index(key_column),
                   inc_index=columns.index(incremental_column) if incremental_column else None,
                   zone=str(settings.TIME_ZONE))

    # -- SQL ------------------------------------------------------------------------------------

    def _q(self, name: str) -> str:
        return quote_ident(self.engine, name)

    def _select(self) -> str:
        cols = ", ".join(f"src.{self._q(c)}" for c in self.columns)
        return f"SELECT {cols} FROM {self.relation} src"  # noqa: S608 - quoted names, validated query

    def probe_sql(self) -> str:
        return f"{self._select()} WHERE 1 = 0"

    def full_sql(self) -> str:
        return self._select()

    def page_sql(self, *, lower: Any, cursor: tuple[Any, Any] | None, limit: int) -> tuple[str, list[Any]]:
        assert self.inc_index is not None
        inc, key = self._q(self.columns[self.inc_index]), self._q(self.columns[self.key_index])
        mark = placeholder(self.engine)
        where = [f"src.{inc} IS NOT NULL", f"src.{key} IS NOT NULL"]
        params: list[Any] = []
        if lower is not None:
            where.append(f"src.{inc} > {mark}")
            params.append(lower)
        if cursor is not None:
            where.append(f"(src.{inc} > {mark} OR (src.{inc} = {mark} AND src.{key} > {mark}))")
            params += [cursor[0], cursor[0], cursor[1]]
        sql = (f"{self._select()} WHERE {' AND '.join(where)} "
               f"ORDER BY src.{inc}, src.{key} LIMIT {int(limit)}")
        return sql, params

    # -- rows -----------------------------------------------------------------------------------

    def to_row(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A source row as a dataset row (dataset column -> value); aware times in the platform's zone."""
        zone = ZoneInfo(self.zone)
        out: dict[str, Any] = {}
        for target, value in zip(self.targets, raw, strict=True):
            if target is None:
                continue
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.astimezone(zone)
            out[target] = value
        return out

    def key_of(self, raw: Sequence[Any]) -> Any:
        return raw[self.key_index]

    def inc_of(self, raw: Sequence[Any]) -> Any:
        return raw[self.inc_index] if self.inc_index is not None else None
