"""SM2 (GB/T 32918-2016) signatures and public-key encryption behind a small provider interface.

Two interchangeable providers implement :class:`Sm2Provider`:

- :class:`TongsuoSm2` over ``tongsuopy`` (Tongsuo, the OpenSSL fork with the national algorithms):
  fast, but its wheel exists for Linux x86_64 only;
- :class:`GmsslSm2` over pure-Python ``gmssl``: slow, runs anywhere (ARM 信创 servers: 鲲鹏, 飞腾).

:func:`get_sm2_provider` picks Tongsuo when it imports and passes a known-answer self-test, else gmssl;
``GOVSHARE_SM2_PROVIDER=tongsuo|gmssl`` forces one. A certified module (GM/T 0018 密码机) plugs in by
implementing :class:`Sm2Provider` and calling :func:`set_sm2_provider`.

Encodings, identical for every provider (the adapters normalise the libraries' own formats):

- private key: 64 lowercase hex characters (the scalar d, 1 <= d <= n-2);
- public key: ``04 || X || Y`` as 130 lowercase hex characters (uncompressed SEC1 point);
  :func:`normalize_public_key` also accepts bare ``X || Y`` (what gmssl uses) and compressed points;
- signature: DER ``SEQUENCE { INTEGER r, INTEGER s }`` over SM3(Z || M), with Z computed per
  GB/T 32918.2 from the default user ID ``1234567812345678``. :func:`signature_to_raw` /
  :func:`signature_from_raw` convert to and from the 64-byte ``r || s`` some peers use;
- ciphertext: ``C1 || C3 || C2`` (GB/T 32918.4 order), C1 an uncompressed point with its ``04`` byte.
  :func:`ciphertext_to_asn1` / :func:`ciphertext_from_asn1` convert to and from the GM/T 0009 ASN.1
  form that OpenSSL/Tongsuo produce.

Adapter fixes for gmssl 3.2.2 (the tests check each):

- ``CryptSM2(public_key=...)`` strips a leading "04" with ``str.lstrip("04")``, which also eats any
  leading '0'/'4' digits of X; the adapter sets the bare ``X || Y`` attribute directly instead.
- gmssl draws the signing and encryption nonce k from :mod:`random` (Mersenne Twister, predictable: a
  known k reveals the private key). The adapter always passes k from :mod:`secrets` for signing, and
  implements encryption and decryption itself on gmssl's point arithmetic.
- gmssl's ``decrypt`` computes C3 but never compares it; the adapter checks it (constant time).
- gmssl does not check that r, s lie in [1, n-1] nor that points lie on the curve; the adapter does.
- gmssl hashes with its pure-Python SM3 (about 9 s per megabyte here); the adapter computes Z and
  e = SM3(Z || M) with ``cryptography`` and hands gmssl only the 32-byte e.

Timings per operation, measured on this machine (x86_64, 2 vCPUs, Python 3.11.7, tongsuopy 1.0.1,
gmssl 3.2.2; 256-byte message, 16-byte plaintext for encryption; ranges over three runs of 2,000
Tongsuo / 100 gmssl operations each, with other jobs on the machine) by a throwaway script that calls
each provider's methods in a ``time.perf_counter`` loop, run as
``PYTHONPATH=. /tmp/venvtest/bin/python /tmp/sm2_bench.py``:

==========  ==============  ==============  ==============  ==============
provider    sign            verify          encrypt         decrypt
==========  ==============  ==============  ==============  ==============
tongsuo     0.43-0.56 ms    0.34-0.46 ms    0.73-0.92 ms    0.35-0.45 ms
gmssl       5.5-6.8 ms      11.7-12.9 ms    10.4-13.9 ms    5.3-5.9 ms
==========  ==============  ==============  ==============  ==============

gmssl verification costs two scalar multiplications, signing and decryption one.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from govshare.core.crypto.errors import (
    CryptoConfigurationError,
    CryptoError,
    DecryptionError,
    InvalidKeyError,
)
from govshare.core.crypto.sm3 import sm3_digest

__all__ = [
    "PROVIDER_ENV_VAR",
    "SM2_DEFAULT_USER_ID",
    "GmsslSm2",
    "Sm2Provider",
    "TongsuoSm2",
    "ciphertext_from_asn1",
    "ciphertext_to_asn1",
    "get_sm2_provider",
    "normalize_private_key",
    "normalize_public_key",
    "provider_name",
    "reset_sm2_provider",
    "set_sm2_provider",
    "signature_from_raw",
    "signature_to_raw",
    "sm2_z",
]

logger = logging.getLogger("govshare.crypto")

PROVIDER_ENV_VAR = "GOVSHARE_SM2_PROVIDER"
SM2_DEFAULT_USER_ID = b"1234567812345678"

# Recommended curve parameters, GB/T 32918.5-2017.
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

_COORD = 32  # bytes per coordinate / scalar
_C1_LEN = 1 + 2 * _COORD
_C3_LEN = 32

# GB/T 32918.5-2017 Annex A (= GM/T 0003.5-2012 A.2): key, message and signature on the recommended curve
# with user ID 1234567812345678. Used for the provider self-test; the unit tests also use it.
_KAT_PUBLIC = (
    "04"
    "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
)
_KAT_MESSAGE = b"message digest"
_KAT_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
_KAT_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA


@runtime_checkable
class Sm2Provider(Protocol):
    """What the platform needs from an SM2 implementation. Keys and signatures use the module encodings."""

    name: str

    def generate_keypair(self) -> tuple[str, str]:
        """Return ``(private_hex, public_hex)``."""
        ...

    def sign(self, private_hex: str, public_hex: str, data: bytes) -> bytes:
        """DER signature of ``data`` (SM3 with Z from the default user ID). ``public_hex`` must match."""
        ...

    def verify(self, public_hex: str, data: bytes, signature: bytes) -> bool:
        """True only for a valid DER signature; False for a wrong or malformed signature.

        Raises :class:`InvalidKeyError` for an unusable public key (a configuration error).
        """
        ...

    def encrypt(self, public_hex: str, data: bytes) -> bytes:
        """SM2 public-key encryption, ``C1 || C3 || C2``."""
        ...

    def decrypt(self, private_hex: str, data: bytes) -> bytes:
        """Inverse of :meth:`encrypt`; raises :class:`DecryptionError` on a bad or tampered ciphertext."""
        ...


# --------------------------------------------------------------------------------------------------
# Encodings shared by every provider
# --------------------------------------------------------------------------------------------------


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < _P and 0 <= y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0


def _decode_hex(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidKeyError(f"{what} must be a hex string, not {type(value).__name__}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidKeyError(f"{what} is not valid hex") from None


def _point_from_bytes(raw: bytes, what: str) -> tuple[int, int]:
    """Parse an uncompressed (04), compressed (02/03) or bare X||Y point and check it is on the curve."""
    if len(raw) == 2 * _COORD:
        raw = b"\x04" + raw
    if len(raw) == _C1_LEN and raw[0] == 4:
        x = int.from_bytes(raw[1 : 1 + _COORD], "big")
        y = int.from_bytes(raw[1 + _COORD :], "big")
    elif len(raw) == 1 + _COORD and raw[0] in (2, 3):
        x = int.from_bytes(raw[1:], "big")
        if x >= _P:
            raise InvalidKeyError(f"{what}: X coordinate out of range")
        # p = 3 (mod 4), so a square root is a single exponentiation.
        rhs = (x * x * x + _A * x + _B) % _P
        y = pow(rhs, (_P + 1) // 4, _P)
        if (y * y) % _P != rhs:
            raise InvalidKeyError(f"{what}: no curve point has this X coordinate")
        if (y & 1) != (raw[0] & 1):
            y = _P - y
    else:
        raise InvalidKeyError(f"{what}: expected a 65-byte uncompressed or 33-byte compressed point")
    if not _on_curve(x, y):
        raise InvalidKeyError(f"{what} is not a point on the SM2 curve")
    return x, y


def _point_hex(x: int, y: int) -> str:
    return "04" + x.to_bytes(_COORD, "big").hex() + y.to_bytes(_COORD, "big").hex()


@functools.lru_cache(maxsize=1024)
def normalize_public_key(public_hex: str) -> str:
    """Return the canonical ``04 || X || Y`` lowercase hex form; raise :class:`InvalidKeyError` if invalid.

    Accepts uncompressed (``04...``, 130 hex), compressed (``02``/``03``, 66 hex) and bare ``X || Y``
    (128 hex) in either case, and checks that the point lies on the SM2 curve.
    """
    if not isinstance(public_hex, str):
        raise InvalidKeyError(f"SM2 public key must be a hex string, not {type(public_hex).__name__}")
    x, y = _point_from_bytes(_decode_hex(public_hex.strip(), "SM2 public key"), "SM2 public key")
    return _point_hex(x, y)


def normalize_private_key(private_hex: str) -> str:
    """Return the 64-character lowercase hex form; raise :class:`InvalidKeyError` unless 1 <= d <= n-2."""
    if not isinstance(private_hex, str):
        raise InvalidKeyError(f"SM2 private key must be a hex string, not {type(private_hex).__name__}")
    raw = _decode_hex(private_hex.strip(), "SM2 private key")
    if len(raw) != _COORD:
        raise InvalidKeyError(f"SM2 private key must be {_COORD} bytes (64 hex), got {len(raw)} bytes")
    d = int.from_bytes(raw, "big")
    if not 1 <= d <= _N - 2:
        raise InvalidKeyError("SM2 private key is out of range [1, n-2]")
    return raw.hex()


def _private_scalar(private_hex: str) -> int:
    return int(normalize_private_key(private_hex), 16)


def _public_xy(public_hex: str) -> tuple[int, int]:
    canonical = normalize_public_key(public_hex)
    return int(canonical[2:66], 16), int(canonical[66:], 16)


def sm2_z(public_hex: str, user_id: bytes = SM2_DEFAULT_USER_ID) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GB/T 32918.2-2016 §5.5."""
    if len(user_id) * 8 > 0xFFFF:
        raise ValueError("SM2 user ID is too long")
    x, y = _public_xy(public_hex)
    parts = [
        (len(user_id) * 8).to_bytes(2, "big"),
        user_id,
        *(v.to_bytes(_COORD, "big") for v in (_A, _B, _GX, _GY, x, y)),
    ]
    return sm3_digest(b"".join(parts))


