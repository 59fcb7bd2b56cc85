"""National cryptography for govshare (DESIGN.md §3 "National cryptography", §4 "Keys and secrets at rest").

- :mod:`.sm3`: SM3 digests, HMAC-SM3, HKDF-SM3;
- :mod:`.sm4`: SM4-GCM authenticated encryption of bytes under a 16-byte key;
- :mod:`.sm2`: SM2 signatures and encryption through a provider (Tongsuo or pure-Python gmssl);
- :mod:`.envelope`: secrets encrypted under per-purpose data keys wrapped by the KEK, and blind indexes.

Everything except :mod:`.envelope` is free of Django and may be imported anywhere (settings included).
The envelope functions need the app registry, so they are imported from here lazily on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from govshare.core.crypto.errors import (
    CryptoConfigurationError,
    CryptoError,
    DecryptionError,
    InvalidKeyError,
    UnknownKeyError,
)
from govshare.core.crypto.sm2 import (
    SM2_DEFAULT_USER_ID,
    Sm2Provider,
    get_sm2_provider,
    normalize_private_key,
    normalize_public_key,
    provider_name,
    signature_from_raw,
    signature_to_raw,
)
from govshare.core.crypto.sm3 import (
    hkdf_sm3,
    hmac_sm3,
    hmac_sm3_hex,
    hmac_sm3_verify,
    sm3_digest,
    sm3_hasher,
    sm3_hex,
)
from govshare.core.crypto.sm4 import generate_sm4_key, sm4_decrypt, sm4_encrypt

if TYPE_CHECKING:
    from govshare.core.crypto.envelope import (
        blind_index,
        decrypt_secret,
        encrypt_secret,
        rotate_data_key,
    )

_LAZY_ENVELOPE = frozenset({"blind_index", "decrypt_secret", "encrypt_secret", "rotate_data_key"})

__all__ = [
    "SM2_DEFAULT_USER_ID",
    "CryptoConfigurationError",
    "CryptoError",
    "DecryptionError",
    "InvalidKeyError",
    "Sm2Provider",
    "UnknownKeyError",
    "blind_index",
    "decrypt_secret",
    "encrypt_secret",
    "generate_sm4_key",
    "get_sm2_provider",
    "hkdf_sm3",
    "hmac_sm3",
    "hmac_sm3_hex",
    "hmac_sm3_verify",
    "normalize_private_key",
    "normalize_public_key",
    "provider_name",
    "rotate_data_key",
    "signature_from_raw",
    "signature_to_raw",
    "sm3_digest",
    "sm3_hasher",
    "sm3_hex",
    "sm4_decrypt",
    "sm4_encrypt",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_ENVELOPE:
        return getattr(importlib.import_module("govshare.core.crypto.envelope"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
