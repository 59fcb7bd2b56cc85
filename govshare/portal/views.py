"""Portal pages (资源门户). Thin: every write calls a service."""

from __future__ import annotations

from django import forms
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from govshare.accounts.services import sign_in as sign_in_service
from govshare.core.context import get_client_ip
from govshare.core.errors import DomainError


class SignInForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput)
    otp = forms.CharField(label=_("动态口令"), required=False, max_length=8,
                          help_text=_("管理员及已绑定动态口令的用户必填"))


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = sign_in_service(username=form.cleaned_data["username"], password=form.cleaned_data["password"],
                                   otp=form.cleaned_data["otp"] or None, client_ip=get_client_ip())
        except DomainError as exc:
            field = exc.details.get("field") if exc.details.get("field") in form.fields else None
            form.add_error(field, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            nxt = request.GET.get("next", "/")
            return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    return render(request, "portal/login.html", {"form": form})


@require_http_methods(["POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/")
