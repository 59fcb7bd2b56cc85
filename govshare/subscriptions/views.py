"""Portal pages of subscriptions (订阅): the list (push subscriptions and the grants to pull with), create (the
webhook secret shown once), detail with the delivery log, edit, pause / resume / cancel / rotate the secret.

Reads through :mod:`.selectors` / :mod:`.selectors_pages`, writes through :mod:`.services`."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.core.errors import DomainError, NotFound
from govshare.portal import pages
from govshare.portal.pages import Column
from govshare.subscriptions import selectors, selectors_pages, services
from govshare.subscriptions.choices import SubscriptionKind, SubscriptionStatus
from govshare.subscriptions.forms import ReasonForm, SubscriptionEditForm, SubscriptionForm
from govshare.subscriptions.models import Subscription


def _(text: str) -> str:
    """``gettext_lazy`` typed as ``str``: ``pages.Column.label`` is typed ``str``, but a label renders and exports
    as text and must be translated per request (drop this once Column.label accepts ``str | Promise``)."""
    return cast(str, gettext_lazy(text))


READERS = (Role.CONSUMER, Role.DEPT_ADMIN, Role.PROVIDER, Role.DATA_OFFICE, Role.SEC_ADMIN, Role.AUDIT_ADMIN)
MANAGERS = (Role.CONSUMER, Role.DEPT_ADMIN)

DELIVERY_COLUMNS = [
    Column("created_at", _("时间")), Column("status", _("结果"), lambda d: d.get_status_display()),
    Column("snapshot", _("初始数据"), lambda d: _("是") if d.snapshot else _("否")),
    Column("first_seq", _("起始序号")), Column("last_seq", _("结束序号")), Column("count", _("条数")),
    Column("attempt", _("第几次尝试")), Column("duration_ms", _("耗时(毫秒)")), Column("error", _("错误")),
]


def _visible(request: HttpRequest, subscription_id: Any) -> Subscription:
    try:
        return selectors.visible_subscription(request.user, subscription_id)
    except NotFound:
        raise Http404 from None


def _newest_first(request: HttpRequest, qs: Any, *, columns: list[Column], filename: str
                  ) -> pages.Page | HttpResponse:
    """Like :func:`pages.listing` for a log read newest first: ``?after=<id>`` continues below that id."""
    if request.GET.get("format") in ("csv", "json"):
        return pages.listing(request, qs.order_by("-pk"), columns=columns, filename=filename)
    after = request.GET.get("after", "")
    if after.isdigit():
        qs = qs.filter(pk__lt=int(after))
    got = list(qs.order_by("-pk")[: pages.PAGE_SIZE + 1])
    more = len(got) > pages.PAGE_SIZE
    got = got[: pages.PAGE_SIZE]
    return pages.Page(got, str(got[-1].pk) if more and got else None, columns)


@pages.role_required(*READERS)
def subscription_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.subscriptions_visible_to(request.user)
    status = request.GET.get("status", "")
    if status in SubscriptionStatus.values:
        qs = qs.filter(status=status)
    columns = [
        Column("name", _("名称")), Column("grant.resource.name", _("信息资源")),
        Column("kind", _("方式"), lambda s: s.get_kind_display()),
        Column("status", _("状态"), lambda s: s.get_status_display()),
        Column("cursor", _("已投递至序号")), Column("dataset.last_seq", _("最新序号")),
        Column("consecutive_failures", _("连续失败")), Column("paused_reason", _("暂停原因")),
        Column("last_delivered_at", _("最近投递")), Column("consumer.name", _("使用部门")),
    ]
    page = pages.listing(request, qs.order_by("pk"), columns=columns, filename="subscriptions")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "subscriptions/list.html", {
        "page": page, "status": status, "statuses": SubscriptionStatus.choices,
        "pulls": selectors_pages.pull_grants(request.user),
        "may_create": services.is_consumer_side(request.user, getattr(request.user, "department_id", None)),
    })


def _secret_page(request: HttpRequest, sub: Subscription, secret: str | None) -> HttpResponse:
    """The webhook secret, shown in this one answer only (never stored in clear, never shown again)."""
    response = render(request, "subscriptions/secret.html", {"sub": sub, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@pages.role_required(*MANAGERS)
@require_http_methods(["GET", "POST"])
def subscription_create(request: HttpRequest) -> HttpResponse:
    grants = selectors_pages.grants_for_new_subscription(request.user)
    initial = {"grant_id": request.GET.get("grant", "")}
    form = SubscriptionForm(request.POST or None, grants=grants, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.create_subscription(
                actor=request.user, grant=form.grant(), name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"], url=form.cleaned_data["url"], sink=form.sink(),
                batch_size=form.cleaned_data["batch_size"], initial_data=form.cleaned_data["initial_data"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            sub = selectors.visible_subscription(request.user, created.subscription.pk)
            if created.secret:
                return _secret_page(request, sub, created.secret)
            messages.success(request, _("订阅已创建"))
            return redirect("subscriptions:detail", subscription_id=sub.pk)
    return render(request, "subscriptions/form.html", {"form": form, "grants": grants, "title": _("新建订阅")})


@pages.role_required(*READERS)
def subscription_detail(request: HttpRequest, subscription_id: Any) -> HttpResponse:
    sub = _visible(request, subscription_id)
    page = _newest_first(request, selectors.deliveries_of(sub), columns=DELIVERY_COLUMNS,
                         filename=f"subscription-{sub.pk}-deliveries")
    if isinstance(page, HttpResponse):
        return page
    out = selectors.subscription_out(sub)
    manage = services.is_consumer_side(request.user, sub.consumer_id)
    return render(request, "subscriptions/detail.html", {
        "sub": sub, "out": out, "page": page, "rows": page.cells(), "manage": manage,
        "actions": out["allowed_actions"] if manage else [], "reason_form": ReasonForm(),
    })


@pages.role_required(*MANAGERS)
@require_http_methods(["GET", "POST"])
def subscription_edit(request: HttpRequest, subscription_id: Any) -> HttpResponse:
    sub = _visible(request, subscription_id)
    webhook = sub.kind == SubscriptionKind.WEBHOOK
    initial = {"name": sub.name, "batch_size": sub.batch_size, "url": sub.url}
    form = SubscriptionEditForm(request.POST or None, webhook=webhook, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.update_subscription(actor=request.user, subscription=sub, name=d["name"],
                                         batch_size=d["batch_size"], url=d["url"] if webhook else None)
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("订阅已修改"))
            return redirect("subscriptions:detail", subscription_id=sub.pk)
    return render(request, "subscriptions/form.html", {"form": form, "sub": sub, "title": _("修改订阅")})


@pages.role_required(*MANAGERS)
@require_POST
def subscription_action(request: HttpRequest, subscription_id: Any, action: str) -> HttpResponse:
    sub = _visible(request, subscription_id)
    reason = request.POST.get("reason", "")
    try:
        if action == "pause":
            services.pause_subscription(actor=request.user, subscription=sub, reason=str(reason)[:200])
            messages.success(request, _("订阅已暂停"))
        elif action == "resume":
            services.resume_subscription(actor=request.user, subscription=sub)
            messages.success(request, _("订阅已恢复，从已投递序号继续投递"))
        elif action == "cancel":
            services.cancel_subscription(actor=request.user, subscription=sub, reason=str(reason)[:200])
            messages.success(request, _("订阅已取消"))
        elif action == "rotate_secret":
            created = services.rotate_secret(actor=request.user, subscription=sub)
            return _secret_page(request, _visible(request, sub.pk), created.secret)
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("subscriptions:detail", subscription_id=sub.pk)

