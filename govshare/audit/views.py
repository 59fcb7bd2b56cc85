"""Portal pages of the audit app (审计管理员 only): the audit log with filters and CSV/JSON export, "who looked
up this person" (谁查询过此人, one indexed search on the key HMAC — the number is never stored), and the chain
status with the sealed blocks and a verification run.

Reads through :mod:`govshare.audit.selectors` (and :mod:`govshare.audit.selectors_pages`); the auditor's own
actions are audited like the API's: ``audit.events.export``, ``audit.lookups``, ``audit.verify``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from govshare.accounts.choices import Role
from govshare.audit import selectors, selectors_pages
from govshare.audit.choices import Result
from govshare.audit.models import AuditEvent
from govshare.audit.services import audit_key_hmac, record_event
from govshare.core.api import paginate
from govshare.core.crypto.errors import CryptoError, InvalidKeyError
from govshare.core.errors import ValidationFailed
from govshare.core.identifiers import IdentifierError, validate_resident_id, validate_uscc
from govshare.portal import pages

AUDITOR = (Role.AUDIT_ADMIN,)
LOOKUP_LIMIT = 500
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class EventFilterForm(forms.Form):
    occurred_from = forms.DateTimeField(label=gettext_lazy("起始时间（含）"), required=False,
                                        input_formats=DATETIME_FORMATS,
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    occurred_to = forms.DateTimeField(label=gettext_lazy("截止时间（不含）"), required=False,
                                      input_formats=DATETIME_FORMATS,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    actor = forms.CharField(label=gettext_lazy("主体"), required=False, max_length=200,
                            help_text=gettext_lazy("用户名、信息系统名称或主体 ID"))
    action = forms.CharField(label=gettext_lazy("操作"), required=False, max_length=80,
                             help_text=gettext_lazy("如 licences.holder_lookup；以 . 或 * 结尾按前缀匹配，"
                                                    "如 exchange."))
    target_type = forms.CharField(label=gettext_lazy("对象类型"), required=False, max_length=64)
    target_id = forms.CharField(label=gettext_lazy("对象 ID"), required=False, max_length=128)
    result = forms.ChoiceField(label=gettext_lazy("结果"), required=False,
                               choices=[("", gettext_lazy("全部")), *Result.choices])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("occurred_from"), cleaned.get("occurred_to")
        if start and end and end <= start:
            self.add_error("occurred_to", _("截止时间须晚于起始时间"))
        return cleaned

    def filters(self) -> selectors.EventFilter:
        c = self.cleaned_data
        return selectors.EventFilter(action=c.get("action") or None, actor=c.get("actor") or None,
                                     target_type=c.get("target_type") or None, target_id=c.get("target_id") or None,
                                     result=c.get("result") or None, occurred_from=c.get("occurred_from"),
                                     occurred_to=c.get("occurred_to"))


class LookupForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("身份证号 / 统一社会信用代码"), max_length=32,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                              help_text=gettext_lazy("按号码的 HMAC 检索，号码本身不落库；本次检索也记入审计日志"))

    def clean_subject(self) -> str:
        value = self.cleaned_data["subject"]
        try:
            return validate_resident_id(value)
        except IdentifierError as person_error:
            try:
                return validate_uscc(value)
            except IdentifierError:
                raise forms.ValidationError(_("证件号码无效：%(reason)s"), code="identifier",
                                            params={"reason": person_error.message}) from None


class VerifyChainForm(forms.Form):
    pinned_key = forms.CharField(label=gettext_lazy("固定公钥（可选）"), required=False, max_length=200,
                                 widget=forms.TextInput(attrs={"spellcheck": "false"}),
                                 help_text=gettext_lazy("节点 SM2 公钥（130 位十六进制，以 04 开头）；"
                                                        "不填则使用数据库中的公钥"))


def _local(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def _event_columns(sealed_to: int) -> list[pages.Column]:
    return [
        pages.Column("seq", _("序号")),
        pages.Column("occurred_at", _("时间"), lambda e: _local(e.occurred_at)),
        pages.Column("actor_label", _("主体")),
        pages.Column("actor_role", _("角色")),
        pages.Column("node_code", _("节点")),
        pages.Column("action", _("操作")),
        pages.Column("target", _("对象"), lambda e: f"{e.target_type}:{e.target_id}" if e.target_type else e.target_id),
        pages.Column("result", _("结果"), lambda e: e.get_result_display()),
        pages.Column("client_ip", _("来源地址")),
        pages.Column("data", _("详情"), lambda e: json.dumps(e.data, ensure_ascii=False, sort_keys=True,
                                                             cls=DjangoJSONEncoder)),
        pages.Column("sealed", _("已封存"), lambda e: _("是") if e.seq <= sealed_to else _("否")),
    ]


def _next_query(request: HttpRequest, nxt: str | None) -> str:
    if not nxt:
        return ""
    query = request.GET.copy()
    query["after"] = nxt
    query.pop("format", None)
    return query.urlencode()


@pages.role_required(*AUDITOR)
@require_http_methods(["GET"])
def events(request: HttpRequest) -> HttpResponse:
    """审计日志: newest first, filters, CSV/JSON export (the export is itself audited)."""
    user: Any = request.user
    params = request.GET.copy()
    for name in ("after", "format"):
        params.pop(name, None)
    form = EventFilterForm(params or None)
    filters = form.filters() if form.is_bound and form.is_valid() else selectors.EventFilter()
    qs = selectors.events_for(user, filters)
    if form.is_bound and not form.is_valid():
        qs = qs.none()
    sealed_to = selectors.last_sealed_seq()
    columns = _event_columns(sealed_to)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "json"):
        with transaction.atomic():
            record_event(actor=user, action="audit.events.export", target_type="audit_events",
                         data={"format": fmt, "source": "portal",
                               "filters": {k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                                           for k, v in filters.__dict__.items() if v}})
        exported = pages.listing(request, qs.order_by("-seq"), columns=columns, filename="audit-events")
        assert isinstance(exported, HttpResponse)
        return exported
    try:
        rows, nxt = paginate(qs, cursor=request.GET.get("after") or None, limit=pages.PAGE_SIZE, ordering=["-seq"],
                             scope="portal-audit-events")
    except ValidationFailed:
        rows, nxt = paginate(qs, cursor=None, limit=pages.PAGE_SIZE, ordering=["-seq"], scope="portal-audit-events")
    page = pages.Page(rows, nxt, columns)
    return render(request, "audit/events.html", {"form": form, "page": page, "rows": page.cells(),
                                                 "next_query": _next_query(request, nxt)})


@pages.role_required(*AUDITOR)
@require_http_methods(["GET", "POST"])
def lookups(request: HttpRequest) -> HttpResponse:
    """谁查询过此人: the events whose looked-up keys include this 身份证号 / 统一社会信用代码 (POST: the number
    stays out of URLs and web-server logs)."""
    user: Any = request.user
    form = LookupForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        subject = form.cleaned_data["subject"]
        key_hmac = audit_key_hmac(subject)
        found: list[AuditEvent] = list(selectors.lookups_of(user, subject).order_by("-seq")[:LOOKUP_LIMIT + 1])
        truncated = len(found) > LOOKUP_LIMIT
        found = found[:LOOKUP_LIMIT]
        with transaction.atomic():
            record_event(actor=user, action="audit.lookups",
                         target_type="person" if _is_person(subject) else "company",
                         data={"key_hmacs": [key_hmac], "found": len(found), "source": "portal"})
        columns = _event_columns(selectors.last_sealed_seq())
        page = pages.Page(found, None, columns)
        context.update(page=page, rows=page.cells(), searched=True, truncated=truncated, limit=LOOKUP_LIMIT)
    return render(request, "audit/lookups.html", context)


def _is_person(value: str) -> bool:
    try:
        validate_resident_id(value)
    except IdentifierError:
        return False
    return True


@pages.role_required(*AUDITOR)
@require_http_methods(["GET", "POST"])
def chain(request: HttpRequest) -> HttpResponse:
    """审计链状态: sealed range, unsealed tail, node key, last verification (with its problems), the blocks
    (CSV/JSON export); POST runs a verification now (recorded and audited as ``audit.verify``)."""
    user: Any = request.user
    form = VerifyChainForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        from govshare.audit.verify import record_run, verify_chain

        pinned = (form.cleaned_data.get("pinned_key") or "").strip()
        started = timezone.now()
        try:
            report = verify_chain(pinned_keys=[pinned] if pinned else None)
        except (InvalidKeyError, CryptoError, ValueError) as exc:
            form.add_error("pinned_key", _("公钥无效：%(reason)s") % {"reason": exc})
        else:
            record_run(report, actor=user, started_at=started)
            if report.ok:
                messages.success(request, _("审计链校验通过：已校验 %(n)s 条事件。") % {"n": report.events_checked})
            else:
                messages.error(request, _("审计链校验发现 %(n)s 个问题，第一个异常事件序号：%(seq)s。")
                               % {"n": report.problem_count, "seq": report.first_bad_seq or "—"})
            return redirect("audit:chain")
    state = selectors.chain_status(user)
    last = state["last_verification"]
    summary = selectors_pages.verification_summary(user, last["id"]) if last else {}
    columns = [
        pages.Column("number", _("区块")),
        pages.Column("first_seq", _("起始序号")),
        pages.Column("last_seq", _("截止序号")),
        pages.Column("count", _("事件数")),
        pages.Column("gaps", _("空号"), lambda b: "、".join(f"{g[0]}–{g[1]}" if g[0] != g[1] else str(g[0])
                                                           for g in (b.gaps or []))),
        pages.Column("head", _("链头（SM3）")),
        pages.Column("key_id", _("签名密钥")),
        pages.Column("created_at", _("封存时间"), lambda b: _local(b.created_at)),
    ]
    listed = pages.listing(request, selectors_pages.blocks_for(user), columns=columns, filename="audit-blocks",
                           cursor="number")
    if isinstance(listed, HttpResponse):
        return listed
    return render(request, "audit/chain.html", {
        "form": form, "state": state, "last": last, "summary": summary, "page": listed, "rows": listed.cells(),
        "next_query": _next_query(request, listed.next_after)})
