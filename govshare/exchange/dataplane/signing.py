"""The request signing scheme of the data plane (DESIGN.md §4 "Credentials"), shared by the server and the
Python client. Django-free: :mod:`govshare.client` imports it without a configured project.

Canonical string (UTF-8, lines joined by a single LF, no trailing LF)::

    METHOD            upper-case HTTP method: GET, POST
    PATH              the request path without the query, e.g. /dp/v1/query
    CANONICAL_QUERY   see canonical_query()
    BODY_SM3          lower-case hex SM3 of the raw request body (of b"" when there is none)
    TIMESTAMP         the X-GS-Timestamp header as sent (unix seconds, decimal digits)
    NONCE             the X-GS-Nonce header as sent (16-64 characters of [A-Za-z0-9._~-])

``X-GS-Signature`` = lower-case hex HMAC-SM3(key = UTF-8 bytes of the AppSecret, message = canonical string).
For L4 resources ``X-GS-SM2-Signature`` = hex of the DER SM2 signature (SM3 with Z over the default user ID
``1234567812345678``) of the same canonical string, made with the system's SM2 private key.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from govshare.core.crypto.sm3 import hmac_sm3_hex, hmac_sm3_verify, sm3_hex

__all__ = [
    "HEADER_APP_KEY",
    "HEADER_CASE_NUMBER",
    "HEADER_ITEM_CODE",
    "HEADER_NONCE",
    "HEADER_OPERATOR",
    "HEADER_PURPOSE",
    "HEADER_SIGNATURE",
    "HEADER_SM2_SIGNATURE",
    "HEADER_TIMESTAMP",
    "NONCE_RE",
    "QueryLike",
    "canonical_query",
    "canonical_string",
    "encode_header_value",
    "hmac_signature",
    "new_nonce",
    "query_pairs",
    "sign",
    "signature_matches",
]

HEADER_APP_KEY = "X-GS-AppKey"
HEADER_TIMESTAMP = "X-GS-Timestamp"
HEADER_NONCE = "X-GS-Nonce"
HEADER_SIGNATURE = "X-GS-Signature"
HEADER_SM2_SIGNATURE = "X-GS-SM2-Signature"
HEADER_OPERATOR = "X-GS-Operator"
HEADER_CASE_NUMBER = "X-GS-Case-Number"
HEADER_ITEM_CODE = "X-GS-Item-Code"
HEADER_PURPOSE = "X-GS-Purpose"

NONCE_RE = re.compile(r"[A-Za-z0-9._~-]{16,64}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_UNRESERVED = "-._~"  # plus ALPHA / DIGIT, which quote() never encodes (RFC 3986 §2.3)

QueryLike = str | Mapping[str, Any] | Iterable[tuple[str, Any]] | None


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8: everything but unreserved characters, upper-case hex."""
    return quote(value, safe=_UNRESERVED, encoding="utf-8", errors="strict")


def query_pairs(query: QueryLike) -> list[tuple[str, str]]:
    """The decoded (name, value) pairs of a query given as a raw query string (``a=1&b=%E4%B8%AD``), a
    mapping (a list value repeats the name) or pairs. In a raw string ``+`` is a literal plus sign (RFC 3986),
    not a space: encode spaces as ``%20``."""
    if query is None:
        return []
    if isinstance(query, str):
        pairs: list[tuple[str, str]] = []
        for part in query.split("&"):
            if not part:
                continue
            name, _, value = part.partition("=")
            pairs.append((unquote(name, errors="strict"), unquote(value, errors="strict")))
        return pairs
    items = query.items() if isinstance(query, Mapping) else query
    out: list[tuple[str, str]] = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        out.extend((str(name), _text(v)) for v in values)
    return out


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def canonical_query(query: QueryLike) -> str:
    """Pairs percent-encoded (RFC 3986, UTF-8, upper-case hex), sorted by encoded name then encoded value
    (byte order), joined as ``name=value`` with ``&``; ``""`` for no query. A name without ``=`` counts as
    an empty value."""
    encoded = sorted((_encode(n), _encode(v)) for n, v in query_pairs(query))
    return "&".join(f"{n}={v}" for n, v in encoded)


def encoded_query(query: QueryLike) -> str:
    """The query string to put in the URL (same encoding as the canonical form, original order)."""
    return "&".join(f"{_encode(n)}={_encode(v)}" for n, v in query_pairs(query))


def canonical_string(method: str, path: str, query: QueryLike, body: bytes, timestamp: str | int,
                     nonce: str) -> str:
    """The string that is signed (see the module docstring)."""
    return "\n".join([method.upper(), path, canonical_query(query), sm3_hex(body or b""), str(timestamp), nonce])


def hmac_signature(secret: str | bytes, canonical: str) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return hmac_sm3_hex(key, canonical.encode("utf-8"))


def signature_matches(secret: bytes, canonical: str, signature: str) -> bool:
    """Constant-time check of a hex signature (either case)."""
    return hmac_sm3_verify(secret, canonical.encode("utf-8"), signature.lower())


def new_nonce() -> str:
    return secrets.token_hex(16)


def encode_header_value(value: str) -> str:
    """Header values that may hold Chinese (operator, case number, purpose) travel percent-encoded UTF-8."""
    return _encode(value)


def sign(method: str, path: str, query: QueryLike, body: bytes, secret: str | bytes,
         timestamp: str | int | None = None, nonce: str | None = None, *, app_key: str | None = None,
         sm2_private_key: str | None = None, sm2_public_key: str | None = None) -> dict[str, str]:
    """The authentication headers of one request. ``timestamp`` defaults to now, ``nonce`` to a fresh one;
    with ``app_key`` the ``X-GS-AppKey`` header is included, with an SM2 key pair ``X-GS-SM2-Signature``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or new_nonce()
    canonical = canonical_string(method, path, query, body, ts, nonce)
    headers = {HEADER_TIMESTAMP: ts, HEADER_NONCE: nonce, HEADER_SIGNATURE: hmac_signature(secret, canonical)}
    if app_key is not None:
        headers = {HEADER_APP_KEY: app_key, **headers}
    if sm2_private_key and sm2_public_key:
        from govshare.core.crypto.sm2 import get_sm2_provider

        sig = get_sm2_provider().sign(sm2_private_key, sm2_public_key, canonical.encode("utf-8"))
        headers[HEADER_SM2_SIGNATURE] = sig.hex()
    return headers