def _parse_signature(signature: bytes) -> tuple[int, int] | None:
    """Strict DER ``SEQUENCE {r, s}`` with 1 <= r, s <= n-1, or None."""
    if not isinstance(signature, bytes | bytearray | memoryview):
        return None
    der = bytes(signature)
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        return None
    # Re-encoding must give the same bytes: rejects BER variants and trailing garbage.
    if not (1 <= r < _N and 1 <= s < _N) or encode_dss_signature(r, s) != der:
        return None
    return r, s


def signature_to_raw(signature: bytes) -> bytes:
    """DER signature -> 64-byte ``r || s``; raises ValueError for a malformed signature."""
    parsed = _parse_signature(signature)
    if parsed is None:
        raise ValueError("not a valid DER-encoded SM2 signature")
    r, s = parsed
    return r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big")


def signature_from_raw(raw: bytes) -> bytes:
    """64-byte ``r || s`` -> DER signature; raises ValueError for a wrong length or out-of-range value."""
    if len(raw) != 2 * _COORD:
        raise ValueError(f"raw SM2 signature must be {2 * _COORD} bytes, got {len(raw)}")
    r = int.from_bytes(raw[:_COORD], "big")
    s = int.from_bytes(raw[_COORD:], "big")
    if not (1 <= r < _N and 1 <= s < _N):
        raise ValueError("raw SM2 signature value out of range")
    return encode_dss_signature(r, s)


