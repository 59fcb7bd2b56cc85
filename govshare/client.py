"""Python client of the govshare data plane (``/dp/v1/``): signed query, verify and file calls.

Needs only the standard library (``urllib``) and :mod:`govshare.core.crypto` (SM2/SM3/SM4 through
``cryptography`` and Tongsuo/gmssl); it does not need Django or a configured project::

    from govshare.client import GovshareClient

    gs = GovshareClient("https://gs.example.gov.cn", APP_KEY, APP_SECRET, operator="张三",
                        sm2_private_key=PRIV_HEX, sm2_public_key=PUB_HEX)   # SM2 only for L4 resources
    gs.query("445100/101001/000001", keys=["445102198001010011"], case_number="BJ2025-001",
             item_code="11445100MB2D1234XY", purpose="社保参保登记核验")
    gs.verify(CODE, "445102198001010011", {"person_name": "张三"}, case_number=..., item_code=..., purpose=...)
    f = gs.file(CODE, "xlsx", encrypt=True)           # decrypted with the SM2 private key
    open("data.xlsx", "wb").write(f.content)

The signing scheme is described in docs/dataplane.md and implemented by :func:`sign`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from govshare.exchange.dataplane import gsf
from govshare.exchange.dataplane.signing import (
    HEADER_CASE_NUMBER,
    HEADER_ITEM_CODE,
    HEADER_OPERATOR,
    HEADER_PURPOSE,
    QueryLike,
    canonical_string,
    encode_header_value,
    encoded_query,
)
from govshare.exchange.dataplane.signing import sign as _sign

__all__ = ["FileResult", "GovshareClient", "GovshareError", "Transport", "sign", "urllib_transport", "wsgi_transport"]

#: ``transport(method, url, headers, body) -> (status, headers with lower-case names, body)``
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]

LABEL_PREFIX = "x-gs-data-label-"


def sign(method: str, path: str, query: QueryLike, body: bytes, secret: str | bytes, timestamp: str | int | None,
         nonce: str | None, *, app_key: str | None = None, sm2_private_key: str | None = None,
         sm2_public_key: str | None = None) -> dict[str, str]:
    """The signing headers of one request (``X-GS-Timestamp``, ``X-GS-Nonce``, ``X-GS-Signature``, plus
    ``X-GS-AppKey`` and ``X-GS-SM2-Signature`` when given the key and an SM2 key pair)."""
    return _sign(method, path, query, body, secret, timestamp, nonce, app_key=app_key,
                 sm2_private_key=sm2_private_key, sm2_public_key=sm2_public_key)


class GovshareError(Exception):
    """A refused or failed call: ``code`` is the data plane's error code (docs/dataplane.md)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


@dataclass
class FileResult:
    content: bytes  # decrypted when the file was encrypted
    headers: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)  # decoded X-GS-Data-Label-* values
    encrypted: bool = False
    raw: bytes = b""  # the bytes as received


def _labels(headers: Mapping[str, str]) -> dict[str, str]:
    """The decoded ``X-GS-Data-Label-*`` headers: ``{"Resource", "Level", "Grant", "Purpose", "Expires"}``."""
    return {k[len(LABEL_PREFIX):].capitalize(): unquote(v) for k, v in headers.items()
            if k.lower().startswith(LABEL_PREFIX)}


