"""Single sign-on with the city's identity provider (统一身份认证) over OpenID Connect.

Authorization-code flow with PKCE (S256), ``state`` and ``nonce`` (OpenID Connect Core 1.0 §3.1), ID token
signature checked against the provider's published keys (JWKS), then issuer, audience, expiry and nonce.
Configured by ``settings.GOVSHARE_OIDC`` (a dict) or else the ``GOVSHARE_OIDC_*`` environment variables;
off unless an issuer and a client id are set. See docs/sso.md.

This module speaks the protocol only; mapping the identity to a platform user is
``services.sso_sign_in`` and the pages are in ``views``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from govshare.accounts import jws

ENV_PREFIX = "GOVSHARE_OIDC_"
STATE_MAX_AGE = 600  # seconds between leaving for the provider and coming back
LEEWAY = 60  # seconds of clock skew tolerated on exp / iat / nbf
CACHE_SECONDS = 3600
MAX_RESPONSE_BYTES = 1024 * 1024


class OidcError(Exception):
    """The sign-in with the identity provider failed. ``reason`` is a short code for the audit log; the
    message (Chinese) is for the person."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str = ""
    scopes: str = "openid profile"
    username_claim: str = "preferred_username"
    redirect_uri: str = ""  # empty: this site's /accounts/sso/callback/ as seen by the browser
    label: str = "统一身份认证登录"
    authorization_endpoint: str = ""  # empty: from the provider's discovery document
    token_endpoint: str = ""
    jwks_uri: str = ""
    algorithms: str = "RS256 ES256 PS256"
    timeout: float = 10.0


def load_config() -> OidcConfig | None:
    """The configuration, or ``None`` when single sign-on is off (the default)."""
    source: dict[str, Any] | None = getattr(settings, "GOVSHARE_OIDC", None)
    if source is None:
        source = {k[len(ENV_PREFIX):]: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    issuer, client_id = str(source.get("ISSUER") or ""), str(source.get("CLIENT_ID") or "")
    if not issuer or not client_id:
        return None
    text = {name: str(source[name.upper()]) for name in OidcConfig.__dataclass_fields__
            if name not in ("issuer", "client_id", "timeout") and source.get(name.upper()) not in (None, "")}
    timeout = float(source.get("TIMEOUT") or OidcConfig.timeout)
    return OidcConfig(issuer=issuer.rstrip("/"), client_id=client_id, timeout=timeout, **text)


def _check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    loopback = host == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise OidcError("统一身份认证配置错误：须使用 HTTPS (provider URL must be https)", reason="sso_config")
    return url


def _http(cfg: OidcConfig, url: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = urllib.parse.urlencode(data).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cfg.client_secret:  # client_secret_basic (RFC 6749 §2.3.1)
            pair = f"{urllib.parse.quote(cfg.client_id, safe='')}:{urllib.parse.quote(cfg.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    request = urllib.request.Request(_check_url(url), data=body, headers=headers,  # noqa: S310 - https only
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=cfg.timeout) as resp:  # noqa: S310 - scheme checked above
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise OidcError(f"统一身份认证服务拒绝了请求 (provider answered HTTP {exc.code})",
                        reason="sso_provider_error") from None
    except (urllib.error.URLError, TimeoutError, OSError):
        raise OidcError("无法连接统一身份认证服务，请稍后再试 (provider unreachable)",
                        reason="sso_provider_unreachable") from None
    try:
        if len(raw) > MAX_RESPONSE_BYTES:
            raise ValueError("too large")
        doc = json.loads(raw)
    except ValueError:
        raise OidcError("统一身份认证服务的应答无效 (bad provider response)", reason="sso_provider_error") from None
    if not isinstance(doc, dict):
        raise OidcError("统一身份认证服务的应答无效 (bad provider response)", reason="sso_provider_error")
    return doc


_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _cached(key: str, fetch: Any, *, refresh: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now and not refresh:
        return hit[1]
    doc: dict[str, Any] = fetch()
    with _cache_lock:
        _cache[key] = (now + CACHE_SECONDS, doc)
    return doc


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def endpoints(cfg: OidcConfig) -> dict[str, str]:
    """authorization / token / jwks endpoints: configured ones, else the provider's discovery document."""
    found = {"authorization_endpoint": cfg.authorization_endpoint, "token_endpoint": cfg.token_endpoint,
             "jwks_uri": cfg.jwks_uri}
    if all(found.values()):
        return found
    doc = _cached("discovery:" + cfg.issuer,
                  lambda: _http(cfg, cfg.issuer + "/.well-known/openid-configuration"))
    if str(doc.get("issuer", "")).rstrip("/") != cfg.issuer:
        raise OidcError("统一身份认证配置错误：发现文档的 issuer 不符 (issuer mismatch)", reason="sso_config")
    for key in found:
        if not found[key]:
            found[key] = str(doc.get(key) or "")
        if not found[key]:
            raise OidcError(f"统一身份认证配置错误：缺少 {key}", reason="sso_config")
    return found


@dataclass(frozen=True)
class AuthState:
    """What the browser's session keeps between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    at: float

    def as_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_session(cls, value: Any) -> AuthState | None:
        if not isinstance(value, dict):
            return None
        try:
            return cls(**value)
        except TypeError:
            return None


def _challenge(verifier: str) -> str:
    return jws.b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def begin(cfg: OidcConfig, *, redirect_uri: str, next_url: str) -> tuple[str, AuthState]:
    """The provider's authorization URL to send the browser to, and the state to keep in its session."""
    auth = AuthState(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                     verifier=secrets.token_urlsafe(64), redirect_uri=cfg.redirect_uri or redirect_uri,
                     next=next_url, at=time.time())
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": cfg.client_id, "redirect_uri": auth.redirect_uri,
        "scope": cfg.scopes, "state": auth.state, "nonce": auth.nonce,
        "code_challenge": _challenge(auth.verifier), "code_challenge_method": "S256",
    })
    url = endpoints(cfg)["authorization_endpoint"]
    return f"{_check_url(url)}{'&' if '?' in url else '?'}{query}", auth