# Minimal strict DER for the GM/T 0009 ciphertext: SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3,
# OCTET STRING C2 }. Only definite, minimal lengths and minimal non-negative integers are accepted.


def _der_tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _der_read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    if pos + 2 > len(data) or data[pos] != tag:
        raise ValueError("unexpected DER tag")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise ValueError("non-minimal DER length")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER value")
    return data[pos : pos + length], pos + length


def _der_uint(body: bytes) -> int:
    if not body or body[0] & 0x80 or (len(body) > 1 and body[0] == 0 and not body[1] & 0x80):
        raise ValueError("bad DER INTEGER")
    return int.from_bytes(body, "big")


def ciphertext_to_asn1(ciphertext: bytes) -> bytes:
    """``C1 || C3 || C2`` -> GM/T 0009 ASN.1 DER (the OpenSSL/Tongsuo form)."""
    c1, c3, c2 = _split_ciphertext(ciphertext)
    x, y = c1

    def der_int(v: int) -> bytes:
        return _der_tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))

    body = der_int(x) + der_int(y) + _der_tlv(0x04, c3) + _der_tlv(0x04, c2)
    return _der_tlv(0x30, body)


def ciphertext_from_asn1(der: bytes) -> bytes:
    """GM/T 0009 ASN.1 DER -> ``C1 || C3 || C2``; raises :class:`DecryptionError` if malformed."""
    try:
        body, end = _der_read(bytes(der), 0, 0x30)
        if end != len(der):
            raise ValueError("trailing data after DER SEQUENCE")
        xb, pos = _der_read(body, 0, 0x02)
        yb, pos = _der_read(body, pos, 0x02)
        c3, pos = _der_read(body, pos, 0x04)
        c2, pos = _der_read(body, pos, 0x04)
        if pos != len(body):
            raise ValueError("trailing data inside DER SEQUENCE")
        x, y = _der_uint(xb), _der_uint(yb)
        if x >= _P or y >= _P:
            raise ValueError("C1 coordinate out of range")
    except ValueError as exc:
        raise DecryptionError(f"malformed SM2 ASN.1 ciphertext: {exc}") from None
    if len(c3) != _C3_LEN or not c2:
        raise DecryptionError("malformed SM2 ASN.1 ciphertext: bad C3 or empty C2")
    raw = bytes.fromhex(_point_hex(x, y)) + c3 + c2
    _split_ciphertext(raw)  # C1 must lie on the curve
    return raw


