"""Verification of JWS compact serialisations (RFC 7515) with keys from a JWK set (RFC 7517), for OIDC ID tokens.

The signature mathematics is done by ``cryptography`` (a platform dependency); this module only parses the
token, picks the key by ``kid`` and algorithm family, and refuses everything else: ``alg: none``, HMAC
algorithms (an ID token signed with a shared secret is not accepted here), unknown algorithms, keys whose
``use``/``alg`` do not match, malformed encodings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384,
                                                  "512": hashes.SHA512}
_CURVES: dict[str, tuple[ec.EllipticCurve, int, str]] = {
    "ES256": (ec.SECP256R1(), 32, "P-256"), "ES384": (ec.SECP384R1(), 48, "P-384"),
    "ES512": (ec.SECP521R1(), 66, "P-521"),
}
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})


class InvalidToken(Exception):
    """The token is malformed, its signature does not verify, or no key fits."""


def b64url_decode(value: str) -> bytes:
    if not isinstance(value, str) or "=" in value:
        raise InvalidToken("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("not base64url") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int(jwk: Mapping[str, Any], name: str) -> int:
    return int.from_bytes(b64url_decode(str(jwk.get(name, ""))), "big")


def _verify_with(jwk: Mapping[str, Any], alg: str, signing_input: bytes, signature: bytes) -> bool:
    digest = _HASHES[alg[2:]]()
    try:
        if alg[:2] in ("RS", "PS"):
            if jwk.get("kty") != "RSA":
                return False
            rsa_key = rsa.RSAPublicNumbers(_int(jwk, "e"), _int(jwk, "n")).public_key()
            if rsa_key.key_size < 2048:
                return False
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15() if alg.startswith("RS")
                else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size))
            rsa_key.verify(signature, signing_input, pad, digest)
            return True
        curve, size, crv = _CURVES[alg]
        if jwk.get("kty") != "EC" or jwk.get("crv") != crv or len(signature) != 2 * size:
            return False
        ec_key = ec.EllipticCurvePublicNumbers(_int(jwk, "x"), _int(jwk, "y"), curve).public_key()
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
        ec_key.verify(der, signing_input, ec.ECDSA(digest))
        return True
    except (InvalidSignature, ValueError, InvalidToken):
        return False


def verify(token: str, keys: Sequence[Mapping[str, Any]], *, algorithms: frozenset[str] = ALGORITHMS) -> dict[str, Any]:
    """The payload of ``token`` (a JSON object) if its signature verifies with one of ``keys``; raises
    :class:`InvalidToken` otherwise. Claims are not checked here (see ``oidc.check_claims``)."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise InvalidToken("not a JWS compact serialisation")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("header or payload is not JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise InvalidToken("header or payload is not an object")
    alg = header.get("alg")
    if alg not in algorithms or alg not in ALGORITHMS:
        raise InvalidToken(f"algorithm not accepted: {alg!r}")
    if header.get("crit"):
        raise InvalidToken("critical header parameters are not supported")
    signature = b64url_decode(parts[2])
    kid = header.get("kid")
    candidates = [k for k in keys if isinstance(k, Mapping)
                  and (kid is None or k.get("kid") == kid)
                  and k.get("use", "sig") == "sig"
                  and k.get("alg", alg) == alg]
    if not candidates:
        raise InvalidToken("no key for this token")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if any(_verify_with(k, alg, signing_input, signature) for k in candidates):
        return payload
    raise InvalidToken("signature does not verify")
