"""The webhook signature (docs/subscriptions.md), free of Django so a receiver can import it alone::

    from govshare.subscriptions.signing import verify
    ok = verify(secret, headers["X-GS-Timestamp"], body, headers["X-GS-Signature"])

``X-GS-Signature = hex(HMAC-SM3(secret, timestamp + "\\n" + body))`` with the UTF-8 bytes of the secret and the
raw request body. A receiver also refuses timestamps too far from its clock (replay of an old request) and
dedupes by ``X-GS-Idempotency-Key`` (a resent batch carries the same key).
"""

from __future__ import annotations

import hmac
import time

from govshare.core.crypto.sm3 import hmac_sm3_hex

DEFAULT_WINDOW_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex HMAC-SM3 over ``timestamp + "\\n" + body`` keyed with the UTF-8 bytes of the secret."""
    return hmac_sm3_hex(secret.encode("utf-8"), timestamp.encode("ascii") + b"\n" + body)


def verify(secret: str, timestamp: str, body: bytes, signature_hex: str, *, now: float | None = None,
           window: float = DEFAULT_WINDOW_SECONDS) -> bool:
    """Whether the signature is right and the timestamp within ``window`` seconds of ``now``."""
    if not timestamp.isdigit() or abs((time.time() if now is None else now) - int(timestamp)) > window:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_hex.strip().lower())
