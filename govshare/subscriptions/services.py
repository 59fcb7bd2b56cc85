"""Writes of the subscriptions app: create, update, pause, resume, cancel, rotate the webhook secret; and the
hook that starts deliveries within about a second of a committed change (:func:`on_changes_committed`).

The deliveries themselves are the periodic job in :mod:`govshare.subscriptions.delivery`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.connectors import drivers
from govshare.core import periodic
from govshare.core.crypto import encrypt_secret
from govshare.core.errors import Conflict, PermissionDenied, ValidationFailed
from govshare.datasets.models import Dataset
from govshare.exchange.dataplane.changes import usable_grant
from govshare.exchange.models import Grant
from govshare.registry import netpolicy
from govshare.subscriptions import conf, workflow
from govshare.subscriptions.choices import (
    SinkEngine,
    SnapshotState,
    SubscriptionAction,
    SubscriptionKind,
    SubscriptionStatus,
)
from govshare.subscriptions.models import Subscription

log = logging.getLogger("govshare.subscriptions")

JOB_NAME = "subscriptions.deliver"
SECRET_PURPOSE = "webhook-secret"  # noqa: S105 - an envelope key purpose, not a secret
PASSWORD_PURPOSE = "sink-password"  # noqa: S105 - idem
WORKER = "worker"


@dataclass(frozen=True)
class SinkSpec:
    """A table in the consumer's own database (前置库): connection, target table and its key column."""

    engine: str
    database: str
    table: str
    key_column: str
    host: str = ""
    port: int | None = None
    user: str = ""
    password: str = ""


@dataclass(frozen=True)
class Created:
    subscription: Subscription
    secret: str | None  # the webhook secret, shown once


# ---------------------------------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------------------------------


def is_consumer_side(actor: Any, consumer_id: Any) -> bool:
    """Consumer staff or the department administrator of the grant's consuming department."""
    return (getattr(actor, "role", None) in (Role.CONSUMER, Role.DEPT_ADMIN)
            and getattr(actor, "department_id", None) == consumer_id)


def _require_consumer_side(actor: Any, consumer_id: Any) -> None:
    if actor is None or isinstance(actor, str):  # the platform itself (demo builder, CLI)
        return
    if not is_consumer_side(actor, consumer_id):
        raise PermissionDenied("只有授权的使用部门可以管理订阅 (the grant's consumer department only)")


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) and not isinstance(actor, str) else None


# ---------------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("名称必填，不超过 100 个字符 (name is required, at most 100 characters)", field="name")
    return name


def _check_batch_size(batch_size: int | None) -> int:
    if batch_size is None:
        return conf.integer("SUBSCRIPTION_DEFAULT_BATCH_SIZE")
    top = conf.integer("SUBSCRIPTION_MAX_BATCH_SIZE")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= top:
        raise ValidationFailed(f"batch_size 须为 1–{top} 的整数 (integer 1..{top})", field="batch_size")
    return batch_size


def check_grant(grant: Grant) -> Dataset:
    """The grant must be usable now and allow the subscription mode; its resource must be mounted."""
    check = usable_grant(grant.pk)
    if check.refusal == "exchange_mode_not_granted":
        raise ValidationFailed("授权不包含订阅交换方式 (the grant does not allow the subscription mode)",
                               field="grant_id")
    if check.refusal:
        raise Conflict(f"授权当前不可用: {check.refusal} (the grant is not usable now)",
                       details={"field": "grant_id", "reason": check.refusal})
    assert check.grant is not None
    if check.grant.resource.level >= 4:
        raise ValidationFailed("L4 敏感资源须逐次签名调用，不提供推送订阅；请使用拉取接口 /dp/v1/changes "
                               "(L4 resources are not pushed: pull with signed calls)", field="grant_id")
    dataset = Dataset.objects.filter(resource_id=grant.resource_id).first()
    if dataset is None:
        raise Conflict("资源尚未挂接数据 (the resource has no dataset yet)", details={"field": "grant_id"})
    return dataset


