"""Account pages: profile (个人中心), password change, own second factor, the second-factor step of a sign-in,
and single sign-on (统一身份认证, OIDC). Thin: writes go through ``services``.

A sign-in that still needs a second factor lives in a *pre-authentication* session (``PENDING``): the session
key is rotated when it starts and again by ``login()`` when it ends, and it expires after
``PENDING_MAX_AGE`` seconds.
"""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from govshare.accounts import oidc, services, totp
from govshare.accounts.choices import ADMIN_ROLES
from govshare.accounts.models import User
from govshare.core.context import get_client_ip
from govshare.core.errors import DomainError, ValidationFailed
from govshare.portal import pages

PENDING = "govshare_pending_sign_in"
PENDING_MAX_AGE = 600
NEW_SEED = "govshare_new_totp"
OIDC_STATE = "govshare_oidc"
BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- sign-in plumbing shared with portal.views.sign_in -------------------------------------------------------

def safe_next(request: HttpRequest, value: str | None) -> str:
    """``value`` when it is a path on this site, else the home page (no open redirect)."""
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return value
    return "/"


def complete_login(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    """Attach ``user`` to the session. ``login()`` rotates the session key (no session fixation)."""
    request.session.pop(PENDING, None)
    login(request, user, backend=BACKEND)
    return redirect(safe_next(request, next_url))


def start_pending(request: HttpRequest, *, user_id: int, via: str, enrol: bool, next_url: str) -> HttpResponse:
    """Password (or identity provider) accepted; the second factor is still to come."""
    request.session.cycle_key()
    request.session[PENDING] = {"user": user_id, "via": via, "enrol": enrol, "next": safe_next(request, next_url),
                                "at": time.time(), "seed": ""}
    return redirect("accounts:second_factor")


def sso_label() -> str | None:
    """The sign-in page's button text when single sign-on is configured."""
    cfg = oidc.load_config()
    return cfg.label if cfg else None


# --- forms --------------------------------------------------------------------------------------------------

def _code_field() -> forms.CharField:
    return forms.CharField(label=_("动态口令"), max_length=8,
                           help_text=_("验证器（如手机上的身份验证器应用）当前显示的 6 位数字"),
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "pattern": "[0-9 ]*"}))


class CodeForm(forms.Form):
    code = _code_field()


