"""A connector's configuration as the services validate it, and what is derived from a stored connector:
its endpoint (password decrypted), its source plan and its pull interval.

Settings (``settings.GOVSHARE``):

- ``CONNECTOR_PULL_INTERVALS``: seconds between pulls per 更新周期 (``govshare.catalog.choices.UpdateCycle``),
  default 实时 60 s, 每日 1 day, 每周 7 days, 每月 30 days, 每季度 91 days, 每半年 182 days, 每年 365 days,
  不定期 1 day; a connector's ``pull_interval_seconds`` overrides it.
- ``CONNECTOR_MIN_INTERVAL_SECONDS`` (15): the shortest pull or reconciliation interval a connector may set.
- ``CONNECTOR_RECONCILE_SECONDS`` (86400): the default reconciliation interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from django.conf import settings

from govshare.catalog.choices import UpdateCycle
from govshare.connectors.choices import PASSWORD_PURPOSE, Engine, IncrementalType
from govshare.connectors.drivers import PG_SSLMODES, Endpoint
from govshare.connectors.models import SourceConnector
from govshare.connectors.source import SourcePlan, resolve_column_map
from govshare.core.crypto import decrypt_secret
from govshare.core.errors import ValidationFailed
from govshare.datasets.models import Dataset
from govshare.datasets.validation import columns_for
from govshare.registry import netpolicy

DAY = 86400
DEFAULT_PULL_INTERVALS: dict[str, int] = {
    UpdateCycle.REALTIME: 60, UpdateCycle.DAILY: DAY, UpdateCycle.WEEKLY: 7 * DAY, UpdateCycle.MONTHLY: 30 * DAY,
    UpdateCycle.QUARTERLY: 91 * DAY, UpdateCycle.SEMIANNUAL: 182 * DAY, UpdateCycle.YEARLY: 365 * DAY,
    UpdateCycle.IRREGULAR: DAY,
}
MAX_INTERVAL = 366 * DAY
MAX_OVERLAP_SECONDS = 7 * DAY
DEFAULT_PAGE_SIZE = 1000
OPTION_KEYS = frozenset({"sslmode"})


def _int_setting(name: str, default: int) -> int:
    return int(settings.GOVSHARE.get(name, default))


def pull_intervals() -> dict[str, int]:
    configured = settings.GOVSHARE.get("CONNECTOR_PULL_INTERVALS") or {}
    return {**DEFAULT_PULL_INTERVALS, **{str(k): int(v) for k, v in dict(configured).items()}}


def min_interval() -> int:
    return _int_setting("CONNECTOR_MIN_INTERVAL_SECONDS", 15)


def default_reconcile_seconds() -> int:
    return _int_setting("CONNECTOR_RECONCILE_SECONDS", DAY)


def max_page_size() -> int:
    # a page is one change-log batch: never more than the change log accepts per batch
    return _int_setting("INCREMENTAL_MAX_ROWS", 10_000)


def pull_interval(connector: SourceConnector, update_cycle: str | None = None) -> int:
    if connector.pull_interval_seconds:
        return int(connector.pull_interval_seconds)
    cycle = update_cycle or connector.dataset.resource.update_cycle
    intervals = pull_intervals()
    return intervals.get(cycle, intervals[UpdateCycle.IRREGULAR])


@dataclass(frozen=True)
class Config:
    """Everything a user sets on a connector (the password in clear, only in memory)."""

    name: str
    engine: str
    database: str
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str = field(default="", repr=False)
    options: Mapping[str, str] = field(default_factory=dict)
    source_table: str = ""
    source_query: str = ""
    column_map: Mapping[str, str] = field(default_factory=dict)
    key_column: str = ""
    incremental_column: str = ""
    incremental_type: str = IncrementalType.TIMESTAMP
    overlap_seconds: int = 300
    overlap_count: int = 1000
    page_size: int = DEFAULT_PAGE_SIZE
    pull_interval_seconds: int | None = None
    reconcile_interval_seconds: int | None = None

    CONNECTION_FIELDS = ("engine", "host", "port", "database", "user", "password", "options")
    SOURCE_FIELDS = ("source_table", "source_query", "column_map", "key_column", "incremental_column",
                     "incremental_type")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def of(cls, connector: SourceConnector) -> Config:
        """The stored configuration (the password decrypted)."""
        values = {n: getattr(connector, n) for n in cls.names() if n != "password"}
        return cls(**values, password=stored_password(connector))


def stored_password(connector: SourceConnector) -> str:
    if not connector.password_enc:
        return ""
    return decrypt_secret(connector.password_enc, purpose=PASSWORD_PURPOSE).decode("utf-8")


def _bounded(value: Any, name: str, low: int, high: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(f"{name} 须为 {low} 到 {high} 之间的整数 ({name} must be an integer {low}-{high})",
                               field=name)
    return value


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{name} 须为字符串 ({name} must be a string)", field=name)
    if required and not text:
        raise ValidationFailed(f"{name} 不能为空 ({name} is required)", field=name)
    if len(text) > limit or "\x00" in text:
        raise ValidationFailed(f"{name} 过长（最多 {limit} 字符） ({name} too long)", field=name)
    return text


def _options(engine: str, raw: Any) -> dict[str, str]:
    if not raw:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValidationFailed("options 须为字符串键值对 (options must map strings to strings)", field="options")
    unknown = set(raw) - OPTION_KEYS
    if unknown or (raw and engine != Engine.POSTGRESQL):
        raise ValidationFailed(f"不支持的连接选项: {', '.join(sorted(unknown or set(raw)))}（目前仅 PostgreSQL 的 "
                               "sslmode） (unsupported option: only sslmode, PostgreSQL)", field="options")
    if raw.get("sslmode") not in PG_SSLMODES:
        raise ValidationFailed(f"sslmode 须为 {', '.join(sorted(PG_SSLMODES))} 之一 (invalid sslmode)", field="options")
    return dict(raw)


def validate(config: Config, dataset: Dataset, *, node: Any) -> tuple[Config, SourcePlan]:
    """Check every field and the allowlist; return the normalised config and its source plan.

    Raises :class:`ValidationFailed` naming the field; nothing is written here."""
    if config.engine not in Engine.values:
        raise ValidationFailed(f"数据库类型须为 {', '.join(Engine.values)} 之一 (unsupported engine)", field="engine")
    engine = config.engine
    name = _text(config.name, "name", 120, required=True)
    database = _text(config.database, "database", 500, required=True)
    user = _text(config.user, "user", 128)
    if len(config.password) > 512 or "\x00" in config.password:
        raise ValidationFailed("密码过长 (password too long)", field="password")
    host, port = "", None
    if engine == Engine.SQLITE:
        database = str(netpolicy.check_sqlite_path(database, field="database"))
        if config.port is not None:
            raise ValidationFailed("SQLite 没有端口 (SQLite has no port)", field="port")
    else:
        host = netpolicy.normalise_host(_text(config.host, "host", 255, required=True), field="host")
        port = _bounded(config.port, "port", 1, 65535, optional=True)
        netpolicy.check_host(host, port or (5432 if engine == Engine.POSTGRESQL else 3306), purpose="connector",
                             node=node, field="host")
    columns = columns_for(dataset.resource)
    column_map = resolve_column_map(config.column_map, [c.column_name for c in columns],
                                    [c.column_name for c in columns if c.required], dataset.key_column)
    key_column = config.key_column.strip() or next(s for s, t in column_map.items() if t == dataset.key_column)
    if column_map.get(key_column) != dataset.key_column:
        raise ValidationFailed(f"主键列 {key_column} 须映射到数据集主键 {dataset.key_column} "
                               "(the key column must map to the dataset's key)", field="key_column")
    if config.incremental_type not in IncrementalType.values:
        raise ValidationFailed("增量列类型须为 timestamp 或 number (incremental_type)", field="incremental_type")
    incremental = _text(config.incremental_column, "incremental_column", 128)
    if incremental and incremental == key_column:
        raise ValidationFailed("增量列不能是主键列 (the incremental column cannot be the key)",
                               field="incremental_column")
    floor = min_interval()
    normalised = replace(
        config, name=name, engine=engine, host=host, port=port, database=database, user=user,
        options=_options(engine, config.options), source_table=_text(config.source_table, "source_table", 255),
        source_query=(config.source_query or "").strip(), column_map=column_map, key_column=key_column,
        incremental_column=incremental,
        overlap_seconds=_bounded(config.overlap_seconds, "overlap_seconds", 0, MAX_OVERLAP_SECONDS) or 0,
        overlap_count=_bounded(config.overlap_count, "overlap_count", 0, 10**12) or 0,
        page_size=_bounded(config.page_size, "page_size", 1, max_page_size()) or DEFAULT_PAGE_SIZE,
        pull_interval_seconds=_bounded(config.pull_interval_seconds, "pull_interval_seconds", floor, MAX_INTERVAL,
                                       optional=True),
        reconcile_interval_seconds=_bounded(
            config.reconcile_interval_seconds if config.reconcile_interval_seconds is not None
            else default_reconcile_seconds(), "reconcile_interval_seconds", floor, MAX_INTERVAL),
    )
    plan = SourcePlan.build(engine=engine, source_table=normalised.source_table,
                            source_query=normalised.source_query, column_map=column_map, key_column=key_column,
                            incremental_column=incremental)
    return normalised, plan


def endpoint_of(config: Config) -> Endpoint:
    return Endpoint(engine=config.engine, host=config.host, port=config.port, database=config.database,
                    user=config.user, password=config.password, options=dict(config.options))


def plan_of(connector: SourceConnector) -> SourcePlan:
    return SourcePlan.build(engine=connector.engine, source_table=connector.source_table,
                            source_query=connector.source_query, column_map=connector.column_map,
                            key_column=connector.key_column, incremental_column=connector.incremental_column)