def check_claims(cfg: OidcConfig, claims: dict[str, Any], *, nonce: str, now: float | None = None) -> None:
    """ID token validation, OpenID Connect Core 1.0 §3.1.3.7 (after the signature)."""
    now = time.time() if now is None else now
    if str(claims.get("iss", "")).rstrip("/") != cfg.issuer:
        raise OidcError("身份令牌签发方不符 (issuer mismatch)", reason="sso_invalid_token")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if cfg.client_id not in audiences:
        raise OidcError("身份令牌不是签发给本平台的 (audience mismatch)", reason="sso_invalid_token")
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != cfg.client_id:
        raise OidcError("身份令牌不是签发给本平台的 (azp mismatch)", reason="sso_invalid_token")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + LEEWAY < now:
        raise OidcError("身份令牌已过期，请重新登录 (token expired)", reason="sso_invalid_token")
    if not isinstance(iat, int | float) or iat - LEEWAY > now:
        raise OidcError("身份令牌时间无效 (bad iat)", reason="sso_invalid_token")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf - LEEWAY > now:
        raise OidcError("身份令牌尚未生效 (token not yet valid)", reason="sso_invalid_token")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise OidcError("身份令牌与本次登录不符 (nonce mismatch)", reason="sso_invalid_token")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise OidcError("身份令牌缺少用户标识 (no subject)", reason="sso_invalid_token")


def _verify_id_token(cfg: OidcConfig, token: str, jwks_uri: str) -> dict[str, Any]:
    algorithms = frozenset(cfg.algorithms.split())
    for refresh in (False, True):  # the provider may have rotated its keys: fetch them again once
        keys = _cached("jwks:" + jwks_uri, lambda: _http(cfg, jwks_uri), refresh=refresh).get("keys")
        try:
            return jws.verify(token, keys if isinstance(keys, list) else [], algorithms=algorithms)
        except jws.InvalidToken as exc:
            if refresh or "no key" not in str(exc):
                raise OidcError("身份令牌签名无效 (ID token signature invalid)", reason="sso_bad_signature") from None
    raise AssertionError("unreachable")


def finish(cfg: OidcConfig, auth: AuthState | None, params: dict[str, str]) -> dict[str, Any]:
    """Check the provider's answer against the kept state, redeem the code (with the PKCE verifier) and return
    the verified ID token claims."""
    if auth is None or not params.get("state") or not secrets.compare_digest(params["state"], auth.state):
        raise OidcError("登录状态无效，请重新登录 (state mismatch)", reason="sso_bad_state")
    if time.time() - auth.at > STATE_MAX_AGE:
        raise OidcError("登录已超时，请重新登录 (sign-in took too long)", reason="sso_bad_state")
    if params.get("error"):
        raise OidcError("统一身份认证未通过：" + params.get("error_description", params["error"])[:200],
                        reason="sso_provider_refused")
    code = params.get("code", "")
    if not code:
        raise OidcError("统一身份认证应答缺少授权码 (no code)", reason="sso_provider_error")
    urls = endpoints(cfg)
    tokens = _http(cfg, urls["token_endpoint"], {
        "grant_type": "authorization_code", "code": code, "redirect_uri": auth.redirect_uri,
        "code_verifier": auth.verifier, "client_id": cfg.client_id,
    })
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("统一身份认证应答缺少身份令牌 (no id_token)", reason="sso_provider_error")
    claims = _verify_id_token(cfg, id_token, urls["jwks_uri"])
    check_claims(cfg, claims, nonce=auth.nonce)
    return claims