def urllib_transport(timeout: float = 30.0) -> Transport:
    def send(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("only http and https URLs")
        req = urllib.request.Request(url, data=body if method != "GET" else None, headers=headers,  # noqa: S310
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    return send


def wsgi_transport(app: Callable[..., Iterable[bytes]], *, remote_addr: str = "127.0.0.1") -> Transport:
    """Call a WSGI application in process (tests, benchmarks, embedding), with real WSGI environs."""
    import io

    def send(method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote(parts.path, encoding="latin-1"),
            "QUERY_STRING": parts.query, "SERVER_NAME": parts.hostname or "testserver",
            "SERVER_PORT": str(parts.port or 80), "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": remote_addr,
            "wsgi.version": (1, 0), "wsgi.url_scheme": parts.scheme or "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body)) if body else "",
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ["HTTP_" + key] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = {k.lower(): v for k, v in response_headers}

        result = app(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], data

    return send


class GovshareClient:
    def __init__(self, base_url: str, app_key: str, app_secret: str, *, sm2_private_key: str | None = None,
                 sm2_public_key: str | None = None, operator: str | None = None, case_number: str | None = None,
                 item_code: str | None = None, purpose: str | None = None, timeout: float = 30.0,
                 transport: Transport | None = None, clock: Callable[[], float] = time.time) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.base_path = parts.path.rstrip("/")
        self.app_key = app_key
        self.app_secret = app_secret
        self.sm2_private_key = sm2_private_key
        self.sm2_public_key = sm2_public_key
        self.defaults = {"operator": operator, "case_number": case_number, "item_code": item_code,
                         "purpose": purpose}
        self.transport = transport or urllib_transport(timeout)
        self.clock = clock  # seconds since the epoch, for X-GS-Timestamp (correct a known clock skew here)
        self.last_headers: dict[str, str] = {}
        self.last_labels: dict[str, str] = {}  # decoded X-GS-Data-Label-* of the last query / verify

    # -- the three calls -------------------------------------------------------------------------------------

    def query(self, resource: str, *, keys: list[str] | None = None, filters: Mapping[str, Any] | None = None,
              filter: str | None = None, cursor: str | None = None, limit: int | None = None,
              items: list[str] | None = None, **refs: str | None) -> dict[str, Any]:
        """Records by key (``keys``) or by filter (``filters`` / ``filter`` text, ``cursor``, ``limit``)."""
        body: dict[str, Any] = {"resource": resource}
        for name, value in (("keys", keys), ("filters", filters), ("filter", filter), ("cursor", cursor),
                            ("limit", limit), ("items", items)):
            if value is not None:
                body[name] = value
        return self._json("POST", "/dp/v1/query", body, refs)

    def verify(self, resource: str, key: str, claims: Mapping[str, Any], **refs: str | None) -> dict[str, Any]:
        """Whether the record with ``key`` carries the claimed values (per item, or ``all_match`` only)."""
        return self._json("POST", "/dp/v1/verify", {"resource": resource, "key": key, "claims": dict(claims)}, refs)

    def file(self, resource: str, format: str = "csv", *, encrypt: bool = False,
             sm2_private_key: str | None = None, **refs: str | None) -> FileResult:
        """The granted view as CSV or XLSX; with ``encrypt`` the file is SM4-encrypted in transit and decrypted
        here with the system's SM2 private key."""
        query: dict[str, str] = {"resource": resource, "format": format}
        if encrypt:
            query["encrypt"] = "sm4"
        _, headers, data = self.request("GET", "/dp/v1/file", query=query, refs=refs)
        labels = _labels(headers)
        if "x-gs-wrapped-key" not in headers:
            return FileResult(content=data, headers=headers, labels=labels, raw=data)
        private = sm2_private_key or self.sm2_private_key
        if not private:
            raise ValueError("the file is encrypted: an SM2 private key is needed to decrypt it")
        from govshare.core.crypto.sm2 import get_sm2_provider

        key = get_sm2_provider().decrypt(private, bytes.fromhex(headers["x-gs-wrapped-key"]))
        return FileResult(content=gsf.decrypt_frames(key, data), headers=headers, labels=labels, encrypted=True,
                          raw=data)

    def changes(self, resource: str, *, after: int = 0, limit: int | None = None, snapshot: bool = False,
                after_key: str | None = None, **refs: str | None) -> dict[str, Any]:
        """One page of the subscription change log (``GET /dp/v1/changes``): changes after the cursor ``after``,
        projected through the grant; continue with ``after=answer["next_after"]`` while ``has_more``. With
        ``snapshot`` the current records (initial data), paged by ``after_key``."""
        unknown = set(refs) - {"operator", "case_number", "item_code", "purpose"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        query: dict[str, str] = {"resource": resource}
        if snapshot:
            query["snapshot"] = "1"
            if after_key:
                query["after_key"] = after_key
        else:
            query["after"] = str(after)
        if limit is not None:
            query["limit"] = str(limit)
        _, headers, data = self.request("GET", "/dp/v1/changes", query=query, refs=refs)
        self.last_headers = headers
        answer: dict[str, Any] = json.loads(data)
        return answer

    # -- plumbing --------------------------------------------------------------------------------------------

    def canonical(self, method: str, path: str, query: QueryLike, body: bytes, timestamp: str, nonce: str) -> str:
        return canonical_string(method, self.base_path + path, query, body, timestamp, nonce)

    def request(self, method: str, path: str, *, query: QueryLike = None, body: bytes = b"",
                refs: Mapping[str, str | None] | None = None, timestamp: str | int | None = None,
                nonce: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one signed request; raises :class:`GovshareError` for an error answer."""
        ts = int(self.clock()) if timestamp is None else timestamp
        headers = sign(method, self.base_path + path, query, body, self.app_secret, ts, nonce,
                       app_key=self.app_key, sm2_private_key=self.sm2_private_key,
                       sm2_public_key=self.sm2_public_key)
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        names = {"operator": HEADER_OPERATOR, "case_number": HEADER_CASE_NUMBER, "item_code": HEADER_ITEM_CODE,
                 "purpose": HEADER_PURPOSE}
        for name, header in names.items():
            value = (refs or {}).get(name) or self.defaults.get(name)
            if value:
                headers[header] = encode_header_value(value)
        qs = encoded_query(query)
        url = self.base_url + path + (f"?{qs}" if qs else "")
        status, response_headers, data = self.transport(method, url, headers, body)
        if status >= 400:
            try:
                err = json.loads(data)["error"]
                raise GovshareError(status, err["code"], err["message"], err.get("details"), response_headers)
            except (ValueError, KeyError, TypeError):
                raise GovshareError(status, "http_error", data[:200].decode("utf-8", "replace"),
                                    headers=response_headers) from None
        return status, response_headers, data

    def _json(self, method: str, path: str, payload: dict[str, Any], refs: Mapping[str, str | None]) -> dict[str, Any]:
        unknown = set(refs) - {"operator", "case_number", "item_code", "purpose"}
        if unknown:
            raise TypeError(f"unexpected arguments: {sorted(unknown)}")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        _, headers, data = self.request(method, path, body=body, refs=refs)
        self.last_headers = headers
        self.last_labels = _labels(headers)
        answer: dict[str, Any] = json.loads(data)
        return answer
