"""TOTP (RFC 6238) second factor: seeds, provisioning URIs and code checks. No writes here."""

from __future__ import annotations

import pyotp
from django.utils import timezone

from govshare.core.crypto.envelope import decrypt_secret, encrypt_secret

ISSUER = "govshare"
PURPOSE = "totp"


def new_seed() -> str:
    """A fresh random base32 seed (160 bits)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(seed: str, *, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app imports (as a QR code or as text)."""
    return pyotp.TOTP(seed).provisioning_uri(name=username, issuer_name=ISSUER)


def grouped(seed: str) -> str:
    """The seed in groups of four characters, for typing it into an authenticator by hand."""
    return " ".join(seed[i:i + 4] for i in range(0, len(seed), 4))


def seal(seed: str) -> str:
    """The seed SM4-encrypted (envelope token), for the database or a session."""
    return encrypt_secret(seed, purpose=PURPOSE)


def unseal(token: str) -> str:
    return decrypt_secret(token, purpose=PURPOSE).decode()


def accepted_step(seed: str, code: str | None, *, last_step: int) -> int | None:
    """The time step ``code`` belongs to (current step or a neighbour, for clock drift), or ``None``.

    A step at or before ``last_step`` is never accepted again (no replay of a used code).
    """
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(seed)
    now = int(timezone.now().timestamp()) // totp.interval
    for step in (now, now - 1, now + 1):
        if step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
