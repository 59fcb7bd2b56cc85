"""REST API of the subscriptions app (mounted at /api/v1/subscriptions): push subscriptions of a consumer
department to its own grants (webhook or table sink), their state, delivery log and lag.

The pull itself is on the data plane (``GET /dp/v1/changes``, signed), not here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Router, Schema, Status

from govshare.core.api import Page, paginate
from govshare.core.errors import ValidationFailed
from govshare.core.exports import neutralise_text
from govshare.exchange.selectors import grants_visible_to
from govshare.subscriptions import selectors, services
from govshare.subscriptions.models import Delivery

router = Router(tags=["subscriptions 订阅与库表交换"])

EXPORT_MAX_ROWS = 10_000


class SinkFields(Schema):
    engine: str | None = None
    host: str = ""
    port: int | None = Field(None, ge=1, le=65535)
    database: str | None = None
    user: str = ""
    password: str = ""
    table: str | None = None
    key_column: str | None = None


class SubscriptionIn(SinkFields):
    grant_id: uuid.UUID
    name: str
    kind: str
    url: str = ""
    batch_size: int | None = Field(None, ge=1, le=100_000)
    initial_data: bool = True


class SubscriptionPatch(SinkFields):
    name: str | None = None
    batch_size: int | None = Field(None, ge=1, le=100_000)
    url: str | None = None


class SubscriptionReasonIn(Schema):
    reason: str = ""


class LagOut(Schema):
    subscription_id: uuid.UUID
    status: str
    cursor: int
    latest_seq: int
    lag: int
    snapshot_state: str
    in_flight: bool
    consecutive_failures: int
    next_attempt_at: dt.datetime
    last_delivered_at: dt.datetime | None
    last_error: str


class SubscriptionOut(LagOut):
    id: uuid.UUID
    name: str
    kind: str
    status_label: str
    grant_id: uuid.UUID
    resource_code: str
    resource_name: str
    consumer_id: uuid.UUID
    consumer_name: str
    destination: str
    url: str
    engine: str
    host: str
    port: int | None
    database: str
    user: str
    table: str
    key_column: str
    batch_size: int
    paused_reason: str
    created_at: dt.datetime
    allowed_actions: list[str]


class CreatedOut(SubscriptionOut):
    secret: str | None = Field(None, description="the webhook signing secret: shown once, store it now")


class DeliveryOut(Schema):
    id: int
    snapshot: bool
    first_seq: int
    last_seq: int
    count: int
    status: str
    attempt: int
    duration_ms: int
    error: str
    created_at: dt.datetime


def _sink(payload: SinkFields, *, required: bool) -> services.SinkSpec | None:
    given = payload.engine is not None or payload.database is not None or payload.table is not None
    if not given and not required:
        return None
    for name in ("engine", "database", "table", "key_column"):
        if not getattr(payload, name):
            raise ValidationFailed(f"库表推送须填写 {name} ({name} is required for a table sink)", field=name)
    return services.SinkSpec(engine=str(payload.engine), host=payload.host, port=payload.port,
                             database=str(payload.database), user=payload.user, password=payload.password,
                             table=str(payload.table), key_column=str(payload.key_column))


@router.get("", response=Page[SubscriptionOut], summary="订阅列表 (subscriptions the caller can see)")
def list_subscriptions(request: HttpRequest, status: str | None = None, grant_id: uuid.UUID | None = None,
                       cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    qs = selectors.subscriptions_visible_to(request.user)
    if status:
        qs = qs.filter(status=status)
    if grant_id:
        qs = qs.filter(grant_id=grant_id)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"],
                         scope=f"subscriptions:{status}:{grant_id}")
    return {"items": [selectors.subscription_out(s) for s in rows], "next_cursor": nxt}


@router.post("", response={201: CreatedOut}, summary="新建订阅 (webhook or table sink)")
def create_subscription(request: HttpRequest, payload: SubscriptionIn) -> Status[dict[str, Any]]:
    grant = grants_visible_to(request.user).filter(pk=payload.grant_id).first()
    if grant is None:
        raise ValidationFailed("授权不存在 (grant not found)", field="grant_id")
    sink = _sink(payload, required=True) if payload.kind == "table" else None
    created = services.create_subscription(
        actor=request.user, grant=grant, name=payload.name, kind=payload.kind, url=payload.url, sink=sink,
        batch_size=payload.batch_size, initial_data=payload.initial_data)
    sub = selectors.visible_subscription(request.user, created.subscription.pk)
    return Status(201, {**selectors.subscription_out(sub), "secret": created.secret})


@router.get("/{subscription_id}", response=SubscriptionOut)
def get_subscription(request: HttpRequest, subscription_id: uuid.UUID) -> dict[str, Any]:
    return selectors.subscription_out(selectors.visible_subscription(request.user, subscription_id))


@router.patch("/{subscription_id}", response=SubscriptionOut, summary="修改名称、批量大小、URL 或目标库")
def update_subscription(request: HttpRequest, subscription_id: uuid.UUID, payload: SubscriptionPatch
                        ) -> dict[str, Any]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    services.update_subscription(actor=request.user, subscription=sub, name=payload.name,
                                 batch_size=payload.batch_size, url=payload.url, sink=_sink(payload, required=False))
    return selectors.subscription_out(selectors.visible_subscription(request.user, subscription_id))


@router.post("/{subscription_id}/pause", response=SubscriptionOut)
def pause(request: HttpRequest, subscription_id: uuid.UUID, payload: SubscriptionReasonIn) -> dict[str, Any]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    services.pause_subscription(actor=request.user, subscription=sub, reason=payload.reason)
    return selectors.subscription_out(selectors.visible_subscription(request.user, subscription_id))


@router.post("/{subscription_id}/resume", response=SubscriptionOut, summary="恢复投递 (from the cursor)")
def resume(request: HttpRequest, subscription_id: uuid.UUID) -> dict[str, Any]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    services.resume_subscription(actor=request.user, subscription=sub)
    return selectors.subscription_out(selectors.visible_subscription(request.user, subscription_id))


@router.post("/{subscription_id}/cancel", response=SubscriptionOut)
def cancel(request: HttpRequest, subscription_id: uuid.UUID, payload: SubscriptionReasonIn) -> dict[str, Any]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    services.cancel_subscription(actor=request.user, subscription=sub, reason=payload.reason)
    return selectors.subscription_out(selectors.visible_subscription(request.user, subscription_id))


@router.post("/{subscription_id}/rotate-secret", response=CreatedOut, summary="更换 webhook 签名密钥 (shown once)")
def rotate_secret(request: HttpRequest, subscription_id: uuid.UUID) -> dict[str, Any]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    created = services.rotate_secret(actor=request.user, subscription=sub)
    return {**selectors.subscription_out(selectors.visible_subscription(request.user, subscription_id)),
            "secret": created.secret}


@router.get("/{subscription_id}/lag", response=LagOut, summary="积压 (latest_seq − cursor)")
def lag(request: HttpRequest, subscription_id: uuid.UUID) -> dict[str, Any]:
    return selectors.lag_of(selectors.visible_subscription(request.user, subscription_id))


@router.get("/{subscription_id}/deliveries", response=Page[DeliveryOut], summary="投递记录 (newest first)")
def list_deliveries(request: HttpRequest, subscription_id: uuid.UUID, status: str | None = None,
                    cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    qs = selectors.deliveries_of(sub)
    if status:
        qs = qs.filter(status=status)
    rows, nxt = paginate(qs, cursor=cursor, limit=limit, ordering=["-created_at"],
                         scope=f"deliveries:{subscription_id}:{status}")
    return {"items": rows, "next_cursor": nxt}


CSV_COLUMNS = [("created_at", "时间"), ("status", "结果"), ("snapshot", "初始数据"), ("first_seq", "起始序号"),
               ("last_seq", "结束序号"), ("count", "条数"), ("attempt", "第几次尝试"), ("duration_ms", "耗时(毫秒)"),
               ("error", "错误")]


def _export(request: HttpRequest, subscription_id: uuid.UUID) -> tuple[Iterator[Delivery], str]:
    sub = selectors.visible_subscription(request.user, subscription_id)
    rows = selectors.deliveries_of(sub).order_by("-created_at", "-pk")[:EXPORT_MAX_ROWS].iterator(chunk_size=2000)
    return rows, f"subscription-{sub.pk}-deliveries"


def _download(body: Iterator[bytes], content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/{subscription_id}/deliveries.csv", summary="投递记录下载 (CSV)",
            description=f"Newest first, at most {EXPORT_MAX_ROWS} rows.")
def deliveries_csv(request: HttpRequest, subscription_id: uuid.UUID) -> StreamingHttpResponse:
    rows, name = _export(request, subscription_id)

    def body() -> Iterator[bytes]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([f"{zh} ({en})" for en, zh in CSV_COLUMNS])
        yield buf.getvalue().encode("utf-8-sig")
        for d in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow([neutralise_text(d.created_at.isoformat() if en == "created_at" else getattr(d, en))
                             for en, _ in CSV_COLUMNS])
            yield buf.getvalue().encode("utf-8")

    return _download(body(), "text/csv; charset=utf-8", f"{name}.csv")


@router.get("/{subscription_id}/deliveries.json", summary="投递记录下载 (JSON)",
            description=f"Newest first, at most {EXPORT_MAX_ROWS} rows.")
def deliveries_json(request: HttpRequest, subscription_id: uuid.UUID) -> StreamingHttpResponse:
    rows, name = _export(request, subscription_id)

    def body() -> Iterator[bytes]:
        yield b'{"items":['
        for i, d in enumerate(rows):
            item = {en: getattr(d, en) for en, _ in [("id", ""), *CSV_COLUMNS]}
            yield (b"," if i else b"") + json.dumps(item, cls=DjangoJSONEncoder, ensure_ascii=False).encode("utf-8")
        yield b"]}"

    return _download(body(), "application/json; charset=utf-8", f"{name}.json")
