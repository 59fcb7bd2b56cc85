"""Writes for source connectors: create, update, delete, pause / resume, "run now", test the connection.

Who: the provider side of the dataset's resource (provider staff and the department administrator of the
providing department), or the platform itself (``actor`` ``None`` / a label string: demo builder, CLI).
Every create and update checks the outbound allowlist (a refusal names ``host``, or ``database`` for a
SQLite file) and, unless ``verify=False``, tests the connection and the source's columns first; a failure
writes nothing. The password is stored SM4-encrypted and never returned or logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, replace
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.audit.choices import Result
from govshare.audit.services import record_event
from govshare.catalog.models import Resource
from govshare.connectors.choices import PASSWORD_PURPOSE, ConnectorStatus, RunKind, RunStatus
from govshare.connectors.config import Config, endpoint_of, plan_of, validate
from govshare.connectors.models import ConnectorRun, SourceConnector
from govshare.connectors.probe import ConnectionReport, probe
from govshare.core import periodic
from govshare.core.crypto import encrypt_secret
from govshare.core.errors import Conflict, NotFound, ValidationFailed
from govshare.datasets.models import Dataset
from govshare.datasets.services import require_provider_side

DISPATCH_JOB = "connectors.dispatch"
# Changing one of these makes the stored watermark meaningless: it is reset and a pull made due.
RESET_FIELDS = ("engine", "host", "port", "database", "source_table", "source_query", "column_map", "key_column",
                "incremental_column", "incremental_type")


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) and not isinstance(actor, str) else None


def _resource(dataset: Dataset) -> Resource:
    return Resource.objects.select_related("published_version").get(pk=dataset.resource_id)


def _event_data(c: SourceConnector) -> dict[str, Any]:
    """What the audit log keeps about a connector: never the password, never the query text."""
    return {"name": c.name, "dataset": str(c.dataset_id), "engine": c.engine, "host": c.host, "port": c.port,
            "database": c.database, "user": c.user, "source_table": c.source_table,
            "has_query": bool(c.source_query), "key_column": c.key_column, "incremental_column": c.incremental_column}


def _check(config: Config, dataset: Dataset, *, verify: bool) -> Config:
    normalised, plan = validate(config, dataset, node=dataset.node_id)
    if verify:
        report = probe(endpoint_of(normalised), plan, node=dataset.node_id)
        if not report.ok:
            raise ValidationFailed(report.message, field=report.field or "host",
                                   details={"columns": list(report.columns), "server_version": report.server_version})
    return normalised


def create_connector(*, actor: Any, dataset: Dataset, config: Config, verify: bool = True) -> SourceConnector:
    """Register a source connector for a mounted dataset; its first pull is due at once."""
    dataset = Dataset.objects.select_related("resource").get(pk=dataset.pk)
    require_provider_side(actor, _resource(dataset))
    normalised = _check(config, dataset, verify=verify)
    now = timezone.now()
    values = {k: v for k, v in asdict(normalised).items() if k != "password"}
    values["options"], values["column_map"] = dict(normalised.options), dict(normalised.column_map)
    with transaction.atomic():
        if SourceConnector.objects.filter(dataset=dataset, name=normalised.name).exists():
            raise Conflict(f"该数据集已有同名连接器: {normalised.name} (name already used)", details={"field": "name"})
        connector = SourceConnector.objects.create(
            node_id=dataset.node_id, dataset=dataset, created_by=_user_or_none(actor),
            password_enc=encrypt_secret(normalised.password, purpose=PASSWORD_PURPOSE) if normalised.password else "",
            next_pull_at=now, next_reconcile_at=now + _seconds(normalised.reconcile_interval_seconds), **values)
        record_event(actor=actor, action="connector.created", target_type="source_connector",
                     target_id=str(connector.pk), data=_event_data(connector))
    return connector


def _seconds(value: int | None) -> dt.timedelta:
    return dt.timedelta(seconds=int(value or 0))


def update_connector(*, actor: Any, connector: SourceConnector, changes: dict[str, Any],
                     verify: bool = True) -> SourceConnector:
    """Change some fields. ``password``: absent or ``None`` keeps it, ``""`` clears it. Changing the connection
    or the source re-checks the allowlist and the connection; changing the source resets the watermark."""
    dataset = Dataset.objects.select_related("resource").get(pk=connector.dataset_id)
    require_provider_side(actor, _resource(dataset))
    unknown = set(changes) - set(Config.names())
    if unknown:
        raise ValidationFailed(f"不能修改的字段: {', '.join(sorted(unknown))} (unknown fields)",
                               field=sorted(unknown)[0])
    changes = {k: v for k, v in changes.items() if not (k == "password" and v is None)}
    current = Config.of(connector)
    wanted = replace(current, **changes)
    touches_connection = any(k in changes for k in (*Config.CONNECTION_FIELDS, *Config.SOURCE_FIELDS))
    normalised = _check(wanted, dataset, verify=verify and touches_connection)
    changed = [k for k in Config.names() if getattr(normalised, k) != getattr(current, k)]
    if not changed:
        return connector
    with transaction.atomic():
        locked = SourceConnector.objects.select_for_update().get(pk=connector.pk)
        if any(k in RESET_FIELDS for k in changed) and ConnectorRun.objects.filter(
                connector=locked, status=RunStatus.RUNNING).exists():
            raise Conflict("连接器正在运行，请先暂停并等待本次运行结束再修改数据源 "
                           "(a run is in progress; pause and wait before changing the source)")
        if "name" in changed and SourceConnector.objects.filter(dataset=dataset, name=normalised.name).exclude(
                pk=locked.pk).exists():
            raise Conflict(f"该数据集已有同名连接器: {normalised.name} (name already used)", details={"field": "name"})
        for k in changed:
            if k == "password":
                locked.password_enc = (encrypt_secret(normalised.password, purpose=PASSWORD_PURPOSE)
                                       if normalised.password else "")
            else:
                value = getattr(normalised, k)
                setattr(locked, k, dict(value) if k in ("options", "column_map") else value)
        if any(k in RESET_FIELDS for k in changed):
            locked.watermark = {}
            locked.next_pull_at = timezone.now()
        locked.save()
        record_event(actor=actor, action="connector.updated", target_type="source_connector",
                     target_id=str(locked.pk), data={**_event_data(locked), "changed": changed})
    return locked


def delete_connector(*, actor: Any, connector: SourceConnector) -> None:
    require_provider_side(actor, _resource(connector.dataset))
    with transaction.atomic():
        locked = SourceConnector.objects.select_for_update().filter(pk=connector.pk).first()
        if locked is None:
            raise NotFound()
        if ConnectorRun.objects.filter(connector=locked, status=RunStatus.RUNNING).exists():
            raise Conflict("连接器正在运行，请先暂停并等待本次运行结束 (a run is in progress; pause and wait)")
        data = _event_data(locked)
        try:
            with transaction.atomic():
                locked.delete()
        except IntegrityError as exc:  # pragma: no cover - runs cascade; nothing else references a connector
            raise Conflict("连接器仍被引用，不能删除 (still referenced)") from exc
        record_event(actor=actor, action="connector.deleted", target_type="source_connector",
                     target_id=str(connector.pk), data=data)


def set_paused(*, actor: Any, connector: SourceConnector, paused: bool) -> SourceConnector:
    """Pause (no new runs; a run in progress finishes its current page and stops) or resume (a pull is due at
    once and the failure count starts again)."""
    require_provider_side(actor, _resource(connector.dataset))
    target = ConnectorStatus.PAUSED if paused else ConnectorStatus.ACTIVE
    with transaction.atomic():
        locked = SourceConnector.objects.select_for_update().get(pk=connector.pk)
        if locked.status == target:
            raise Conflict("连接器已暂停 (already paused)" if paused else "连接器已在运行 (already active)")
        locked.status = target
        if not paused:
            locked.consecutive_failures = 0
            locked.next_pull_at = timezone.now()
        locked.save(update_fields=["status", "consecutive_failures", "next_pull_at", "updated_at"])
        record_event(actor=actor, action="connector.paused" if paused else "connector.resumed",
                     target_type="source_connector", target_id=str(locked.pk), data={"name": locked.name})
    return locked


def request_run(*, actor: Any, connector: SourceConnector, kind: str) -> SourceConnector:
    """"Run now": make a pull or a reconciliation due; the dispatcher picks it up within seconds."""
    require_provider_side(actor, _resource(connector.dataset))
    if kind not in RunKind.values:
        raise ValidationFailed("kind 须为 pull 或 reconcile (kind must be pull or reconcile)", field="kind")
    with transaction.atomic():
        locked = SourceConnector.objects.select_for_update().get(pk=connector.pk)
        if locked.status != ConnectorStatus.ACTIVE:
            raise Conflict("连接器已暂停，请先恢复 (the connector is paused; resume it first)")
        now = timezone.now()
        if kind == RunKind.RECONCILE:
            locked.next_reconcile_at = now
        else:
            locked.next_pull_at = now
        locked.run_requested = True
        locked.save(update_fields=["next_pull_at", "next_reconcile_at", "run_requested", "updated_at"])
        record_event(actor=actor, action="connector.run_requested", target_type="source_connector",
                     target_id=str(locked.pk), data={"name": locked.name, "kind": kind})
        periodic.kick_on_commit(DISPATCH_JOB)  # wake a worker now rather than at the next 15 s round
    return locked


def test_connection(*, actor: Any, connector: SourceConnector) -> ConnectionReport:
    """Test a stored connector's connection and source columns (audited; reads no rows)."""
    require_provider_side(actor, _resource(connector.dataset))
    report = probe(endpoint_of(Config.of(connector)), plan_of(connector), node=connector.node_id)
    with transaction.atomic():
        record_event(actor=actor, action="connector.tested", target_type="source_connector",
                     target_id=str(connector.pk), data={"ok": report.ok, "field": report.field,
                                                        "elapsed_ms": report.elapsed_ms},
                     result=Result.OK if report.ok else Result.FAILED)
    return report