def _split_ciphertext(ciphertext: bytes) -> tuple[tuple[int, int], bytes, bytes]:
    data = bytes(ciphertext)
    if len(data) <= _C1_LEN + _C3_LEN or data[0] != 4:
        raise DecryptionError("SM2 ciphertext must be 04 || X || Y || C3 || C2 with a non-empty C2")
    try:
        c1 = _point_from_bytes(data[:_C1_LEN], "SM2 ciphertext C1")
    except InvalidKeyError as exc:
        raise DecryptionError(str(exc)) from None
    return c1, data[_C1_LEN : _C1_LEN + _C3_LEN], data[_C1_LEN + _C3_LEN :]


def _kdf(shared: bytes, length: int) -> bytes:
    """KDF of GB/T 32918.4-2016 §5.4.3: SM3(Z || ct) for ct = 1, 2, ... (32-bit big-endian)."""
    out = bytearray()
    counter = 1
    while len(out) < length:
        out += sm3_digest(shared + counter.to_bytes(4, "big"))
        counter += 1
    return bytes(out[:length])


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _check_plaintext(data: bytes) -> bytes:
    raw = bytes(data)
    if not raw:
        raise ValueError("SM2 cannot encrypt an empty message")
    return raw


# --------------------------------------------------------------------------------------------------
# Pure-Python provider (gmssl)
# --------------------------------------------------------------------------------------------------


