"""Permission-checked reads of subscriptions and their deliveries.

Visible like the grant (:func:`govshare.exchange.selectors.grants_visible_to`): the department users
(consumer, provider, department administrator) of the grant's consuming and providing departments (the provider
sees who receives its data), and the node's data office, security and audit administrators. Everyone else gets
404, as for a missing subscription. Only the consumer department's consumer staff and administrator manage a
subscription (:func:`govshare.subscriptions.services.is_consumer_side`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from govshare.accounts.choices import Role
from govshare.core.errors import NotFound
from govshare.subscriptions import workflow
from govshare.subscriptions.models import Delivery, Subscription
from govshare.subscriptions.services import destination

NODE_READERS = frozenset({Role.DATA_OFFICE, Role.SEC_ADMIN, Role.AUDIT_ADMIN})


def subscriptions_visible_to(user: Any) -> QuerySet[Subscription]:
    qs = Subscription.objects.select_related("grant__resource", "dataset", "consumer")
    role = getattr(user, "role", None)
    if role in NODE_READERS and getattr(user, "node_id", None):
        return qs.filter(node_id=user.node_id)
    dept = getattr(user, "department_id", None)
    if role in (Role.CONSUMER, Role.DEPT_ADMIN, Role.PROVIDER) and dept:
        return qs.filter(Q(consumer_id=dept) | Q(grant__provider_id=dept))
    return qs.none()


def visible_subscription(user: Any, subscription_id: Any) -> Subscription:
    sub = subscriptions_visible_to(user).filter(pk=subscription_id).first()
    if sub is None:
        raise NotFound("订阅不存在 (subscription not found)")
    return sub


def deliveries_of(sub: Subscription) -> QuerySet[Delivery]:
    """The delivery log of a subscription the caller can already see (use :func:`visible_subscription`)."""
    return Delivery.objects.filter(subscription=sub)


def lag_of(sub: Subscription) -> dict[str, Any]:
    latest = int(sub.dataset.last_seq)
    return {"subscription_id": sub.pk, "status": sub.status, "cursor": sub.cursor, "latest_seq": latest,
            "lag": max(0, latest - sub.cursor), "snapshot_state": sub.snapshot_state,
            "in_flight": sub.in_flight is not None, "consecutive_failures": sub.consecutive_failures,
            "next_attempt_at": sub.next_attempt_at, "last_delivered_at": sub.last_delivered_at,
            "last_error": sub.last_error}


def subscription_out(sub: Subscription) -> dict[str, Any]:
    g = sub.grant
    return {
        "id": sub.pk, "name": sub.name, "kind": sub.kind, "status": sub.status,
        "status_label": sub.get_status_display(), "grant_id": sub.grant_id, "resource_code": g.resource.code,
        "resource_name": g.resource.name, "consumer_id": sub.consumer_id, "consumer_name": sub.consumer.name,
        "destination": destination(sub), "url": sub.url, "engine": sub.sink_engine, "host": sub.sink_host,
        "port": sub.sink_port, "database": sub.sink_database, "user": sub.sink_user, "table": sub.sink_table,
        "key_column": sub.sink_key_column, "batch_size": sub.batch_size, "paused_reason": sub.paused_reason,
        "created_at": sub.created_at, "allowed_actions": [a for a in workflow.allowed_actions(sub.status)
                            if a != "rotate_secret" or sub.kind == "webhook"], **lag_of(sub),
    }
