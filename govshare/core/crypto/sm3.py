"""SM3 hashing, HMAC-SM3 and HKDF-SM3 (GB/T 32905-2016), backed by ``cryptography``.

SM3 is the platform's hash for digests, HMACs (signed requests, audit key hashes, blind indexes)
and the audit chain (DESIGN.md §3 "National cryptography").
"""

from __future__ import annotations

import hmac as _stdlib_hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "SM3_BLOCK_SIZE",
    "SM3_DIGEST_SIZE",
    "BytesLike",
    "hkdf_sm3",
    "hmac_sm3",
    "hmac_sm3_hex",
    "hmac_sm3_verify",
    "sm3_digest",
    "sm3_hasher",
    "sm3_hex",
]

BytesLike = bytes | bytearray | memoryview

SM3_DIGEST_SIZE = 32
SM3_BLOCK_SIZE = 64


def _as_bytes(value: BytesLike | str, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


def sm3_hasher() -> hashes.Hash:
    """Return an incremental SM3 context (``update()`` then ``finalize()``), for large inputs."""
    return hashes.Hash(hashes.SM3())


def sm3_digest(data: BytesLike | str) -> bytes:
    """SM3 digest (32 bytes). A ``str`` is hashed as its UTF-8 encoding."""
    ctx = hashes.Hash(hashes.SM3())
    ctx.update(_as_bytes(data, "data"))
    return ctx.finalize()


def sm3_hex(data: BytesLike | str) -> str:
    """SM3 digest as 64 lowercase hex characters."""
    return sm3_digest(data).hex()


def hmac_sm3(key: BytesLike, data: BytesLike | str) -> bytes:
    """HMAC-SM3 (RFC 2104 construction with SM3), 32 bytes."""
    if not isinstance(key, bytes | bytearray | memoryview):
        # A str key is almost always a hex string passed by mistake instead of its bytes.
        raise TypeError(f"HMAC-SM3 key must be bytes, not {type(key).__name__}")
    key_bytes = bytes(key)
    if not key_bytes:
        # An empty key is legal for HMAC but is always a bug here (an unset secret).
        raise ValueError("HMAC-SM3 key must not be empty")
    ctx = _crypto_hmac.HMAC(key_bytes, hashes.SM3())
    ctx.update(_as_bytes(data, "data"))
    return ctx.finalize()


def hmac_sm3_hex(key: BytesLike, data: BytesLike | str) -> str:
    """HMAC-SM3 as 64 lowercase hex characters."""
    return hmac_sm3(key, data).hex()


def hmac_sm3_verify(key: BytesLike, data: BytesLike | str, mac: bytes | str) -> bool:
    """Check ``mac`` (raw 32 bytes, or hex of either case) against HMAC-SM3(key, data) in constant time.

    Returns False for a MAC of the wrong length or a malformed hex string rather than raising, so that
    a caller checking an attacker-supplied value has only one failure path.
    """
    expected = hmac_sm3(key, data)
    if isinstance(mac, str):
        if len(mac) != 2 * SM3_DIGEST_SIZE:
            return False
        try:
            candidate = bytes.fromhex(mac)
        except ValueError:
            return False
    else:
        candidate = bytes(mac)
    return _stdlib_hmac.compare_digest(expected, candidate)


def hkdf_sm3(key_material: bytes, *, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    """Derive ``length`` bytes from ``key_material`` with HKDF (RFC 5869) over HMAC-SM3.

    ``info`` separates the uses of one master key: two different ``info`` values give independent keys.
    """
    if not key_material:
        raise ValueError("HKDF key material must not be empty")
    return HKDF(algorithm=hashes.SM3(), length=length, salt=salt, info=info).derive(key_material)