class GmsslSm2:
    """SM2 over ``gmssl.sm2.CryptSM2`` (pure Python). See the module docstring for the fixes it applies."""

    name: str = "gmssl"

    def __init__(self) -> None:
        from gmssl import sm2 as gmssl_sm2

        self._crypt_cls: Callable[..., Any] = gmssl_sm2.CryptSM2
        # Scalar multiplication only reads the curve table, so one helper instance serves every call.
        self._arith = self._new(private_hex="", xy_hex="")

    def _new(self, *, private_hex: str, xy_hex: str) -> Any:
        # public_key="" sidesteps the lstrip("04") bug; the bare X||Y is then set directly.
        obj = self._crypt_cls(private_key=private_hex, public_key="", mode=1, asn1=False)
        obj.public_key = xy_hex
        return obj

    def _mul(self, k: int, x: int, y: int) -> tuple[int, int]:
        """k * (x, y) with gmssl's Jacobian arithmetic; k in [1, n-1] and (x, y) on the curve."""
        point = self._arith._kg(k, f"{x:064x}{y:064x}")
        if not point:
            raise CryptoError("SM2 scalar multiplication reached the point at infinity")
        return int(point[:64], 16), int(point[64:128], 16)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - the provider is a process-wide singleton
    def _public_of(self, private_hex: str) -> str:
        x, y = self._mul(int(private_hex, 16), _GX, _GY)
        return _point_hex(x, y)

    def generate_keypair(self) -> tuple[str, str]:
        d = secrets.randbelow(_N - 2) + 1
        private_hex = d.to_bytes(_COORD, "big").hex()
        return private_hex, self._public_of(private_hex)

    def _digest(self, public_hex: str, data: bytes) -> bytes:
        return sm3_digest(sm2_z(public_hex) + bytes(data))

    def sign(self, private_hex: str, public_hex: str, data: bytes) -> bytes:
        private_hex = normalize_private_key(private_hex)
        public_hex = normalize_public_key(public_hex)
        if self._public_of(private_hex) != public_hex:
            raise InvalidKeyError("SM2 public key does not belong to the private key")
        while True:
            signature = self._sign_with_k(private_hex, public_hex, data, secrets.randbelow(_N - 1) + 1)
            if signature is not None:
                return signature

    def _sign_with_k(self, private_hex: str, public_hex: str, data: bytes, k: int) -> bytes | None:
        """Sign with a given nonce k (known-answer tests only); None for the degenerate r/s cases."""
        signer = self._new(private_hex=private_hex, xy_hex=public_hex[2:])
        rs = signer.sign(self._digest(public_hex, data), f"{k:064x}")
        if not rs:  # r = 0, r + k = n or s = 0: negligible, the caller draws another k
            return None
        return encode_dss_signature(int(rs[:64], 16), int(rs[64:], 16))

    def verify(self, public_hex: str, data: bytes, signature: bytes) -> bool:
        public_hex = normalize_public_key(public_hex)
        parsed = _parse_signature(signature)
        if parsed is None:
            return False
        verifier = self._new(private_hex="", xy_hex=public_hex[2:])
        try:
            r, s = parsed
            return bool(verifier.verify(f"{r:064x}{s:064x}", self._digest(public_hex, data)))
        except (ValueError, TypeError, ArithmeticError):
            return False

    def _encrypt_with_k(self, public_hex: str, data: bytes, k: int) -> bytes:
        px, py = _public_xy(public_hex)
        x1, y1 = self._mul(k, _GX, _GY)
        x2, y2 = self._mul(k, px, py)
        x2b, y2b = x2.to_bytes(_COORD, "big"), y2.to_bytes(_COORD, "big")
        t = _kdf(x2b + y2b, len(data))
        if not any(t):
            raise CryptoError("SM2 KDF output is all zero")  # caller retries with a fresh k
        c3 = sm3_digest(x2b + data + y2b)
        return bytes.fromhex(_point_hex(x1, y1)) + c3 + _xor(data, t)

    def encrypt(self, public_hex: str, data: bytes) -> bytes:
        plaintext = _check_plaintext(data)
        public_hex = normalize_public_key(public_hex)
        while True:
            try:
                return self._encrypt_with_k(public_hex, plaintext, secrets.randbelow(_N - 1) + 1)
            except CryptoError:
                continue

    def decrypt(self, private_hex: str, data: bytes) -> bytes:
        d = _private_scalar(private_hex)
        (x1, y1), c3, c2 = _split_ciphertext(data)
        x2, y2 = self._mul(d, x1, y1)
        x2b, y2b = x2.to_bytes(_COORD, "big"), y2.to_bytes(_COORD, "big")
        t = _kdf(x2b + y2b, len(c2))
        if not any(t):
            raise DecryptionError("SM2 KDF output is all zero")
        plaintext = _xor(c2, t)
        if not hmac.compare_digest(sm3_digest(x2b + plaintext + y2b), c3):
            raise DecryptionError("SM2 ciphertext check value C3 does not match (wrong key or tampered)")
        return plaintext