def _sink_fields(spec: SinkSpec) -> dict[str, Any]:
    """The model fields of a checked sink (a SQLite sink has no host, port, user or password)."""
    remote = spec.engine != SinkEngine.SQLITE
    return {"sink_engine": spec.engine, "sink_host": spec.host.strip() if remote else "",
            "sink_port": spec.port if remote else None, "sink_database": spec.database.strip(),
            "sink_user": spec.user.strip() if remote else "", "sink_table": spec.table,
            "sink_key_column": spec.key_column}


def _check_sink(spec: SinkSpec, node: Any) -> None:
    if spec.engine not in SinkEngine.values:
        raise ValidationFailed(f"数据库类型须为 {'/'.join(SinkEngine.values)} (unsupported engine)", field="engine")
    for field, value in (("table", spec.table), ("key_column", spec.key_column)):
        try:
            drivers.quote_table(spec.engine, value) if field == "table" else drivers.quote_ident(spec.engine, value)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field=field) from None
    if spec.engine == SinkEngine.SQLITE:
        if len(spec.database) > 500:
            raise ValidationFailed("数据库文件路径过长 (database path too long)", field="database")
        try:
            netpolicy.check_sqlite_path(spec.database, field="database")
        except OSError:
            raise ValidationFailed("数据库文件路径无效 (invalid database path)", field="database") from None
        return
    if not spec.database.strip() or len(spec.database) > 200:
        raise ValidationFailed("须填写数据库名 (database is required)", field="database")
    if not spec.user.strip() or len(spec.user) > 128:
        raise ValidationFailed("须填写数据库用户 (user is required)", field="user")
    port = spec.port or drivers.DEFAULT_PORTS.get(spec.engine)
    netpolicy.check_host(spec.host, port, purpose="connector", node=node, field="host")


# ---------------------------------------------------------------------------------------------------------------
# Create / update
# ---------------------------------------------------------------------------------------------------------------


def create_subscription(*, actor: Any, grant: Grant, name: str, kind: str, url: str = "",
                        sink: SinkSpec | None = None, batch_size: int | None = None,
                        initial_data: bool = True) -> Created:
    """A push subscription of the consumer department to its own grant. ``initial_data``: first deliver the
    granted view as it is now (snapshot), then every change after it; otherwise only changes from now on.

    The webhook URL / sink host is checked against the outbound allowlist here and again on every send."""
    _require_consumer_side(actor, grant.consumer_id)
    name = _check_name(name)
    batch = _check_batch_size(batch_size)
    if kind not in SubscriptionKind.values:
        raise ValidationFailed("kind 须为 webhook 或 table (kind must be webhook or table)", field="kind")
    dataset = check_grant(grant)
    fields: dict[str, Any] = {}
    secret: str | None = None
    if kind == SubscriptionKind.WEBHOOK:
        netpolicy.check_url(url, purpose="webhook", node=grant.node_id, field="url")
        secret = secrets.token_urlsafe(32)
        fields.update(url=url.strip(), secret_enc=encrypt_secret(secret, purpose=SECRET_PURPOSE))
    else:
        if sink is None:
            raise ValidationFailed("库表推送须填写目标数据库 (a table sink needs its database)", field="engine")
        _check_sink(sink, grant.node_id)
        fields.update(_sink_fields(sink), sink_password_enc=encrypt_secret(sink.password, purpose=PASSWORD_PURPOSE)
                      if sink.password and sink.engine != SinkEngine.SQLITE else "")
    with transaction.atomic():
        locked = Grant.objects.select_for_update().get(pk=grant.pk)
        live = Subscription.objects.filter(grant=locked).exclude(status=SubscriptionStatus.CANCELLED).count()
        if live >= conf.integer("SUBSCRIPTION_MAX_PER_GRANT"):
            raise Conflict("该授权的订阅数已达上限 (too many subscriptions on this grant)",
                           details={"field": "grant_id", "limit": conf.integer("SUBSCRIPTION_MAX_PER_GRANT")})
        current = Dataset.objects.filter(pk=dataset.pk).values_list("last_seq", flat=True).get()
        sub = Subscription.objects.create(
            node_id=locked.node_id, grant=locked, dataset=dataset, consumer_id=locked.consumer_id, name=name,
            kind=kind, batch_size=batch, created_by=_user_or_none(actor),
            snapshot_state=SnapshotState.PENDING if initial_data else SnapshotState.NONE,
            cursor=0 if initial_data else current, **fields)
        record_event(actor=actor, action="subscription.created", target_type="subscription", target_id=str(sub.pk),
                     data={"grant": str(locked.pk), "kind": kind, "name": name, "batch_size": batch,
                           "initial_data": initial_data, "destination": destination(sub)})
        periodic.kick_on_commit(JOB_NAME)
    return Created(subscription=sub, secret=secret)


