"""Demo subscriptions: one webhook to the demo receiver, one table sink into a demo consumer SQLite database
(its 前置库) inside the allowed SQLite directory. Called by the demo city builder; deliveries are then made by
``govshare worker`` like any others."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from govshare.core.errors import ValidationFailed
from govshare.exchange.choices import ItemMode
from govshare.exchange.dataplane.changes import usable_grant
from govshare.exchange.models import Grant
from govshare.registry import netpolicy
from govshare.registry.services import add_allowed_host
from govshare.subscriptions.choices import SinkEngine, SubscriptionKind
from govshare.subscriptions.services import SinkSpec, create_subscription

DEMO_TABLE = "gs_subscribed_records"
DEMO_DB_NAME = "demo_consumer_frontdb.sqlite3"


def _allow_webhook(url: str, node: Any) -> None:
    try:
        netpolicy.check_url(url, purpose="webhook", node=node, field="url")
    except ValidationFailed:
        parts = urlsplit(url)
        add_allowed_host(actor="demo", node=node, host=parts.hostname or "", port=parts.port, purpose="webhook",
                         note="演示 webhook 接收方 (demo receiver)")


def _sqlite_path(home: Path) -> Path:
    dirs = netpolicy.sqlite_dirs()
    inside = [d for d in dirs if d.is_relative_to(home.resolve())]
    folder = (inside or dirs)[0]
    folder.mkdir(parents=True, exist_ok=True)
    return folder / DEMO_DB_NAME


def _table_for(grant: Grant, path: Path) -> str:
    """Create the consumer's table (granted items as TEXT, the key column as primary key); answers the key
    column: the key item itself when granted plain, else ``record_key`` (it receives the per-grant pseudonym)."""
    info = usable_grant(grant.pk).grant
    if info is None:
        raise ValueError(f"demo grant {grant.pk} cannot take subscriptions")
    key_plain = info.items.get(info.resource.key_column) == ItemMode.PLAIN
    key_column = info.resource.key_column if key_plain else "record_key"
    columns = [key_column, *[c for c in info.readable() if c != key_column]]
    ddl = ", ".join(f'"{c}" TEXT PRIMARY KEY' if c == key_column else f'"{c}" TEXT' for c in columns)
    with sqlite3.connect(path) as conn:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{DEMO_TABLE}" ({ddl})')
    return key_column


def build_demo_subscriptions(*, grant_for_webhook: Grant, grant_for_table: Grant, actor: Any, home: Path,
                             webhook_url: str = "http://127.0.0.1:8765/hook") -> dict[str, Any]:
    """Both demo subscriptions (with initial data), the allowlist entry for the receiver and the consumer table.
    Answers their ids, the webhook secret (for the receiver to check signatures) and the SQLite path."""
    _allow_webhook(webhook_url, grant_for_webhook.node)
    hook = create_subscription(actor=actor, grant=grant_for_webhook, name="演示 webhook 订阅",
                               kind=SubscriptionKind.WEBHOOK, url=webhook_url, initial_data=True)
    path = _sqlite_path(home)
    key_column = _table_for(grant_for_table, path)
    table = create_subscription(
        actor=actor, grant=grant_for_table, name="演示前置库库表推送", kind=SubscriptionKind.TABLE,
        sink=SinkSpec(engine=SinkEngine.SQLITE, database=str(path), table=DEMO_TABLE, key_column=key_column),
        initial_data=True)
    return {"webhook": {"id": str(hook.subscription.pk), "url": webhook_url, "secret": hook.secret},
            "table": {"id": str(table.subscription.pk), "database": str(path), "table": DEMO_TABLE,
                      "key_column": key_column}}