class BindForm(forms.Form):
    password = forms.CharField(label=_("当前密码"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    code = _code_field()


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(label=_("当前密码"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("当前密码"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label=_("新密码"), strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                   help_text=_("至少 10 位，包含大写字母、小写字母、数字、符号中的至少三类，"
                                               "不能是常见密码或与用户名相近。"))
    new_password2 = forms.CharField(label=_("确认新密码"), strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("new_password") and data.get("new_password2") and data["new_password"] != data["new_password2"]:
            self.add_error("new_password2", _("两次输入的新密码不一致"))
        return data


# --- the second-factor step of a sign-in ----------------------------------------------------------------------

def _pending(request: HttpRequest) -> dict[str, Any] | None:
    state = request.session.get(PENDING)
    if not isinstance(state, dict) or time.time() - float(state.get("at", 0)) > PENDING_MAX_AGE:
        request.session.pop(PENDING, None)
        return None
    return state


@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Give the one-time code — or, for an administrator without one, bind an authenticator first (绑定动态口令)."""
    state = _pending(request)
    if state is None:
        messages.error(request, _t("登录已超时或无效，请重新登录"))
        return redirect("portal:login")
    user = User.objects.filter(pk=state["user"]).only("username", "display_name", "role").first()
    if user is None:
        request.session.pop(PENDING, None)
        return redirect("portal:login")
    if state["enrol"] and not state["seed"]:
        state["seed"] = totp.seal(totp.new_seed())
        request.session[PENDING] = state
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            if state["enrol"]:
                done = services.enrol_second_factor(user_id=user.pk, seed=totp.unseal(state["seed"]), code=code,
                                                    client_ip=get_client_ip(), via=state["via"])
            else:
                done = services.complete_second_factor(user_id=user.pk, code=code, client_ip=get_client_ip(),
                                                       via=state["via"])
        except DomainError as exc:
            if not isinstance(exc, ValidationFailed):  # locked, throttled, expired: start again
                request.session.pop(PENDING, None)
                messages.error(request, exc.message)
                return redirect("portal:login")
            pages.form_error(form, exc)
        else:
            if state["enrol"]:
                messages.success(request, _t("动态口令已绑定。以后登录时请输入验证器显示的动态口令。"))
            return complete_login(request, done, state["next"])
    context: dict[str, Any] = {"form": form, "person": user, "enrol": state["enrol"]}
    if state["enrol"]:
        seed = totp.unseal(state["seed"])
        context.update(seed=totp.grouped(seed), uri=totp.provisioning_uri(seed, username=user.username))
    return render(request, "accounts/second_factor.html", context)


# --- profile (个人中心) -------------------------------------------------------------------------------------------

@pages.role_required()
def profile(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    person = User.objects.select_related("node", "department").get(pk=user.pk)
    return render(request, "accounts/profile.html", {
        "person": person,
        "has_factor": bool(person.totp_secret_enc and person.totp_confirmed),
        "factor_required": person.role in ADMIN_ROLES,
        "identities": list(person.external_identities.order_by("issuer")),
    })


@pages.role_required()
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_password(actor=user, old_password=form.cleaned_data["old_password"],
                                     new_password=form.cleaned_data["new_password"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            update_session_auth_hash(request, user)  # stay signed in here; other sessions of the user end
            messages.success(request, _t("密码已修改"))
            return redirect("accounts:profile")
    return render(request, "accounts/password.html", {"form": form})


@pages.role_required()
@require_http_methods(["GET", "POST"])
def totp_bind(request: HttpRequest) -> HttpResponse:
    """Bind a second factor, or replace it (e.g. a new phone): the old one works until the new one is proven."""
    user: Any = request.user
    token = request.session.get(NEW_SEED)
    if not isinstance(token, str) or request.GET.get("renew") == "1":
        token = totp.seal(totp.new_seed())
        request.session[NEW_SEED] = token
    seed = totp.unseal(token)
    form = BindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.bind_totp(actor=user, seed=seed, code=form.cleaned_data["code"],
                               password=form.cleaned_data["password"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            request.session.pop(NEW_SEED, None)
            messages.success(request, _t("动态口令已绑定"))
            return redirect("accounts:profile")
    return render(request, "accounts/totp.html", {
        "form": form, "seed": totp.grouped(seed), "uri": totp.provisioning_uri(seed, username=user.username),
        "replacing": bool(user.totp_secret_enc and user.totp_confirmed)})


@pages.role_required()
@require_http_methods(["GET", "POST"])
def totp_remove(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.role in ADMIN_ROLES:
        return render(request, "portal/forbidden.html", status=403)
    form = PasswordConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.remove_totp(actor=user, password=form.cleaned_data["password"])
        except DomainError as exc:
            pages.form_error(form, exc)
        else:
            messages.success(request, _t("已解除动态口令"))
            return redirect("accounts:profile")
    return render(request, "accounts/totp_remove.html", {"form": form})


# --- single sign-on (统一身份认证) ------------------------------------------------------------------------------

def _config() -> oidc.OidcConfig:
    cfg = oidc.load_config()
    if cfg is None:
        raise Http404
    return cfg


@require_http_methods(["GET"])
def sso_login(request: HttpRequest) -> HttpResponse:
    cfg = _config()
    callback = request.build_absolute_uri(reverse("accounts:sso_callback"))
    try:
        url, auth = oidc.begin(cfg, redirect_uri=callback, next_url=safe_next(request, request.GET.get("next")))
    except oidc.OidcError as exc:
        services.record_sso_refusal(reason=exc.reason, detail=str(exc))
        messages.error(request, exc.message)
        return redirect("portal:login")
    request.session[OIDC_STATE] = auth.as_session()
    return redirect(url)


@require_http_methods(["GET"])
def sso_callback(request: HttpRequest) -> HttpResponse:
    cfg = _config()
    auth = oidc.AuthState.from_session(request.session.pop(OIDC_STATE, None))  # one use only
    try:
        claims = oidc.finish(cfg, auth, {k: str(v) for k, v in request.GET.items()})
    except oidc.OidcError as exc:
        services.record_sso_refusal(reason=exc.reason, detail=str(exc))
        messages.error(request, exc.message)
        return redirect("portal:login")
    assert auth is not None
    username = claims.get(cfg.username_claim)
    try:
        result = services.sso_sign_in(issuer=cfg.issuer, subject=claims["sub"],
                                      username=username if isinstance(username, str) else "",
                                      client_ip=get_client_ip())
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("portal:login")
    if result.second_factor:
        return start_pending(request, user_id=result.user.pk, via="oidc", enrol=result.second_factor == "enrol",
                             next_url=auth.next)
    return complete_login(request, result.user, auth.next)
