"""Errors raised by ``govshare.core.crypto``.

They are internal errors, not :class:`govshare.core.errors.DomainError`: a token that does not decrypt or
a key that does not load is an integrity or configuration problem on the server. Callers that check
attacker-supplied input (a signed request, say) translate them into a domain error themselves.
"""

from __future__ import annotations

__all__ = ["CryptoConfigurationError", "CryptoError", "DecryptionError", "InvalidKeyError", "UnknownKeyError"]


class CryptoError(Exception):
    """Base class of every error raised by ``govshare.core.crypto``."""


class CryptoConfigurationError(CryptoError):
    """A missing or malformed setting (KEK), or a forced SM2 provider that is not available."""


class InvalidKeyError(CryptoError, ValueError):
    """A key of the wrong length, encoding or range, or a public key that is not on the SM2 curve."""


class DecryptionError(CryptoError):
    """Ciphertext that is malformed, was tampered with, or was encrypted under another key or context."""


class UnknownKeyError(DecryptionError):
    """A token names a data key (or a data key names a KEK) that this node does not have."""
