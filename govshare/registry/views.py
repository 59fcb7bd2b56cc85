"""Portal pages of the registry (信息系统): the department's information systems, and their credentials
(应用凭证: issue, rotate, revoke). An AppSecret is shown once, on the page that answers the issue or rotate
request, and never again (only its SM4-encrypted form is stored)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from govshare.accounts.choices import Role
from govshare.core.errors import DomainError
from govshare.organizations.models import Department
from govshare.portal import pages
from govshare.registry import selectors, services
from govshare.registry.choices import CredentialStatus
from govshare.registry.models import AppCredential, InformationSystem

SYSTEM_READERS = (Role.DEPT_ADMIN, Role.PROVIDER, Role.CONSUMER, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.DATA_OFFICE,
                  Role.AUDIT_ADMIN)


class SystemForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("系统名称"), max_length=120)
    purpose = forms.CharField(label=gettext_lazy("功能/用途"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


class CredentialForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("用途标注"), required=False, max_length=100,
                            help_text=gettext_lazy("例如：生产环境、测试环境"))
    valid_days = forms.IntegerField(label=gettext_lazy("有效天数"), required=False, min_value=1, max_value=3660,
                                    help_text=gettext_lazy("留空为长期有效"))


def _system_or_404(user: Any, pk: Any) -> InformationSystem:
    system = selectors.systems_visible_to(user).filter(pk=pk).first()
    if system is None:
        raise Http404("信息系统不存在")
    return system


def _credential_or_404(user: Any, pk: Any) -> AppCredential:
    cred = selectors.credentials_visible_to(user).filter(pk=pk).first()
    if cred is None:
        raise Http404("凭证不存在")
    return cred


def _manages(user: Any, system: InformationSystem) -> bool:
    """Only the system's own department administrator issues, rotates and revokes its credentials."""
    return getattr(user, "role", None) == Role.DEPT_ADMIN and user.department_id == system.department_id


@pages.role_required(*SYSTEM_READERS)
def system_list(request: HttpRequest) -> HttpResponse:
    """信息系统清单: the department's systems (the node's, for the node's administrators)."""
    user: Any = request.user
    rows = list(selectors.systems_visible_to(user).order_by("department__name", "name")[: pages.MAX_EXPORT_ROWS])
    columns = [
        pages.Column("name", _("系统名称")),
        pages.Column("department.name", _("所属部门")),
        pages.Column("purpose", _("功能/用途")),
        pages.Column("active", _("状态"), value=lambda s: _("在用") if s.active else _("停用")),
    ]
    page = pages.listing(request, rows, columns=columns, filename="systems")
    if isinstance(page, HttpResponse):
        return page
    return render(request, "registry/systems.html", {"page": page, "may_register": user.role == Role.DEPT_ADMIN})


@pages.role_required(Role.DEPT_ADMIN)
@require_http_methods(["GET", "POST"])
def system_new(request: HttpRequest) -> HttpResponse:
    """登记信息系统 (部门管理员, for the own department)."""
    user: Any = request.user
    form = SystemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        department = Department.objects.filter(pk=user.department_id).first()
        if department is None:
            raise Http404
        try:
            system = services.create_system(actor=user, department=department, name=form.cleaned_data["name"],
                                            purpose=form.cleaned_data["purpose"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _("已登记信息系统：%(n)s") % {"n": system.name})
            return redirect("registry:system", pk=system.pk)
    return render(request, "registry/system_new.html", {"form": form}, status=422 if form.errors else 200)


def _system_page(request: HttpRequest, system: InformationSystem, *, form: CredentialForm | None = None,
                 status: int = 200) -> HttpResponse:
    user: Any = request.user
    credentials = list(selectors.credentials_visible_to(user).filter(system=system).order_by("-created_at"))
    return render(request, "registry/system.html", {
        "system": system, "credentials": credentials, "manages": _manages(user, system),
        "may_revoke": _manages(user, system) or user.role == Role.SYS_ADMIN,
        "sees_credentials": user.role in (Role.DEPT_ADMIN, Role.SYS_ADMIN, Role.SEC_ADMIN),
        "form": form or CredentialForm(), "active": CredentialStatus.ACTIVE,
    }, status=status)


@pages.role_required(*SYSTEM_READERS)
def system_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    return _system_page(request, _system_or_404(request.user, pk))


def _secret_page(request: HttpRequest, issued: services.IssuedCredential, *,
                 rotated_from: AppCredential | None = None) -> HttpResponse:
    return render(request, "registry/secret.html", {
        "cred": issued.credential, "secret": issued.app_secret, "system": issued.credential.system,
        "rotated_from": rotated_from})


@never_cache
@pages.role_required(Role.DEPT_ADMIN)
@require_POST
def credential_issue(request: HttpRequest, pk: Any) -> HttpResponse:
    """签发凭证: the answer shows the AppSecret once (not cached); afterwards only the AppKey is shown."""
    system = _system_or_404(request.user, pk)
    form = CredentialForm(request.POST)
    if form.is_valid():
        try:
            issued = services.issue_credential(actor=request.user, system=system, label=form.cleaned_data["label"],
                                               valid_days=form.cleaned_data["valid_days"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            return _secret_page(request, issued)
    return _system_page(request, system, form=form, status=422)


@never_cache
@pages.role_required(Role.DEPT_ADMIN)
@require_POST
def credential_rotate(request: HttpRequest, pk: Any) -> HttpResponse:
    """轮换: issue a second credential beside the old one (two may be active); the old one keeps working until
    the department revokes it, once the system has switched to the new secret."""
    old = _credential_or_404(request.user, pk)
    if old.status != CredentialStatus.ACTIVE:
        messages.error(request, _("只能轮换有效的凭证"))
        return redirect("registry:system", pk=old.system_id)
    try:
        issued = services.issue_credential(actor=request.user, system=old.system,
                                           label=_("轮换自 %(k)s") % {"k": old.app_key})
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("registry:system", pk=old.system_id)
    return _secret_page(request, issued, rotated_from=old)


@pages.role_required(Role.DEPT_ADMIN, Role.SYS_ADMIN)
@require_POST
def credential_revoke(request: HttpRequest, pk: Any) -> HttpResponse:
    cred = _credential_or_404(request.user, pk)
    try:
        services.revoke_credential(actor=request.user, credential=cred)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("凭证 %(k)s 已吊销，下一次调用即生效") % {"k": cred.app_key})
    return redirect("registry:system", pk=cred.system_id)
