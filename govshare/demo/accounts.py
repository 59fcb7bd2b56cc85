"""Demo accounts: creation through the accounts service, and the login list printed to the operator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test.utils import override_settings

from govshare.accounts.models import User
from govshare.accounts.services import create_user
from govshare.core.crypto.envelope import decrypt_secret
from govshare.demo.city import DEMO_PASSWORD, USERS
from govshare.organizations.models import Department, Node


class DemoBuildHasher(PBKDF2PasswordHasher):
    """PBKDF2 with a small work factor, used only while the demo creates its ~70 accounts (the full
    1,000,000 iterations cost ~0.4 s each). The hash keeps the standard ``pbkdf2_sha256`` format, so
    the production hasher verifies it and re-hashes at full strength on the first sign-in."""

    iterations = 20_000


@contextmanager
def quick_password_hashing() -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=["govshare.demo.accounts.DemoBuildHasher"]):
        yield


def create_users(*, nodes: dict[str, Node], departments: dict[str, Department]) -> dict[str, User]:
    made: dict[str, User] = {}
    with quick_password_hashing():
        for u in USERS:
            made[u.username] = create_user(
                actor=None, username=u.username, password=DEMO_PASSWORD, role=u.role, node=nodes[u.node],
                department=departments[u.dept] if u.dept else None, display_name=u.display_name,
            ).user
    return made


@dataclass(frozen=True)
class Login:
    username: str
    role: str  # Chinese label
    department: str
    password: str
    totp_secret: str  # empty when the role has no second factor


def demo_logins() -> list[Login]:
    """Every demo account in definition order, with its TOTP seed read back (decrypted) from the database."""
    users = {u.username: u for u in User.objects.select_related("department", "node")
             .filter(username__in=[u.username for u in USERS])}
    out: list[Login] = []
    for spec in USERS:
        user = users.get(spec.username)
        if user is None:
            continue
        seed = decrypt_secret(user.totp_secret_enc, purpose="totp").decode() if user.totp_secret_enc else ""
        where = user.department.name if user.department else f"{user.node.name}（节点）"
        out.append(Login(user.username, user.get_role_display(), where, DEMO_PASSWORD, seed))
    return out