def destination(sub: Subscription) -> str:
    """Where deliveries go, for people and the audit log (never a password or secret)."""
    if sub.kind == SubscriptionKind.WEBHOOK:
        return sub.url
    if sub.sink_engine == SinkEngine.SQLITE:
        return f"sqlite:{sub.sink_database}#{sub.sink_table}"
    port = f":{sub.sink_port}" if sub.sink_port else ""
    return f"{sub.sink_engine}://{sub.sink_user}@{sub.sink_host}{port}/{sub.sink_database}#{sub.sink_table}"


def _transition(sub: Subscription, action: str) -> str:
    new = workflow.next_state(sub.status, action)
    if new is None:
        raise Conflict(f"订阅当前状态为 {sub.get_status_display()}，不能{SubscriptionAction(action).label} "
                       f"(not allowed in state {sub.status})", details={"status": sub.status, "action": action})
    return new


def _locked(sub: Subscription) -> Subscription:
    return Subscription.objects.select_for_update().get(pk=sub.pk)


def update_subscription(*, actor: Any, subscription: Subscription, name: str | None = None,
                        batch_size: int | None = None, url: str | None = None,
                        sink: SinkSpec | None = None) -> Subscription:
    """Change the name, the batch size, the webhook URL or the sink (a blank sink password keeps the old one).
    A batch in flight keeps its boundaries: a new batch size applies from the next batch."""
    _require_consumer_side(actor, subscription.consumer_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _check_name(name)
    if batch_size is not None:
        changes["batch_size"] = _check_batch_size(batch_size)
    if url is not None:
        if subscription.kind != SubscriptionKind.WEBHOOK:
            raise ValidationFailed("只有 webhook 订阅有 URL (only webhook subscriptions have a url)", field="url")
        netpolicy.check_url(url, purpose="webhook", node=subscription.node_id, field="url")
        changes["url"] = url.strip()
    if sink is not None:
        if subscription.kind != SubscriptionKind.TABLE:
            raise ValidationFailed("只有库表推送有目标数据库 (only table subscriptions have a sink)", field="engine")
        _check_sink(sink, subscription.node_id)
        changes.update(_sink_fields(sink))
        if sink.password:
            changes["sink_password_enc"] = encrypt_secret(sink.password, purpose=PASSWORD_PURPOSE)
    with transaction.atomic():
        sub = _locked(subscription)
        sub.status = _transition(sub, SubscriptionAction.UPDATE)
        for key, value in changes.items():
            setattr(sub, key, value)
        sub.save(update_fields=[*changes, "status", "updated_at"])
        record_event(actor=actor, action="subscription.updated", target_type="subscription", target_id=str(sub.pk),
                     data={"fields": sorted(k for k in changes if not k.endswith("_enc")),
                           "destination": destination(sub)})
    return sub


# ---------------------------------------------------------------------------------------------------------------
# Pause / resume / cancel / rotate
# ---------------------------------------------------------------------------------------------------------------


def pause_subscription(*, actor: Any, subscription: Subscription, reason: str = "") -> Subscription:
    _require_consumer_side(actor, subscription.consumer_id)
    with transaction.atomic():
        sub = _locked(subscription)
        sub.status = _transition(sub, SubscriptionAction.PAUSE)
        sub.paused_reason = (reason or "使用部门暂停 (paused by the consumer)").strip()[:200]
        sub.save(update_fields=["status", "paused_reason", "updated_at"])
        record_event(actor=actor, action="subscription.paused", target_type="subscription", target_id=str(sub.pk),
                     data={"reason": sub.paused_reason, "cursor": sub.cursor})
    return sub


def resume_subscription(*, actor: Any, subscription: Subscription) -> Subscription:
    """Deliver again from the cursor: failures are forgotten, the batch in flight (if any) is sent first, so
    nothing is lost and nothing is skipped."""
    _require_consumer_side(actor, subscription.consumer_id)
    check = usable_grant(subscription.grant_id)
    if check.refusal and check.permanent:
        raise Conflict(f"授权已终止或不再包含订阅，不能恢复: {check.refusal} (the grant no longer allows deliveries)",
                       details={"reason": check.refusal})
    with transaction.atomic():
        sub = _locked(subscription)
        sub.status = _transition(sub, SubscriptionAction.RESUME)
        sub.paused_reason = ""
        sub.consecutive_failures = 0
        sub.next_attempt_at = timezone.now()
        sub.save(update_fields=["status", "paused_reason", "consecutive_failures", "next_attempt_at", "updated_at"])
        record_event(actor=actor, action="subscription.resumed", target_type="subscription", target_id=str(sub.pk),
                     data={"cursor": sub.cursor})
        periodic.kick_on_commit(JOB_NAME)
    return sub


def cancel_subscription(*, actor: Any, subscription: Subscription, reason: str = "") -> Subscription:
    _require_consumer_side(actor, subscription.consumer_id)
    with transaction.atomic():
        sub = _locked(subscription)
        sub.status = _transition(sub, SubscriptionAction.CANCEL)
        sub.in_flight = None
        sub.save(update_fields=["status", "in_flight", "updated_at"])
        record_event(actor=actor, action="subscription.cancelled", target_type="subscription",
                     target_id=str(sub.pk), data={"reason": (reason or "").strip()[:200], "cursor": sub.cursor})
    return sub


def rotate_secret(*, actor: Any, subscription: Subscription) -> Created:
    """A new webhook signing secret (shown once); the next batch is signed with it."""
    _require_consumer_side(actor, subscription.consumer_id)
    if subscription.kind != SubscriptionKind.WEBHOOK:
        raise ValidationFailed("只有 webhook 订阅有签名密钥 (only webhook subscriptions have a secret)", field="kind")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        sub = _locked(subscription)
        sub.status = _transition(sub, SubscriptionAction.ROTATE_SECRET)
        sub.secret_enc = encrypt_secret(secret, purpose=SECRET_PURPOSE)
        sub.save(update_fields=["secret_enc", "updated_at"])
        record_event(actor=actor, action="subscription.secret_rotated", target_type="subscription",
                     target_id=str(sub.pk), data={})
    return Created(subscription=sub, secret=secret)


# ---------------------------------------------------------------------------------------------------------------
# Start deliveries right after a commit
# ---------------------------------------------------------------------------------------------------------------


def on_changes_committed(dataset_id: Any) -> None:
    """Called after a change batch of ``dataset_id`` commits (:mod:`govshare.datasets.hooks`): make the delivery
    job due now and wake the workers, when an active subscription follows the dataset. Never raises."""
    try:
        if Subscription.objects.filter(dataset_id=dataset_id, status=SubscriptionStatus.ACTIVE).exists():
            periodic.kick(JOB_NAME)
    except Exception:  # the cursor is durable: the job's next scheduled run catches up
        log.exception("subscriptions: could not kick the delivery job for dataset %s", dataset_id)
