"""Portal pages of data quality (数据质量) and disputes (疑义数据).

Quality: scores per dataset and per department, a dataset's quality (failures per item and rule, recent runs,
"check again"), its failing-rows report (不合格记录, CSV / JSON download, audited), and the rules list with create
and switch off / on. Disputes: the boxes (mine / inbox / node, escalated), raise from a grant, the detail with its
history and one form per allowed step — every step through ``services.disputes.act_on_dispute`` and so through
the transition table in :mod:`.workflow`.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.audit.services import record_event
from govshare.catalog.models import DataElement
from govshare.catalog.selectors import resources_visible_to
from govshare.core.errors import DomainError, NotFound, PermissionDenied
from govshare.portal import pages
from govshare.portal.pages import Column
from govshare.quality import selectors, selectors_pages
from govshare.quality.choices import DisputeAction, DisputeOrigin, DisputeStatus, RuleKind
from govshare.quality.forms import ActionTextForm, CorrectionForm, DisputeForm, RuleForm
from govshare.quality.models import Dispute, QualityState
from govshare.quality.services import disputes as dispute_services
from govshare.quality.services import rules as rule_services
from govshare.quality.services import runs as run_services
from govshare.quality.services.common import (
    is_consumer_side,
    is_data_office_of,
    is_provider_side,
    role_of,
    setting,
)


def _(text: str) -> str:
    """``gettext_lazy`` typed as ``str``: ``pages.Column.label`` is typed ``str``, but a label renders and exports
    as text and must be translated per request (drop this once Column.label accepts ``str | Promise``)."""
    return cast(str, gettext_lazy(text))


RULE_ROLES = (Role.DATA_OFFICE, Role.PROVIDER, Role.DEPT_ADMIN)
DISPUTE_ROLES = (Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE, Role.AUDIT_ADMIN)
# Steps that need a text, with the label of their text field.
TEXT_LABELS = {DisputeAction.REJECT: _("不予受理的理由"), DisputeAction.CONFIRM: _("核实说明"),
               DisputeAction.WITHDRAW: _("撤回说明（可选）"), DisputeAction.REOPEN: _("仍有异议的理由"),
               DisputeAction.ACCEPT: _("受理意见（可选）")}


def _or_404(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except NotFound:
        raise Http404 from None


def _pct(score: float | None) -> str:
    return "—" if score is None else f"{score * 100:.2f}%"


# ---------------------------------------------------------------------------------------------
# Scores, a dataset, failing rows
# ---------------------------------------------------------------------------------------------


@pages.role_required()
def scores(request: HttpRequest) -> HttpResponse:
    qs = selectors.dataset_scores(request.user).order_by("pk")
    columns = [Column("dataset.resource.code", _("信息资源代码")), Column("dataset.resource.name", _("信息资源")),
               Column("dataset.resource.provider.name", _("提供部门")),
               Column("score", _("质量得分"), lambda s: _pct(s.score)), Column("rows_total", _("记录数")),
               Column("rows_failing", _("不合格记录数")), Column("last_full_at", _("最近全量检查"))]
    page = pages.listing(request, qs, columns=columns, filename="quality-scores", cursor="pk")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "quality/scores.html", {
        "page": page, "departments": selectors.department_scores(request.user)})


@pages.role_required()
def dataset_quality(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _or_404(selectors.visible_dataset, request.user, dataset_id)
    user: Any = request.user
    state = QualityState.objects.filter(pk=dataset.pk).first()
    labels = selectors.column_labels(dataset)
    kinds = dict(RuleKind.choices)
    failures = [{**f, "column_label": labels.get(f["column_name"], f["column_name"]),
                 "kind_label": kinds.get(f["kind"], f["kind"])} for f in selectors.issue_summary(dataset)]
    overseer = is_provider_side(user, department_id=dataset.resource.provider_id) or is_data_office_of(
        user, dataset.node_id)
    return render(request, "quality/dataset.html", {
        "dataset": dataset, "q": selectors.state_out(state, dataset), "score": _pct(state.score if state else None),
        "failures": failures, "runs": list(selectors.runs_of(user, dataset)[:20]), "overseer": overseer,
    })


@pages.role_required(Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE)
@require_POST
def request_run(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _or_404(selectors.visible_dataset, request.user, dataset_id)
    user: Any = request.user
    if not (is_provider_side(user, department_id=dataset.resource.provider_id)
            or is_data_office_of(user, dataset.node_id)):
        return render(request, "portal/forbidden.html", status=403)
    run_services.request_full_run(actor=user, dataset=dataset)
    messages.success(request, _("已请求全量质量检查，后台任务将在几分钟内完成"))
    return redirect("quality:dataset", dataset_id=dataset.pk)


@pages.role_required(Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE)
def issues(request: HttpRequest, dataset_id: Any) -> HttpResponse:
    dataset = _or_404(selectors.visible_dataset, request.user, dataset_id)
    try:
        qs, masker = selectors.issues_of(request.user, dataset)
    except PermissionDenied:
        return render(request, "portal/forbidden.html", status=403)
    column, rule_key = request.GET.get("column", ""), request.GET.get("rule_key", "")
    if column:
        qs = qs.filter(column_name=column)
    if rule_key:
        qs = qs.filter(rule_key=rule_key)
    labels = selectors.column_labels(dataset)
    columns = [Column("record_key", _("记录主键"), lambda i: masker(i.record_key) if masker else i.record_key),
               Column("column_name", _("信息项"), lambda i: f"{labels.get(i.column_name, i.column_name)}"
                                                         f"（{i.column_name}）"),
               Column("rule_key", _("规则")), Column("kind", _("规则类型"), lambda i: i.get_kind_display()),
               Column("message", _("问题")), Column("found_at", _("发现时间"))]
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "json"):
        limit = setting("QUALITY_REPORT_MAX_ROWS")
        with transaction.atomic():  # the report carries record keys: the download is audited, like the API's
            record_event(actor=request.user, action="quality.issues_exported", target_type="dataset",
                         target_id=str(dataset.pk), data={"format": fmt, "rows": min(qs.count(), limit),
                                                          "masked": masker is not None, "via": "portal"})
        qs = qs.order_by("record_key", "column_name", "pk")[:limit]
    else:
        qs = qs.order_by("pk")
    page = pages.listing(request, qs, columns=columns, filename=f"quality-issues-{dataset.pk}")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "quality/issues.html", {"dataset": dataset, "page": page, "rows": page.cells(),
                                                   "masked": masker is not None})


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def _rule_resources(user: Any) -> list[tuple[str, str]]:
    node_id = getattr(user, "node_id", None)
    if node_id is None:
        return []
    qs = resources_visible_to(user).filter(node_id=node_id)
    if role_of(user) != Role.DATA_OFFICE:
        qs = qs.filter(provider_id=getattr(user, "department_id", None))
    return [(str(r.pk), f"{r.code} {r.name}") for r in qs.order_by("code")[:500]]


@pages.role_required(*RULE_ROLES)
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = RuleForm(request.POST or None, resources=_rule_resources(user))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        element = resource = None
        try:
            if d["element_code"]:
                element = DataElement.objects.filter(code=d["element_code"].strip()).first()
                if element is None:
                    raise NotFound("数据元不存在 (data element not found)", details={"field": "element_code"})
            if d["resource_id"]:
                resource = resources_visible_to(user).filter(pk=d["resource_id"]).first()
            rule_services.create_rule(actor=user, kind=d["kind"], params=d["params"], element=element,
                                      resource=resource, column=d["column"], message=d["message"])
        except DomainError as exc:
            field = str(exc.details.get("field") or "")
            if field.startswith("params."):
                exc.details["field"] = "params"
            pages.form_error(form, exc)
        else:
            messages.success(request, _("质量规则已创建，受影响的数据集将重新全量检查"))
            return redirect("quality:rules")
    columns = [Column("kind", _("规则类型"), lambda r: r.get_kind_display()),
               Column("element.code", _("数据元")), Column("resource.code", _("信息资源代码")),
               Column("column_name", _("信息项")), Column("params", _("参数")), Column("message", _("提示语")),
               Column("active", _("启用"), lambda r: _("是") if r.active else _("否")),
               Column("created_at", _("创建时间"))]
    qs = selectors.rules_visible_to(user)
    page = pages.listing(request, qs.order_by("pk"), columns=columns, filename="quality-rules")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "quality/rules.html", {"page": page, "form": form})


@pages.role_required(*RULE_ROLES)
@require_POST
def rule_toggle(request: HttpRequest, rule_id: Any) -> HttpResponse:
    rule = _or_404(selectors.visible_rule, request.user, rule_id)
    try:
        rule_services.update_rule(actor=request.user, rule=rule, active=not rule.active)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("规则已停用") if rule.active else _("规则已启用"))
    return redirect("quality:rules")


# ---------------------------------------------------------------------------------------------
# Disputes
# ---------------------------------------------------------------------------------------------


def _with_labels(row: dict[str, Any], columns: dict[str, str] | None = None) -> dict[str, Any]:
    """A DisputeView row plus the origin's label (who raised a platform dispute) and the item's name."""
    origin = row["origin"]
    row["origin_label"] = DisputeOrigin(origin).label if origin in DisputeOrigin.values else origin
    row["column_label"] = (columns or {}).get(row["column"], row["column"])
    return row


def _default_box(user: Any) -> str:
    role = role_of(user)
    if role == Role.CONSUMER:
        return "mine"
    if role == Role.PROVIDER:
        return "inbox"
    if role in selectors.DISPUTE_NODE_READERS:
        return "node"
    return "all"


DISPUTE_EXPORT_COLUMNS = [
    Column("number", _("疑义编号")), Column("status_label", _("状态")), Column("resource_code", _("资源代码")),
    Column("resource_name", _("资源名称")), Column("record_key", _("记录主键")), Column("column", _("信息项")),
    Column("category_label", _("类别")), Column("reason", _("疑义说明")),
    Column("raising_department_name", _("提出部门")), Column("provider_name", _("提供部门")),
    Column("submitted_at", _("提出时间")), Column("due_at", _("当前时限")),
    Column("working_days_left", _("剩余工作日")), Column("overdue", _("是否超期")),
    Column("escalated", _("是否已上报")), Column("resolution_text", _("办理说明")),
    Column("resolved_at", _("办结时间")),
]


@pages.role_required(*DISPUTE_ROLES)
def disputes(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    box = request.GET.get("box") or _default_box(user)
    if box not in selectors.BOXES:
        box = "all"
    status = request.GET.get("status", "")
    status = status if status in DisputeStatus.values else ""
    overdue = {"1": True, "0": False}.get(request.GET.get("overdue", ""))
    escalated = request.GET.get("escalated") == "1"
    qs = selectors.dispute_box(user, box, status=status, overdue=overdue)
    if escalated:
        qs = qs.filter(escalated_at__isnull=False)
    view = selectors.DisputeView(user)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "json"):
        limit = setting("QUALITY_REPORT_MAX_ROWS")
        rows = qs.order_by("-submitted_at", "-pk")[:limit]
        with transaction.atomic():
            record_event(actor=user, action="quality.disputes_exported", target_type="dispute",
                         data={"format": fmt, "rows": len(rows), "box": box, "status": status, "via": "portal"})
        export = pages.listing(request, [view.row(d) for d in rows], columns=DISPUTE_EXPORT_COLUMNS,
                               filename="disputes")
        if isinstance(export, HttpResponse):
            return export
    after = parse_datetime(request.GET.get("after", "") or "")
    if after is not None:
        qs = qs.filter(submitted_at__lt=after)
    got = list(qs.order_by("-submitted_at", "-pk")[: pages.PAGE_SIZE + 1])
    more = len(got) > pages.PAGE_SIZE
    got = got[: pages.PAGE_SIZE]
    nxt = got[-1].submitted_at.isoformat() if more and got else None
    boxes = [("mine", _("本部门提出")), ("inbox", _("待本部门办理")), ("node", _("全节点")), ("all", _("全部"))]
    role = role_of(user)
    if role not in selectors.DISPUTE_NODE_READERS:
        boxes = [b for b in boxes if b[0] != "node"]
    if role == Role.CONSUMER:
        boxes = [b for b in boxes if b[0] != "inbox"]
    if role == Role.PROVIDER:
        boxes = [b for b in boxes if b[0] != "mine"]
    return render(request, "quality/disputes.html", {
        "rows": [_with_labels(view.row(d)) for d in got], "next_after": nxt, "box": box, "boxes": boxes,
        "status": status, "statuses": DisputeStatus.choices, "overdue": request.GET.get("overdue", ""),
        "escalated": escalated, "may_raise": is_consumer_side(user),
    })


@pages.role_required(Role.CONSUMER, Role.DEPT_ADMIN)
@require_http_methods(["GET", "POST"])
def dispute_create(request: HttpRequest) -> HttpResponse:
    grant_id = request.GET.get("grant") or request.POST.get("grant")
    if not grant_id:
        return render(request, "quality/dispute_grants.html",
                      {"grants": selectors_pages.dispute_grants(request.user)})
    chosen = _or_404(selectors_pages.dispute_grant, request.user, grant_id)
    form = DisputeForm(request.POST or None, items=chosen.items,
                       initial={"record_key": request.GET.get("record_key", "")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            dispute = dispute_services.raise_dispute(
                actor=request.user, dataset=chosen.dataset, record_key=d["record_key"], column=d["column"],
                reason=d["reason"], category=d["category"])
        except NotFound as exc:  # not in the live data, or outside the grant's row filter: the same answer
            form.add_error("record_key", exc.message)
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("疑义已提交，提供部门须在 2 个工作日内受理"))
            return redirect("quality:dispute", dispute_id=dispute.pk)
    return render(request, "quality/dispute_form.html", {"form": form, "chosen": chosen})


def _step_rows(dispute: Dispute) -> list[dict[str, Any]]:
    labels = dict(DisputeAction.choices) | {"raise": str(_("提出疑义"))}
    statuses = dict(DisputeStatus.choices)
    return [{"at": s.created_at, "action": labels.get(s.action, s.action),
             "from": statuses.get(s.from_status, s.from_status), "to": statuses.get(s.to_status, s.to_status),
             "actor": s.actor.username if s.actor else s.actor_label, "text": s.text, "detail": s.detail}
            for s in selectors.steps_of(dispute)]


def _dispute_page(request: HttpRequest, dispute: Dispute, *, bound: dict[str, Any] | None = None,
                  status: int = 200) -> HttpResponse:
    """The detail page; ``bound`` replaces one action's form with the submitted one (its errors shown)."""
    row = _with_labels(selectors.DisputeView(request.user).row(dispute), selectors.column_labels(dispute.dataset))
    forms_by_action: dict[str, Any] = {}
    correction = None
    for action in row["allowed_actions"]:
        if action == DisputeAction.CORRECT:
            correction = selectors_pages.correction_form_data(request.user, dispute)
            if correction is not None:
                forms_by_action[action] = CorrectionForm(columns=correction.columns, current=correction.current)
        else:
            f = ActionTextForm()
            f.fields["text"].label = TEXT_LABELS.get(DisputeAction(action), _("说明"))
            f.fields["text"].required = action in (DisputeAction.REJECT, DisputeAction.CONFIRM, DisputeAction.REOPEN)
            forms_by_action[action] = f
    if bound:
        forms_by_action.update(bound)
    actions = [{"action": a, "label": DisputeAction(a).label, "form": forms_by_action[a]}
               for a in row["allowed_actions"] if a in forms_by_action]
    return render(request, "quality/dispute_detail.html", {
        "d": row, "dispute": dispute, "steps": _step_rows(dispute), "actions": actions,
        "changes": selectors_pages.correction_changes(request.user, dispute),
    }, status=status)