# --------------------------------------------------------------------------------------------------
# Tongsuo provider (tongsuopy)
# --------------------------------------------------------------------------------------------------


class TongsuoSm2:
    """SM2 over ``tongsuopy``; raises ImportError (or OSError) from the constructor when unavailable.

    Signing uses the public ``cryptography``-style API: an EC key on the SM2 curve with ECDSA(SM3) is
    SM2 with the Z value of the default ID in Tongsuo. tongsuopy has no public SM2 encryption API, so
    :meth:`encrypt`/:meth:`decrypt` call ``EVP_PKEY_encrypt``/``EVP_PKEY_decrypt`` through its cffi
    binding (checked at construction; without them they delegate to :class:`GmsslSm2`).
    """

    name: str = "tongsuo"

    def __init__(self) -> None:
        import tongsuopy
        from tongsuopy.backends.tongsuo.backend import backend
        from tongsuopy.crypto import hashes, serialization
        from tongsuopy.crypto.asymciphers import ec
        from tongsuopy.crypto.exceptions import InvalidSignature

        self.version: str = str(getattr(tongsuopy, "__version__", "?"))
        self._ec: Any = ec
        self._algorithm: Any = ec.ECDSA(hashes.SM3())
        self._serialization: Any = serialization
        self._invalid_signature: type[Exception] = InvalidSignature
        self._backend: Any = backend
        lib = backend._lib
        self._has_pkey_encrypt = all(
            hasattr(lib, fn)
            for fn in (
                "EVP_PKEY_CTX_new",
                "EVP_PKEY_CTX_free",
                "EVP_PKEY_encrypt_init",
                "EVP_PKEY_encrypt",
                "EVP_PKEY_decrypt_init",
                "EVP_PKEY_decrypt",
            )
        )
        self._fallback: GmsslSm2 | None = None

    def _public_bytes(self, public_key: Any) -> bytes:
        s = self._serialization
        return bytes(public_key.public_bytes(s.Encoding.X962, s.PublicFormat.UncompressedPoint))

    @functools.lru_cache(maxsize=256)  # noqa: B019 - the provider is a process-wide singleton
    def _private_key(self, private_hex: str) -> Any:
        return self._ec.derive_private_key(int(private_hex, 16), self._ec.SM2())

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - the provider is a process-wide singleton
    def _public_key(self, public_hex: str) -> Any:
        return self._ec.EllipticCurvePublicKey.from_encoded_point(self._ec.SM2(), bytes.fromhex(public_hex))

    def generate_keypair(self) -> tuple[str, str]:
        while True:
            key = self._ec.generate_private_key(self._ec.SM2())
            d = int(key.private_numbers().private_value)
            if 1 <= d <= _N - 2:  # SM2 excludes d = n-1, which a generic EC key generator may return
                return d.to_bytes(_COORD, "big").hex(), self._public_bytes(key.public_key()).hex()

    def sign(self, private_hex: str, public_hex: str, data: bytes) -> bytes:
        key = self._private_key(normalize_private_key(private_hex))
        if self._public_bytes(key.public_key()).hex() != normalize_public_key(public_hex):
            raise InvalidKeyError("SM2 public key does not belong to the private key")
        der = bytes(key.sign(bytes(data), self._algorithm))
        parsed = _parse_signature(der)
        if parsed is None:  # pragma: no cover - would be a Tongsuo bug
            raise CryptoError("Tongsuo produced a malformed SM2 signature")
        return der

    def verify(self, public_hex: str, data: bytes, signature: bytes) -> bool:
        key = self._public_key(normalize_public_key(public_hex))
        parsed = _parse_signature(signature)
        if parsed is None:
            return False
        try:
            key.verify(encode_dss_signature(*parsed), bytes(data), self._algorithm)
        except self._invalid_signature:
            return False
        except Exception:  # fail closed on any library error for attacker-supplied input
            self._backend._consume_errors()
            return False
        return True

    def _gmssl(self) -> GmsslSm2:
        if self._fallback is None:
            self._fallback = GmsslSm2()
        return self._fallback

    def _pkey_op(self, evp_pkey: Any, data: bytes, *, encrypt: bool) -> bytes:
        lib, ffi = self._backend._lib, self._backend._ffi
        ctx = lib.EVP_PKEY_CTX_new(evp_pkey, ffi.NULL)
        if ctx == ffi.NULL:
            self._backend._consume_errors()
            raise CryptoError("EVP_PKEY_CTX_new failed")
        ctx = ffi.gc(ctx, lib.EVP_PKEY_CTX_free)
        init, op = (
            (lib.EVP_PKEY_encrypt_init, lib.EVP_PKEY_encrypt)
            if encrypt
            else (lib.EVP_PKEY_decrypt_init, lib.EVP_PKEY_decrypt)
        )
        out_len = ffi.new("size_t *")
        if init(ctx) != 1 or op(ctx, ffi.NULL, out_len, data, len(data)) != 1:
            self._backend._consume_errors()
            raise DecryptionError("SM2 operation rejected by Tongsuo")
        buf = ffi.new("unsigned char[]", out_len[0])
        if op(ctx, buf, out_len, data, len(data)) != 1:
            self._backend._consume_errors()
            raise DecryptionError("SM2 ciphertext rejected by Tongsuo (wrong key or tampered)")
        return bytes(ffi.buffer(buf)[: out_len[0]])

    def encrypt(self, public_hex: str, data: bytes) -> bytes:
        plaintext = _check_plaintext(data)
        public_hex = normalize_public_key(public_hex)
        if not self._has_pkey_encrypt:
            return self._gmssl().encrypt(public_hex, plaintext)
        key = self._public_key(public_hex)._evp_pkey
        for _ in range(16):
            ciphertext = ciphertext_from_asn1(self._pkey_op(key, plaintext, encrypt=True))
            # GB/T 32918.4 (A5): when the KDF output t is all zero the encrypter must pick a new k. Tongsuo does
            # not, and t is all zero exactly when C2 == M (C2 = M xor t): for a 1-byte message 1 time in 256,
            # giving a ciphertext every conforming decrypter refuses. Encrypt again (a fresh k each time).
            if _split_ciphertext(ciphertext)[2] != plaintext:
                return ciphertext
        raise CryptoError("SM2 encryption kept producing an all-zero KDF output")

    def decrypt(self, private_hex: str, data: bytes) -> bytes:
        private_hex = normalize_private_key(private_hex)
        if not self._has_pkey_encrypt:
            return self._gmssl().decrypt(private_hex, data)
        der = ciphertext_to_asn1(data)  # validates C1 on the curve and the lengths first
        return self._pkey_op(self._private_key(private_hex)._evp_pkey, der, encrypt=False)


