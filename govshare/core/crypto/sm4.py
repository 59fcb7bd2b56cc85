"""SM4 authenticated encryption (GB/T 32907-2016 block cipher in GCM mode), backed by ``cryptography``.

Mode choice: **SM4-GCM** (the AEAD mode RFC 8998 specifies for SM4; the tests check it against RFC 8998
Appendix A.1). It gives confidentiality and integrity in one pass under one key, and its associated data binds
a ciphertext to its context (key id, purpose) so that it cannot be moved to another field or key.
The alternative, SM4-CBC with padding plus HMAC-SM3 (encrypt-then-MAC), needs two keys, padding and
careful ordering, and was only meant as a fallback for a ``cryptography`` without SM4-GCM. The
``cryptography`` wheels (x86_64 and aarch64 alike) bundle OpenSSL 3 or later, which has SM4-GCM (here:
cryptography 50 with OpenSSL 4.0.3, supported). So there is a single format and no fallback: on a build
without it (``cryptography`` compiled against a system OpenSSL 1.1.1, which has SM4 but not SM4-GCM, or
an OpenSSL built with ``no-sm4``) the functions raise :class:`CryptoConfigurationError` with a clear
message instead of writing a second, less portable format. :func:`sm4_gcm_available` reports it.

Wire format of :func:`sm4_encrypt`: ``nonce (12 bytes) || ciphertext || tag (16 bytes)``. Nonces are
random; with 96-bit random nonces a single key stays within the usual 2^-32 collision bound for 2^32
messages, far beyond what one data key encrypts before rotation.
"""

from __future__ import annotations

import functools
import os

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from govshare.core.crypto.errors import CryptoConfigurationError, DecryptionError, InvalidKeyError
from govshare.core.crypto.sm3 import BytesLike

__all__ = [
    "SM4_KEY_SIZE",
    "SM4_NONCE_SIZE",
    "SM4_OVERHEAD",
    "SM4_TAG_SIZE",
    "generate_sm4_key",
    "sm4_decrypt",
    "sm4_encrypt",
    "sm4_gcm_available",
]

SM4_KEY_SIZE = 16
SM4_NONCE_SIZE = 12
SM4_TAG_SIZE = 16
SM4_OVERHEAD = SM4_NONCE_SIZE + SM4_TAG_SIZE


@functools.cache
def sm4_gcm_available() -> bool:
    """Whether the linked OpenSSL implements SM4-GCM (checked once by a real encryption)."""
    try:
        _seal(bytes(SM4_KEY_SIZE), bytes(SM4_NONCE_SIZE), b"probe", b"")
    except (UnsupportedAlgorithm, ValueError):
        return False
    return True


def _require_gcm() -> None:
    if not sm4_gcm_available():
        raise CryptoConfigurationError(
            "the OpenSSL linked by 'cryptography' has no SM4-GCM; install the cryptography wheel "
            "(it bundles OpenSSL 3 with SM4) instead of a build against a system OpenSSL without SM4"
        )


def _check_key(key: BytesLike) -> bytes:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise InvalidKeyError(f"SM4 key must be bytes, not {type(key).__name__}")
    raw = bytes(key)
    if len(raw) != SM4_KEY_SIZE:
        raise InvalidKeyError(f"SM4 key must be {SM4_KEY_SIZE} bytes, got {len(raw)}")
    return raw


def _seal(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """SM4-GCM with an explicit nonce: ``ciphertext || tag``. Only for tests and :func:`sm4_encrypt`."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if associated_data:
        encryptor.authenticate_additional_data(associated_data)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return body + encryptor.tag


def _open(key: bytes, nonce: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """Inverse of :func:`_seal`; raises :class:`DecryptionError` when the tag does not match."""
    if len(sealed) < SM4_TAG_SIZE:
        raise DecryptionError("SM4-GCM ciphertext is shorter than its tag")
    body, tag = sealed[:-SM4_TAG_SIZE], sealed[-SM4_TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if associated_data:
        decryptor.authenticate_additional_data(associated_data)
    try:
        # GCM plaintext is released only after finalize() has checked the tag.
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionError("SM4-GCM authentication failed (wrong key, context or tampered data)") from None


def generate_sm4_key() -> bytes:
    """A fresh random 16-byte SM4 key from the operating system's CSPRNG."""
    return os.urandom(SM4_KEY_SIZE)


def sm4_encrypt(key: BytesLike, plaintext: BytesLike, *, associated_data: BytesLike = b"") -> bytes:
    """Encrypt and authenticate ``plaintext``: returns ``nonce || ciphertext || tag``.

    ``associated_data`` is authenticated but not encrypted; the same value must be given to decrypt.
    """
    raw_key = _check_key(key)
    _require_gcm()
    nonce = os.urandom(SM4_NONCE_SIZE)
    return nonce + _seal(raw_key, nonce, bytes(plaintext), bytes(associated_data))


def sm4_decrypt(key: BytesLike, blob: BytesLike, *, associated_data: BytesLike = b"") -> bytes:
    """Decrypt the output of :func:`sm4_encrypt`; raises :class:`DecryptionError` on any mismatch."""
    raw_key = _check_key(key)
    _require_gcm()
    data = bytes(blob)
    if len(data) < SM4_OVERHEAD:
        raise DecryptionError(f"SM4 ciphertext must be at least {SM4_OVERHEAD} bytes, got {len(data)}")
    return _open(raw_key, data[:SM4_NONCE_SIZE], data[SM4_NONCE_SIZE:], bytes(associated_data))
