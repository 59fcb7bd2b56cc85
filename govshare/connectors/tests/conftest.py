"""Fixtures for connector tests: a mounted 人口 dataset, the allowlist entry for the local servers, and real
source databases (see :mod:`.sources`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.catalog.services import ItemSpec
from govshare.connectors import services
from govshare.connectors.config import Config
from govshare.connectors.dispatch import dispatch
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.tests.sources import (
    COLUMN_MAP,
    MY,
    PG,
    LiteSource,
    MySource,
    PgSource,
    Source,
    create_pg_database,
    drop_pg_database,
    expected,
    require_server,
)
from govshare.datasets.changes import iter_live_records
from govshare.datasets.models import Dataset
from govshare.datasets.services import mount_resource
from govshare.registry.services import add_allowed_host

ITEMS = [
    ItemSpec(name="公民身份号码", element_code="DE0001", is_key=True),
    ItemSpec(name="姓名", element_code="DE0002", required=True),
    ItemSpec(name="性别", element_code="DE0003"),
    ItemSpec(name="出生日期", element_code="DE0004"),
    ItemSpec(name="现住址", element_code="DE0007"),
]
ENGINES = ["sqlite", "postgresql", "mysql"]


@pytest.fixture
def sqlite_dir(tmp_path: Path, settings: Any) -> Path:
    directory = tmp_path / "connect"
    directory.mkdir()
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(directory)]}
    return directory


@pytest.fixture
def dataset(provider_dept: testing.Department, data_office: User, provider: User) -> Dataset:
    resource = testing.resource(provider_dept, name="人口基本信息（前置库）", items=ITEMS, publish_by=data_office,
                                update_cycle="daily")
    return mount_resource(actor=provider, resource=resource)


@pytest.fixture
def sys_admin(city: testing.Node) -> User:
    return testing.user(Role.SYS_ADMIN, at=city)


@pytest.fixture
def allow_local(city: testing.Node) -> Any:
    return add_allowed_host(actor=None, node=city, host="127.0.0.1", purpose="connector", note="本机测试库")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    require_server(PG["host"], int(PG["port"]), "PostgreSQL")  # type: ignore[arg-type]
    name = create_pg_database()
    yield name
    drop_pg_database(name)


@pytest.fixture
def make_source(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Any]:
    made: list[Source] = []

    def make(engine: str) -> Source:
        if engine == "postgresql":
            src: Source = PgSource(request.getfixturevalue("pg_database"))
        elif engine == "mysql":
            require_server(str(MY["host"]), int(MY["port"]), "MariaDB")  # type: ignore[call-overload]
            src = MySource()
        else:
            src = LiteSource(sqlite_dir)
        made.append(src)
        return src

    yield make
    for src in made:
        src.drop()


def config_for(src: Source, **over: Any) -> Config:
    values: dict[str, Any] = {"name": f"{src.engine} 前置库", **src.endpoint(), "source_table": src.table,
                              "column_map": COLUMN_MAP, "key_column": "sfzh", "incremental_column": "gxsj",
                              "page_size": 10, **over}
    return Config(**values)


def connect_source(src: Source, dataset: Dataset, actor: Any, **over: Any) -> SourceConnector:
    return services.create_connector(actor=actor, dataset=dataset, config=config_for(src, **over))


def run_now(connector: SourceConnector, kind: str = "pull", actor: Any = None) -> ConnectorRun | None:
    """Make a run due and let the dispatcher run it; answers the newest run (None: an empty poll left none)."""
    services.request_run(actor=actor, connector=connector, kind=kind)
    dispatch(budget_seconds=60)
    return ConnectorRun.objects.filter(connector=connector).order_by("-id").first()


def platform_rows(dataset: Dataset) -> dict[str, dict[str, Any]]:
    return {k: {c: v for c, v in d.items() if v is not None} for k, d in iter_live_records(dataset=dataset)}


def source_as_platform(src: Source) -> dict[str, dict[str, Any]]:
    return {k: expected(r) for k, r in src.rows().items()}