# --------------------------------------------------------------------------------------------------
# Provider selection
# --------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_provider: Sm2Provider | None = None


def _self_test(provider: Sm2Provider) -> None:
    """Known-answer and round-trip checks; raises CryptoError when the provider is unusable."""
    kat = encode_dss_signature(_KAT_R, _KAT_S)
    if not provider.verify(_KAT_PUBLIC, _KAT_MESSAGE, kat):
        raise CryptoError("GB/T 32918.5 signature vector does not verify (wrong user ID or Z?)")
    if provider.verify(_KAT_PUBLIC, _KAT_MESSAGE + b".", kat):
        raise CryptoError("a signature verified for the wrong message")
    private_hex, public_hex = provider.generate_keypair()
    if not provider.verify(public_hex, b"self-test", provider.sign(private_hex, public_hex, b"self-test")):
        raise CryptoError("sign/verify round trip failed")
    if provider.decrypt(private_hex, provider.encrypt(public_hex, b"self-test")) != b"self-test":
        raise CryptoError("encrypt/decrypt round trip failed")


def _load_tongsuo() -> TongsuoSm2:
    provider = TongsuoSm2()
    _self_test(provider)
    return provider


def _select() -> Sm2Provider:
    wanted = os.environ.get(PROVIDER_ENV_VAR, "").strip().lower()
    if wanted not in ("", "auto", "tongsuo", "gmssl"):
        raise CryptoConfigurationError(f"{PROVIDER_ENV_VAR}={wanted!r}: expected 'tongsuo', 'gmssl' or 'auto'")
    if wanted == "gmssl":
        logger.info("SM2 provider: gmssl (pure Python; forced by %s)", PROVIDER_ENV_VAR)
        return GmsslSm2()
    try:
        tongsuo = _load_tongsuo()
    except Exception as exc:  # ImportError, OSError from the shared library, or a failed self-test
        if wanted == "tongsuo":
            raise CryptoConfigurationError(f"{PROVIDER_ENV_VAR}=tongsuo but tongsuopy is not usable: {exc!r}") from exc
        logger.info("SM2 provider: gmssl (pure Python; tongsuopy not usable: %r)", exc)
        return GmsslSm2()
    how = f"forced by {PROVIDER_ENV_VAR}" if wanted == "tongsuo" else "auto-selected"
    logger.info("SM2 provider: tongsuo (tongsuopy %s; %s)", tongsuo.version, how)
    return tongsuo


def get_sm2_provider() -> Sm2Provider:
    """The process-wide SM2 provider, chosen (and logged) once on first use."""
    global _provider
    provider = _provider
    if provider is None:
        with _lock:
            if _provider is None:
                _provider = _select()
            provider = _provider
    return provider


def set_sm2_provider(provider: Sm2Provider) -> None:
    """Install a provider (for instance a GM/T 0018 密码机 adapter) in place of the automatic choice."""
    global _provider
    if not isinstance(provider, Sm2Provider):
        raise TypeError("provider does not implement Sm2Provider")
    with _lock:
        _provider = provider
    logger.info("SM2 provider: %s (installed explicitly)", provider.name)


def reset_sm2_provider() -> None:
    """Forget the chosen provider, so that the next :func:`get_sm2_provider` chooses again (tests)."""
    global _provider
    with _lock:
        _provider = None


def provider_name() -> str:
    """Name of the SM2 provider in use: ``"tongsuo"``, ``"gmssl"`` or an installed provider's name."""
    return get_sm2_provider().name
