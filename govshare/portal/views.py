"""Portal pages (资源门户): sign-in and sign-out. Thin: every write calls a service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from govshare.accounts import services
from govshare.accounts.middleware import IDLE_SIGNED_OUT
from govshare.accounts.views import complete_login, safe_next, sso_label, start_pending
from govshare.core.context import get_client_ip
from govshare.core.errors import DomainError


class SignInForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label=_("密码"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    otp = forms.CharField(label=_("动态口令"), required=False, max_length=8,
                          help_text=_("管理员及已绑定动态口令的用户必填：验证器当前显示的 6 位数字"),
                          widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.session.pop(IDLE_SIGNED_OUT, False):
        messages.info(request, _t("您已长时间未操作，为保护账户安全已自动退出，请重新登录。"))
    next_url = safe_next(request, request.GET.get("next") or request.POST.get("next"))
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_in(username=form.cleaned_data["username"], password=form.cleaned_data["password"],
                                    otp=form.cleaned_data["otp"] or None, client_ip=get_client_ip())
        except services.SecondFactorPending as exc:
            return start_pending(request, user_id=exc.user_id, via="password", enrol=exc.enrol, next_url=next_url)
        except DomainError as exc:
            field = exc.details.get("field") if exc.details.get("field") in form.fields else None
            form.add_error(field, exc.message)
            status = 429 if exc.status == 429 else 200
        else:
            return complete_login(request, user, next_url)
    context: dict[str, Any] = {"form": form, "next": next_url, "sso_label": sso_label()}
    return render(request, "portal/login.html", context, status=status)


@require_http_methods(["POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.is_authenticated:
        services.record_sign_out(actor=user)
    logout(request)
    messages.success(request, _t("您已安全退出"))
    return redirect("portal:login")
