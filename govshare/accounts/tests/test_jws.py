"""ID token signature checks (accounts.jws) for each accepted algorithm family, and the refusals."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from govshare.accounts import jws


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _n(value: int, size: int | None = None) -> str:
    return _b64(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


def _token(alg: str, key: object, claims: dict, kid: str = "k1") -> str:
    signing_input = f"{_b64(json.dumps({'alg': alg, 'kid': kid}).encode())}.{_b64(json.dumps(claims).encode())}"
    data = signing_input.encode()
    if alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256":
        sig = key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{_b64(sig)}"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _rsa_jwk(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict:
    pub = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "n": _n(pub.n), "e": _n(pub.e)}


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_tokens_verify(rsa_key: rsa.RSAPrivateKey, alg: str) -> None:
    assert jws.verify(_token(alg, rsa_key, {"sub": "a"}), [_rsa_jwk(rsa_key)]) == {"sub": "a"}


def test_ec_token_verifies_and_tampering_is_caught() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "kid": "k1", "x": _n(pub.x, 32), "y": _n(pub.y, 32)}
    token = _token("ES256", key, {"sub": "a"})
    assert jws.verify(token, [jwk]) == {"sub": "a"}
    head, _body, sig = token.split(".")
    forged = f"{head}.{_b64(json.dumps({'sub': 'admin'}).encode())}.{sig}"
    with pytest.raises(jws.InvalidToken, match="signature"):
        jws.verify(forged, [jwk])


def test_refusals(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = _rsa_jwk(rsa_key)
    good = _token("RS256", rsa_key, {"sub": "a"})
    head, body, sig = good.split(".")
    none = f"{_b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}.{body}."
    hs = f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{body}.{sig}"
    for token in (none, hs, "a.b", "not-a-token", f"{head}.{body}.%%%"):
        with pytest.raises(jws.InvalidToken):
            jws.verify(token, [jwk])
    with pytest.raises(jws.InvalidToken, match="no key"):
        jws.verify(good, [{**jwk, "kid": "other"}])
    with pytest.raises(jws.InvalidToken, match="no key"):
        jws.verify(good, [{**jwk, "use": "enc"}])
    with pytest.raises(jws.InvalidToken, match="not accepted"):
        jws.verify(good, [jwk], algorithms=frozenset({"ES256"}))
