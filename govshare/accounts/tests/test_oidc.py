"""Single sign-on (统一身份认证) against a fake OpenID Connect provider running in a local thread.

The fake speaks real HTTP: discovery document, JWKS, and a token endpoint that checks the client secret,
the redirect URI and the PKCE verifier before handing out an RS256-signed ID token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client

from govshare.accounts import oidc
from govshare.accounts.models import ExternalIdentity, User
from govshare.audit.models import AuditEvent
from govshare.core.crypto.envelope import decrypt_secret

pytestmark = pytest.mark.django_db

CLIENT_ID = "govshare-portal"
CLIENT_SECRET = "s3cret-for-tests"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(n: int) -> str:
    return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def sign_jwt(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str, alg: str = "RS256") -> str:
    head = _b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(sig)}"


@dataclass
class FakeProvider:
    key: rsa.RSAPrivateKey
    kid: str = "test-key-1"
    base: str = ""
    signing_key: rsa.RSAPrivateKey | None = None  # sign with another key (bad signature)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _int_b64(pub.n), "e": _int_b64(pub.e)}]}

    def authorize(self, url: str, *, sub: str, username: str = "", state: str | None = None) -> str:
        """The person signs in at the provider: returns the callback path + query the browser comes back with."""
        parts = urllib.parse.urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == self.base + "/authorize"
        q = dict(urllib.parse.parse_qsl(parts.query))
        assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
        assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
        assert "openid" in q["scope"].split() and q["nonce"] and q["state"]
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                            "nonce": q["nonce"], "sub": sub, "username": username}
        back = urllib.parse.urlsplit(q["redirect_uri"])
        return back.path + "?" + urllib.parse.urlencode({"code": code, "state": state or q["state"]})

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {"iss": self.base, "aud": CLIENT_ID, "sub": grant["sub"], "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"]}
        if grant["username"]:
            claims["preferred_username"] = grant["username"]
        token = sign_jwt(claims, self.signing_key or self.key, self.kid)
        return 200, {"access_token": secrets.token_urlsafe(8), "token_type": "Bearer", "id_token": token}


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                b = provider.base
                self._send(200, {"issuer": b, "authorization_endpoint": b + "/authorize",
                                 "token_endpoint": b + "/token", "jwks_uri": b + "/jwks",
                                 "response_types_supported": ["code"], "id_token_signing_alg_values_supported":
                                 ["RS256"], "code_challenge_methods_supported": ["S256"]})
            elif self.path == "/jwks":
                self._send(200, provider.jwks())
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if self.path == "/token":
                self._send(*provider.token(form, self.headers.get("Authorization", "")))
            else:
                self._send(404, {"error": "not_found"})

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def provider(rsa_key: rsa.RSAPrivateKey, settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the fake is local even where a proxy is configured
    fake = FakeProvider(key=rsa_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.GOVSHARE_OIDC = {"ISSUER": fake.base, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    oidc.clear_cache()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        oidc.clear_cache()


def _start(c: Client, next_url: str = "") -> str:
    r = c.get("/accounts/sso/login/" + (f"?next={next_url}" if next_url else ""))
    assert r.status_code == 302, r.content
    return r["Location"]


def _me(c: Client) -> str | None:
    r = c.get("/api/v1/auth/me")
    return r.json()["username"] if r.status_code == 200 else None


def _denied_reasons() -> list[str]:
    return list(AuditEvent.objects.filter(action="auth.sign_in", result="denied").order_by("seq")
                .values_list("data__reason", flat=True))


def test_sso_is_off_by_default(db: None, settings) -> None:
    settings.GOVSHARE_OIDC = {}
    assert "统一身份认证登录" not in Client().get("/accounts/login/").content.decode()
    assert Client().get("/accounts/sso/login/").status_code == 404
    assert Client().get("/accounts/sso/callback/?code=x&state=y").status_code == 404


def test_happy_path_links_the_subject_and_signs_in(provider: FakeProvider, consumer: User) -> None:
    c = Client()
    page = c.get("/accounts/login/").content.decode()
    assert "统一身份认证登录" in page and 'href="/accounts/sso/login/"' in page
    c.get("/accounts/login/")
    before = c.session.session_key
    callback = provider.authorize(_start(c, "/accounts/profile/"), sub="idp-0001", username=consumer.username)
    r = c.get(callback)
    assert r.status_code == 302 and r["Location"] == "/accounts/profile/"
    assert _me(c) == consumer.username
    assert c.session.session_key != before
    assert provider.token_requests[0]["code_verifier"]  # PKCE verifier sent (and checked by the provider)
    link = ExternalIdentity.objects.get(user=consumer)
    assert (link.issuer, link.subject) == (provider.base, "idp-0001")
    ok = AuditEvent.objects.get(action="auth.sign_in", result="ok", actor_id=str(consumer.pk))
    assert ok.data["via"] == "oidc"
    assert "已关联" in c.get("/accounts/profile/").content.decode()

    # Later sign-ins find the user by the stable subject, even if the provider's user name changed.
    again = Client()
    r = again.get(provider.authorize(_start(again), sub="idp-0001", username="renamed-at-provider"))
    assert r.status_code == 302 and _me(again) == consumer.username
    # The callback cannot be replayed (the state is used once, the code too).
    assert _me(Client()) is None


def test_bad_state_is_refused(provider: FakeProvider, consumer: User) -> None:
    c = Client()
    callback = provider.authorize(_start(c), sub="idp-0001", username=consumer.username, state="forged-state")
    r = c.get(callback, follow=True)
    assert "登录状态无效，请重新登录" in r.content.decode()
    assert _me(c) is None
    assert provider.token_requests == []  # the code was never redeemed
    assert _denied_reasons() == ["sso_bad_state"]
    # A callback without any sign-in started in this browser is refused the same way.
    r = Client().get("/accounts/sso/callback/?code=abc&state=def", follow=True)
    assert "登录状态无效" in r.content.decode()


def test_callback_cannot_be_replayed(provider: FakeProvider, consumer: User) -> None:
    c = Client()
    callback = provider.authorize(_start(c), sub="idp-0001", username=consumer.username)
    assert c.get(callback).status_code == 302 and _me(c) == consumer.username
    thief = Client()
    r = thief.get(callback, follow=True)
    assert "登录状态无效" in r.content.decode() and _me(thief) is None


def test_bad_signature_is_refused(provider: FakeProvider, consumer: User) -> None:
    provider.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # same kid, wrong key
    c = Client()
    r = c.get(provider.authorize(_start(c), sub="idp-0001", username=consumer.username), follow=True)
    assert "身份令牌签名无效" in r.content.decode()
    assert _me(c) is None
    assert not ExternalIdentity.objects.exists()
    assert _denied_reasons() == ["sso_bad_signature"]


def test_unknown_subject_is_refused_and_nobody_is_created(provider: FakeProvider, consumer: User) -> None:
    users = User.objects.count()
    c = Client()
    r = c.get(provider.authorize(_start(c), sub="idp-9999", username="stranger"), follow=True)
    assert "统一身份认证账号未关联本平台用户" in r.content.decode()
    assert _me(c) is None
    assert User.objects.count() == users and not ExternalIdentity.objects.exists()
    assert _denied_reasons() == ["sso_unknown_subject"]


def test_administrator_still_gives_the_platform_second_factor(provider: FakeProvider, sec_admin: User) -> None:
    seed = decrypt_secret(sec_admin.totp_secret_enc).decode()
    c = Client()
    r = c.get(provider.authorize(_start(c, "/accounts/profile/"), sub="idp-admin", username=sec_admin.username))
    assert r.status_code == 302 and r["Location"] == "/accounts/second-factor/"
    assert _me(c) is None
    page = c.get("/accounts/second-factor/").content.decode()
    assert "输入动态口令" in page and "totp-seed" not in page
    wrong = "000000" if pyotp.TOTP(seed).now() != "000000" else "111111"
    r = c.post("/accounts/second-factor/", {"code": wrong})
    assert "动态口令错误" in r.content.decode() and _me(c) is None
    r = c.post("/accounts/second-factor/", {"code": pyotp.TOTP(seed).now()})
    assert r.status_code == 302 and r["Location"] == "/accounts/profile/"
    assert _me(c) == sec_admin.username


def test_account_bound_to_one_subject_is_not_taken_over_by_another(provider: FakeProvider, consumer: User) -> None:
    c = Client()
    assert c.get(provider.authorize(_start(c), sub="idp-0001", username=consumer.username)).status_code == 302
    other = Client()
    r = other.get(provider.authorize(_start(other), sub="idp-0002", username=consumer.username), follow=True)
    assert "未关联本平台用户" in r.content.decode() and _me(other) is None


def test_provider_must_use_https_unless_local(db: None, settings) -> None:
    settings.GOVSHARE_OIDC = {"ISSUER": "http://idp.example.gov.cn", "CLIENT_ID": CLIENT_ID}
    oidc.clear_cache()
    r = Client().get("/accounts/sso/login/", follow=True)
    assert "须使用 HTTPS" in r.content.decode()


def test_id_token_claims_are_checked(rsa_key: rsa.RSAPrivateKey) -> None:
    cfg = oidc.OidcConfig(issuer="https://idp.example.gov.cn", client_id=CLIENT_ID)
    now = int(time.time())
    good = {"iss": cfg.issuer, "aud": CLIENT_ID, "sub": "s", "iat": now, "exp": now + 60, "nonce": "n"}
    oidc.check_claims(cfg, good, nonce="n")
    for bad in ({"iss": "https://other"}, {"aud": "someone-else"}, {"aud": [CLIENT_ID, "x"]},
                {"exp": now - 3600}, {"iat": now + 3600}, {"nonce": "other"}, {"sub": ""}):
        with pytest.raises(oidc.OidcError):
            oidc.check_claims(cfg, {**good, **bad}, nonce="n")


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "USERNAME_CLAIM", "TIMEOUT"):
        monkeypatch.delenv(f"GOVSHARE_OIDC_{name}", raising=False)
    assert oidc.load_config() is None  # off by default
    monkeypatch.setenv("GOVSHARE_OIDC_ISSUER", "https://idp.example.gov.cn/")
    assert oidc.load_config() is None  # a client id is needed too
    monkeypatch.setenv("GOVSHARE_OIDC_CLIENT_ID", "portal")
    monkeypatch.setenv("GOVSHARE_OIDC_USERNAME_CLAIM", "employee_no")
    monkeypatch.setenv("GOVSHARE_OIDC_TIMEOUT", "5")
    cfg = oidc.load_config()
    assert cfg is not None
    assert (cfg.issuer, cfg.client_id, cfg.username_claim, cfg.timeout) == (
        "https://idp.example.gov.cn", "portal", "employee_no", 5.0)
    assert cfg.label == "统一身份认证登录" and cfg.scopes == "openid profile"