@pages.role_required(*DISPUTE_ROLES)
def dispute_detail(request: HttpRequest, dispute_id: Any) -> HttpResponse:
    return _dispute_page(request, _or_404(selectors.visible_dispute, request.user, dispute_id))


@pages.role_required(Role.CONSUMER, Role.PROVIDER, Role.DEPT_ADMIN, Role.DATA_OFFICE)
@require_POST
def dispute_act(request: HttpRequest, dispute_id: Any, action: str) -> HttpResponse:
    dispute = _or_404(selectors.visible_dispute, request.user, dispute_id)
    if action not in DisputeAction.values or action == DisputeAction.ESCALATE:
        raise Http404
    form: Any
    corrections = None
    if action == DisputeAction.CORRECT:
        data = selectors_pages.correction_form_data(request.user, dispute)
        if data is None:
            messages.error(request, _("无权更正，或记录已不在现有数据中"))
            return redirect("quality:dispute", dispute_id=dispute.pk)
        form = CorrectionForm(request.POST, columns=data.columns, current=data.current)
    else:
        form = ActionTextForm(request.POST)
        form.fields["text"].label = TEXT_LABELS.get(DisputeAction(action), _("说明"))
    if form.is_valid():
        if action == DisputeAction.CORRECT:
            corrections = form.corrections()
        try:
            dispute_services.act_on_dispute(actor=request.user, dispute=dispute, action=action,
                                            text=form.cleaned_data.get("text", ""), corrections=corrections)
        except DomainError as exc:
            field = exc.details.get("field")
            if field not in ("corrections", "text"):  # not this form's fault: the state, or not the user's step
                messages.error(request, exc.message)
                return redirect("quality:dispute", dispute_id=dispute.pk)
            form.add_error(None if field == "corrections" else "text", exc.message)
        else:
            messages.success(request, _("已办理：%(action)s") % {"action": DisputeAction(action).label})
            return redirect("quality:dispute", dispute_id=dispute.pk)
    return _dispute_page(request, selectors.visible_dispute(request.user, dispute.pk), bound={action: form},
                         status=200)
