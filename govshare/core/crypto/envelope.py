"""Envelope encryption of secrets with SM4 data keys wrapped under the KEK (DESIGN.md §4).

- The key-encryption key (KEK) is ``settings.GOVSHARE_KEK`` (32 hex characters = 16 bytes), named
  ``settings.GOVSHARE_KEK_ID``; it lives outside the database. Optional
  ``settings.GOVSHARE_RETIRED_KEKS`` (``{kek_id: hex}``) keeps earlier KEKs readable after a KEK
  rotation until :func:`rewrap_data_keys` has re-wrapped every data key under the current one.
- Data keys (:class:`~govshare.core.models.keys.DataKey`) are per purpose; the active key of a purpose
  is created on first use. :func:`rotate_data_key` makes a new active key; tokens under older keys
  still decrypt.
- A token is ASCII: ``sm4v1:<key_id>:<base64url of nonce || ciphertext || tag>`` (no padding). The
  version and key id are authenticated as associated data, and each wrapped key is bound to its
  key id, purpose and KEK id, so neither tokens nor database rows can be swapped undetected.
- Unwrapped keys are cached in process. A key created or read inside a transaction is cached only
  after that transaction commits, so a rolled-back key can never be used again from the cache.
- :func:`blind_index` gives a deterministic HMAC-SM3 of a value with a per-purpose key derived from
  the KEK, for equality lookups on encrypted fields. It changes when the KEK changes: rotating the
  KEK means recomputing the blind indexes.

Rotation and rewrap are key management, not business writes: the caller (a management command or
service) records the audit event, since ``core`` imports no app.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from govshare.core.crypto.errors import (
    CryptoConfigurationError,
    CryptoError,
    DecryptionError,
    UnknownKeyError,
)
from govshare.core.crypto.sm3 import hkdf_sm3, hmac_sm3_hex
from govshare.core.crypto.sm4 import SM4_KEY_SIZE, SM4_OVERHEAD, generate_sm4_key, sm4_decrypt, sm4_encrypt
from govshare.core.models.keys import DataKey

__all__ = [
    "ACTIVE_KEY_CACHE_SECONDS",
    "TOKEN_VERSION",
    "blind_index",
    "clear_key_cache",
    "decrypt_secret",
    "encrypt_secret",
    "is_token",
    "rewrap_data_keys",
    "rotate_data_key",
    "token_key_id",
]

TOKEN_VERSION = "sm4v1"  # noqa: S105 - a format tag, not a secret
# Another process's rotation is picked up for new encryptions within this many seconds.
ACTIVE_KEY_CACHE_SECONDS = 60.0

_KEY_ID_RE = re.compile(r"dk-[0-9a-f]{8}")
_PURPOSE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEK_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_B64_RE = re.compile(r"[A-Za-z0-9_-]+")
_CREATE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class _DataKeyMaterial:
    key_id: str
    purpose: str
    key: bytes


_lock = threading.Lock()
_keys_by_id: dict[str, _DataKeyMaterial] = {}
_active_by_purpose: dict[str, tuple[str, float]] = {}  # purpose -> (key_id, monotonic expiry)


def clear_key_cache() -> None:
    """Drop every cached unwrapped key (tests; after restoring a backup; after :func:`rewrap_data_keys`)."""
    with _lock:
        _keys_by_id.clear()
        _active_by_purpose.clear()


# --------------------------------------------------------------------------------------------------
# KEK
# --------------------------------------------------------------------------------------------------


def _parse_kek(value: object, setting: str) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise CryptoConfigurationError(f"{setting} is not set (32 hex characters expected)")
    text = value.strip()
    if len(text) != 2 * SM4_KEY_SIZE:
        raise CryptoConfigurationError(f"{setting} must be {2 * SM4_KEY_SIZE} hex characters, got {len(text)}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CryptoConfigurationError(f"{setting} is not valid hex") from None


def _current_kek() -> tuple[str, bytes]:
    kek_id = getattr(settings, "GOVSHARE_KEK_ID", "")
    if not isinstance(kek_id, str) or not _KEK_ID_RE.fullmatch(kek_id):
        raise CryptoConfigurationError("GOVSHARE_KEK_ID must be 1-64 characters of [A-Za-z0-9_.-]")
    return kek_id, _parse_kek(getattr(settings, "GOVSHARE_KEK", None), "GOVSHARE_KEK")


def _kek_by_id(kek_id: str) -> bytes:
    current_id, current = _current_kek()
    if kek_id == current_id:
        return current
    retired = getattr(settings, "GOVSHARE_RETIRED_KEKS", None) or {}
    if kek_id in retired:
        return _parse_kek(retired[kek_id], f"GOVSHARE_RETIRED_KEKS[{kek_id!r}]")
    raise UnknownKeyError(f"data key is wrapped under KEK {kek_id!r}, which this node does not have")


def _wrap_aad(key_id: str, purpose: str, kek_id: str) -> bytes:
    return f"govshare-datakey|v1|{key_id}|{purpose}|{kek_id}".encode("ascii")


def _unwrap(row: DataKey) -> _DataKeyMaterial:
    kek = _kek_by_id(row.kek_id)
    try:
        raw = sm4_decrypt(kek, bytes(row.wrapped_key), associated_data=_wrap_aad(row.key_id, row.purpose, row.kek_id))
    except DecryptionError:
        raise DecryptionError(
            f"data key {row.key_id} does not unwrap under KEK {row.kek_id!r} (wrong KEK or tampered row)"
        ) from None
    if len(raw) != SM4_KEY_SIZE:
        raise DecryptionError(f"data key {row.key_id} has a wrong length")
    return _DataKeyMaterial(key_id=row.key_id, purpose=row.purpose, key=raw)


# --------------------------------------------------------------------------------------------------
# Cache helpers
# --------------------------------------------------------------------------------------------------


def _remember(material: _DataKeyMaterial, *, active: bool) -> None:
    def store() -> None:
        with _lock:
            _keys_by_id[material.key_id] = material
            if active:
                expiry = time.monotonic() + ACTIVE_KEY_CACHE_SECONDS
                _active_by_purpose[material.purpose] = (material.key_id, expiry)

    # Runs at once in autocommit mode; inside a transaction only after it commits.
    transaction.on_commit(store)


def _cached_active(purpose: str) -> _DataKeyMaterial | None:
    with _lock:
        entry = _active_by_purpose.get(purpose)
        if entry is None:
            return None
        key_id, expiry = entry
        if expiry < time.monotonic():
            del _active_by_purpose[purpose]
            return None
        return _keys_by_id.get(key_id)


def _check_purpose(purpose: str) -> str:
    if not isinstance(purpose, str) or not _PURPOSE_RE.fullmatch(purpose):
        raise ValueError(f"purpose {purpose!r} must be 1-64 characters of [A-Za-z0-9_.-]")
    return purpose


# --------------------------------------------------------------------------------------------------
# Data keys
# --------------------------------------------------------------------------------------------------


def _insert_active_key(purpose: str) -> _DataKeyMaterial:
    """Insert a new active key (in a savepoint); IntegrityError if another active key exists."""
    kek_id, kek = _current_kek()
    raw = generate_sm4_key()
    for _ in range(_CREATE_ATTEMPTS):
        key_id = f"dk-{secrets.token_hex(4)}"
        if DataKey.objects.filter(key_id=key_id).exists():
            continue  # 32-bit id collision: draw again
        wrapped = sm4_encrypt(kek, raw, associated_data=_wrap_aad(key_id, purpose, kek_id))
        with transaction.atomic():
            DataKey.objects.create(key_id=key_id, wrapped_key=wrapped, kek_id=kek_id, purpose=purpose, active=True)
        return _DataKeyMaterial(key_id=key_id, purpose=purpose, key=raw)
    raise CryptoError("could not allocate a unique data key id")


def _active_key(purpose: str) -> _DataKeyMaterial:
    cached = _cached_active(purpose)
    if cached is not None:
        return cached
    for _ in range(_CREATE_ATTEMPTS):
        row = DataKey.objects.filter(purpose=purpose, active=True).first()
        if row is not None:
            material = _unwrap(row)
            _remember(material, active=True)
            return material
        try:
            material = _insert_active_key(purpose)
        except IntegrityError:
            continue  # another process created the purpose's first key at the same moment: use theirs
        _remember(material, active=True)
        return material
    raise CryptoError(f"could not obtain an active data key for purpose {purpose!r}")


def _key_by_id(key_id: str) -> _DataKeyMaterial:
    with _lock:
        cached = _keys_by_id.get(key_id)
    if cached is not None:
        return cached
    row = DataKey.objects.filter(key_id=key_id).first()
    if row is None:
        raise UnknownKeyError(f"unknown data key {key_id}")
    material = _unwrap(row)
    _remember(material, active=False)
    return material


def rotate_data_key(purpose: str = "default") -> str:
    """Deactivate the purpose's active key (if any) and create a new active one; returns its key id.

    Tokens under the previous keys still decrypt. Concurrent rotations serialise on the
    one-active-key-per-purpose constraint and retry.
    """
    _check_purpose(purpose)
    for _ in range(_CREATE_ATTEMPTS):
        try:
            with transaction.atomic():
                DataKey.objects.filter(purpose=purpose, active=True).update(active=False, deactivated_at=timezone.now())
                material = _insert_active_key(purpose)
        except IntegrityError:
            continue
        with _lock:
            _active_by_purpose.pop(purpose, None)
        _remember(material, active=True)
        return material.key_id
    raise CryptoError(f"could not rotate the data key for purpose {purpose!r}")


def rewrap_data_keys() -> int:
    """Re-wrap every data key not under the current KEK; returns how many were re-wrapped.

    After a KEK rotation: set the new ``GOVSHARE_KEK``/``GOVSHARE_KEK_ID``, keep the old one in
    ``GOVSHARE_RETIRED_KEKS``, run this, then remove the old KEK. Tokens are unchanged.
    """
    kek_id, kek = _current_kek()
    count = 0
    with transaction.atomic():
        for row in DataKey.objects.select_for_update().exclude(kek_id=kek_id).order_by("key_id"):
            material = _unwrap(row)
            row.wrapped_key = sm4_encrypt(kek, material.key, associated_data=_wrap_aad(row.key_id, row.purpose, kek_id))
            row.kek_id = kek_id
            row.save(update_fields=["wrapped_key", "kek_id", "updated_at"])
            count += 1
    return count


# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------


def _token_aad(key_id: str) -> bytes:
    return f"{TOKEN_VERSION}|{key_id}".encode("ascii")


def encrypt_secret(plaintext: bytes | str, *, purpose: str = "default") -> str:
    """Encrypt ``plaintext`` (a ``str`` as UTF-8) under the purpose's active data key.

    Returns an ASCII token ``sm4v1:<key_id>:<base64url>`` to store in place of the secret.
    """
    _check_purpose(purpose)
    if isinstance(plaintext, str):
        data = plaintext.encode("utf-8")
    elif isinstance(plaintext, bytes | bytearray | memoryview):
        data = bytes(plaintext)
    else:
        raise TypeError(f"plaintext must be bytes or str, not {type(plaintext).__name__}")
    material = _active_key(purpose)
    blob = sm4_encrypt(material.key, data, associated_data=_token_aad(material.key_id))
    body = base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")
    return f"{TOKEN_VERSION}:{material.key_id}:{body}"


def _parse_token(token: str) -> tuple[str, bytes]:
    if not isinstance(token, str):
        raise DecryptionError(f"token must be str, not {type(token).__name__}")
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise DecryptionError(f"not a {TOKEN_VERSION} token")
    _, key_id, body = parts
    if not _KEY_ID_RE.fullmatch(key_id):
        raise DecryptionError("token has a malformed key id")
    if not _B64_RE.fullmatch(body) or len(body) % 4 == 1:
        raise DecryptionError("token body is not unpadded base64url")
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionError("token body is not unpadded base64url") from None
    if len(blob) < SM4_OVERHEAD:
        raise DecryptionError("token body is too short")
    return key_id, blob


def is_token(value: object) -> bool:
    """Whether ``value`` looks like a token of this module (syntax only, nothing is decrypted)."""
    if not isinstance(value, str):
        return False
    try:
        _parse_token(value)
    except DecryptionError:
        return False
    return True


def token_key_id(token: str) -> str:
    """The data key id named by ``token`` (to find secrets still under an old key)."""
    return _parse_token(token)[0]


def decrypt_secret(token: str, *, purpose: str | None = None) -> bytes:
    """Decrypt a token from :func:`encrypt_secret`.

    With ``purpose``, also check that the token was made for that purpose (a token copied from
    another kind of field fails). Raises :class:`DecryptionError` (or :class:`UnknownKeyError`).
    """
    key_id, blob = _parse_token(token)
    material = _key_by_id(key_id)
    if purpose is not None and material.purpose != purpose:
        raise DecryptionError(f"token is for purpose {material.purpose!r}, not {purpose!r}")
    return sm4_decrypt(material.key, blob, associated_data=_token_aad(key_id))


# --------------------------------------------------------------------------------------------------
# Blind index
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _blind_index_key(kek: bytes, purpose: str) -> bytes:
    return hkdf_sm3(kek, info=f"govshare/blind-index/v1/{purpose}".encode("ascii"))


def blind_index(value: str, *, purpose: str) -> str:
    """HMAC-SM3 hex of ``value`` (UTF-8) under a key derived from the KEK for ``purpose``.

    Deterministic, so equal values give equal indexes; different purposes give unrelated indexes.
    The value is hashed as given: callers normalise first (e.g. strip, upper-case the X of a 身份证号).
    """
    _check_purpose(purpose)
    if not isinstance(value, str):
        raise TypeError(f"value must be str, not {type(value).__name__}")
    if not value:
        raise ValueError("cannot blind-index an empty value")
    _, kek = _current_kek()
    return hmac_sm3_hex(_blind_index_key(kek, purpose), value.encode("utf-8"))
