from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpRequest
from ninja import Router, Schema, Status

from govshare.accounts import services
from govshare.core.context import get_client_ip

router = Router(tags=["auth 登录"])


class SignInIn(Schema):
    username: str
    password: str
    otp: str | None = None


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    node_code: str
    department_id: str | None
    second_factor: bool


def _me(user: services.User) -> MeOut:
    return MeOut(id=user.pk, username=user.username, display_name=user.display_name, role=user.role,
                 node_code=user.node.code, department_id=str(user.department_id) if user.department_id else None,
                 second_factor=bool(user.totp_confirmed))


@router.post("/login", auth=None, response=MeOut)
def sign_in(request: HttpRequest, payload: SignInIn) -> MeOut:
    user = services.sign_in(username=payload.username, password=payload.password, otp=payload.otp,
                            client_ip=get_client_ip())
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return _me(user)


@router.post("/logout", response={204: None})
def sign_out(request: HttpRequest) -> Status[None]:
    if request.user.is_authenticated:
        services.record_sign_out(actor=request.user)
    logout(request)
    return Status(204, None)


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> MeOut:
    return _me(request.user)  # type: ignore[arg-type]
