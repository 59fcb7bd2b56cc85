"""Portal pages of the licences app (电子证照): the window clerk's 一号申请 page (窗口受理), licence verification
(证照验证) and the 用证记录 list. Thin: reads through :mod:`govshare.licences.selectors`, every lookup, check and
verification through the services, which write the 用证记录 and the audit events (with the holder's key HMAC).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from govshare.accounts.choices import Role
from govshare.core.errors import DomainError, TooManyRequests
from govshare.core.identifiers import is_valid_resident_id, resident_id_birth_date, resident_id_gender
from govshare.exchange.services import window as window_service
from govshare.licences import selectors
from govshare.licences.choices import UseChannel, VerifyStatus
from govshare.licences.forms import VerifyForm, WindowLookupForm
from govshare.licences.services import items, lookup
from govshare.licences.services import verify as verifying
from govshare.portal import pages

WINDOW_ROLES = (Role.WINDOW_CLERK,)
USE_ROLES = (Role.DATA_OFFICE, Role.AUDIT_ADMIN, Role.WINDOW_CLERK)


def _today_start() -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time.min))


def _used_today(user: Any) -> int:
    """The clerk's window lookups today (the same count the lookup service holds against the quota)."""
    return (selectors.uses_visible_to(user)
            .filter(channel=UseChannel.WINDOW, created_at__gte=_today_start()).count())


def _facts(holder_id: str, found: lookup.Lookup) -> list[tuple[str, str]]:
    """What the window may rely on: the identifier's own checked facts, and the holder name as signed on
    every valid licence in the library (tampered licences never reach here)."""
    names = sorted({lic.holder_name for lic in found.licences})
    facts: list[tuple[str, str]] = []
    if is_valid_resident_id(holder_id):
        facts.append((_("证件类型"), _("公民身份号码（校验通过）")))
        facts.append((_("证件号码"), holder_id))
        facts.append((_("出生日期"), resident_id_birth_date(holder_id).isoformat()))
        facts.append((_("性别"), _("男") if resident_id_gender(holder_id) == "male" else _("女")))
    else:
        facts.append((_("证件类型"), _("统一社会信用代码（校验通过）")))
        facts.append((_("证件号码"), holder_id))
    facts.append((_("持证主体名称（据已验签电子证照）"), "、".join(names) if names else _("库中无有效证照")))
    facts.append((_("有效电子证照"), str(len(found.licences))))
    return facts


def _next_query(request: HttpRequest, page: pages.Page) -> str:
    if not page.next_after:
        return ""
    query = request.GET.copy()
    query["after"] = page.next_after
    query.pop("format", None)
    return query.urlencode()


@pages.role_required(*WINDOW_ROLES)
@require_http_methods(["GET", "POST"])
def window(request: HttpRequest) -> HttpResponse:
    """窗口受理: one 办件 — look the applicant up (用证记录, quota), show the base-library facts the window
    system's grant allows, the licences and the materials."""
    user: Any = request.user
    form = WindowLookupForm(request.POST if request.method == "POST" else None, items=selectors.items_visible_to(user))
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST" and form.is_valid():
        holder_id = form.cleaned_data["holder"]
        item = form.cleaned_data["item"]
        kind = "person" if is_valid_resident_id(holder_id) else "company"
        try:
            # one 办件 look-up: licences (用证记录, quota) and the base-library facts under the window grant
            base = window_service.window_facts(actor=user, case_number=form.cleaned_data["case_number"],
                                               item_code=item.code, holder_kind=kind, holder_key=holder_id)
            found = base.lookup
            materials = items.check_materials(actor=user, item_code=item.code, holder=holder_id)
        except TooManyRequests as exc:
            status = 429
            context["quota_error"] = _("今日查询次数已达上限（%(quota)s 次），本次未查询。请明日再办理，"
                                       "或请本部门管理员联系数据主管部门调整限额。") % {
                "quota": exc.details.get("quota", lookup.clerk_daily_quota())}
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            context.update(item=item, use=found.use, licences=found.licences, materials=materials,
                           waived=sum(1 for m in materials if m.waived), facts=_facts(holder_id, found),
                           base=base)
    context.update(used=_used_today(user), quota=lookup.clerk_daily_quota())
    return render(request, "licences/window.html", context, status=status)


@pages.role_required()
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """证照验证: valid / revoked / expired / tampered, for any signed-in user (audited by the service)."""
    form = VerifyForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            result = verifying.verify_number(actor=request.user, number=form.cleaned_data["number"],
                                             presented=form.cleaned_data["payload"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            context.update(result=result, status_label=VerifyStatus(result.status).label,
                           reason_label=REASONS.get(result.reason, result.reason),
                           intact=result.status != VerifyStatus.TAMPERED)
    return render(request, "licences/verify.html", context)


REASONS = {
    "signature": gettext_lazy("证照内容与签名不符"),
    "holder_index": gettext_lazy("持证主体索引与证照不符"),
    "holder": gettext_lazy("持证主体信息无法还原"),
    "key_certification": gettext_lazy("签名密钥未通过节点认证"),
    "key_window": gettext_lazy("签发时间不在签名密钥有效期内"),
    "presented": gettext_lazy("所出示的证照数据与签名内容不一致"),
}


def _use_columns() -> list[pages.Column]:
    return [
        pages.Column("created_at", _("时间"), lambda u: timezone.localtime(u.created_at).strftime("%Y-%m-%d %H:%M:%S")),
        pages.Column("case_number", _("办件编号")),
        pages.Column("item_code", _("事项编码")),
        pages.Column("channel", _("渠道"), lambda u: u.get_channel_display()),
        pages.Column("actor_label", _("查询方")),
        pages.Column("operator", _("经办人")),
        pages.Column("licence_count", _("返回证照数")),
    ]


@pages.role_required(*USE_ROLES)
@require_http_methods(["GET"])
def uses(request: HttpRequest) -> HttpResponse:
    """用证记录: the node's (data office, audit administrator) or a window clerk's own; CSV/JSON export."""
    qs = selectors.uses_visible_to(request.user).annotate(licence_count=Count("licences"))
    case_number = (request.GET.get("case_number") or "").strip()[:64]
    if case_number:
        qs = qs.filter(case_number=case_number)
    columns = _use_columns()
    if request.GET.get("format") in ("csv", "json"):
        exported = pages.listing(request, qs.order_by("-created_at", "-pk"), columns=columns, filename="licence-uses")
        assert isinstance(exported, HttpResponse)
        return exported
    page = pages.keyset(request, qs, columns=columns, ordering=["-created_at"],
                        scope=f"portal-licence-uses:{case_number}")
    return render(request, "licences/uses.html", {"page": page, "rows": page.cells(), "case_number": case_number,
                                                  "next_query": _next_query(request, page)})
