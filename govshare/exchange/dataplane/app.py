"""The lean data-plane WSGI callable (DESIGN.md §4 "Control plane and data plane").

Mounted by path prefix in :mod:`govshare.wsgi` beside Django, in the same process, with the same settings and
models, but without Django's request cycle: no middleware chain, no URL resolver, no request/response objects,
no model instances on the hot path. A call costs: one read of the authorization epoch, the HMAC-SM3 check,
one short write transaction (nonce + counters, :mod:`.limits`), one indexed lookup, masking in process, and
one audit event made durable by group commit before the answer.

Routes: ``POST /dp/v1/query``, ``POST /dp/v1/verify``, ``GET /dp/v1/file``, plus the endpoints other apps add
with :func:`register_endpoint` (the subscription pull, licence lookups), which go through the same signing,
grant resolution, limits and audit. Every call, allowed or refused, is one audit event
``dataplane.<endpoint>``; a refused call never touches the data, so it cannot tell whether a record exists.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from govshare.core.context import request_context
from govshare.core.unavailable import RETRY_AFTER_SECONDS, is_database_unavailable
from govshare.exchange.dataplane import audit, authlimit, files, limits, query, signing, verify
from govshare.exchange.dataplane.auth import (
    Caller,
    authenticate,
    check_level,
    header,
    read_references,
    resolve_grant,
)
from govshare.exchange.dataplane.cache import AuthzCache, GrantInfo, read_epoch
from govshare.exchange.dataplane.conf import Conf, get_conf
from govshare.exchange.dataplane.responses import DataPlaneError, Response, error_response, json_response

logger = logging.getLogger("govshare.dataplane")

PREFIX = "/dp/v1/"
ROUTES = {("POST", "/dp/v1/query"): "query", ("POST", "/dp/v1/verify"): "verify", ("GET", "/dp/v1/file"): "file"}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Endpoint:
    """A data-plane endpoint contributed by another app (registered at start-up, in ``AppConfig.ready``).

    ``name`` is the endpoint's name in audit events (``dataplane.<name>``); ``mode`` the exchange mode
    (:class:`govshare.exchange.choices.ExchangeMode`) the grant must allow. ``payload(call, raw_query, body)``
    parses the request and sets ``call.resource`` (a resource code); ``plan(call, grant, payload)`` validates it
    against the grant (raising :class:`DataPlaneError`) and sets ``call.items`` / ``call.keys`` for the audit
    event; ``execute(call, grant, plan)`` answers. Nothing runs before the signature, nonce, grant, level and
    limit checks have passed, exactly as for the built-in endpoints.
    """

    name: str
    method: str
    path: str
    mode: str
    payload: Callable[[Call, str, bytes], dict[str, Any]]
    plan: Callable[[Call, GrantInfo, dict[str, Any]], Any]
    execute: Callable[[Call, GrantInfo, Any], Response]
    openapi_operation: dict[str, Any] | None = None  # the OpenAPI operation object; signing headers are added
    openapi_schemas: dict[str, Any] | None = None  # component schemas the operation refers to


_EXTENSIONS: dict[str, Endpoint] = {}


def register_endpoint(endpoint: Endpoint) -> None:
    if not endpoint.path.startswith(PREFIX) or endpoint.name in ("query", "verify", "file", "unknown"):
        raise ValueError(f"bad data-plane endpoint {endpoint.name} {endpoint.path}")
    ROUTES[(endpoint.method.upper(), endpoint.path)] = endpoint.name
    _EXTENSIONS[endpoint.name] = endpoint


def extension_endpoints() -> list[Endpoint]:
    return list(_EXTENSIONS.values())


@dataclass
class Call:
    """What one call did, for its audit event."""

    endpoint: str
    request_id: str
    client_ip: str
    started: float
    conf: Conf
    caller: Caller = field(default_factory=Caller)
    resource: str = ""
    grant: GrantInfo | None = None
    items: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    key_hmacs: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def hmacs(self) -> list[str]:
        if self.key_hmacs is None:
            self.key_hmacs = list(dict.fromkeys(audit.key_hmac(k) for k in self.keys))
        return self.key_hmacs

    def event(self, *, action: str, result: str, code: str, status: int, data: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        c, g = self.caller, self.grant
        body = {
            "mode": self.endpoint, "resource": self.resource, "grant": g.id if g else "",
            "system": c.system.id if c.system else "", "app_key": c.app_key, "operator": c.operator,
            "case_number": c.case_number, "item_code": c.item_code, "purpose": c.purpose, "items": self.items,
            "key_hmacs": self.hmacs(), "result": code, "status": status,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 2), **self.extra, **(data or {}),
        }
        return {
            "action": action, "actor_id": c.app_key, "actor_label": c.label,
            "department_id": c.system.department_id if c.system and c.authenticated else "",
            "node_code": self.conf.node_code, "target_type": "grant" if g else "resource",
            "target_id": g.id if g else self.resource, "result": result, "request_id": self.request_id,
            "client_ip": self.client_ip, "data": body,
        }

    def log(self, **kw: Any) -> None:
        audit.log(self.event(**kw), group_commit=self.conf.audit_group_commit, timeout=self.conf.audit_wait)


class _Body:
    """The WSGI response iterable; recycles the DB connection when the server closes it (streamed files)."""

    def __init__(self, chunks: Iterable[bytes], managed: bool) -> None:
        self._chunks = chunks
        self._managed = managed

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            if self._managed:
                close_old_connections()


class DataPlane:
    """The WSGI application. One per process; tests make two to play two processes (each has its cache)."""

    def __init__(self, cache: AuthzCache | None = None, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.cache = cache or AuthzCache()
        self.clock = clock or timezone.now  # tests move it to check expiry

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Like Django's request_started/finished: recycle the connection per request, except inside a
        # transaction opened by the caller (tests), where closing would break it.
        managed = not connection.in_atomic_block
        if managed:
            close_old_connections()
        rid = str(environ.get("HTTP_X_REQUEST_ID", ""))
        rid = rid if _REQUEST_ID.fullmatch(rid) else ""
        ip = str(environ.get("REMOTE_ADDR", ""))
        try:
            with request_context(rid or None, ip) as rid:
                response = self.handle(environ, rid, ip)
        except BaseException:
            if managed:
                close_old_connections()
            raise
        headers = [("Content-Type", response.content_type), ("X-GS-Request-Id", rid), ("Cache-Control", "no-store"),
                   ("X-Content-Type-Options", "nosniff"), *response.headers]
        if response.length is not None:
            headers.append(("Content-Length", str(response.length)))
        start_response(response.status_line, headers)
        return _Body(response.body, managed)

    # ------------------------------------------------------------------------------------------------------------

    def handle(self, environ: dict[str, Any], rid: str, ip: str) -> Response:
        conf = get_conf()
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
        endpoint = ROUTES.get((method, path), "")
        call = Call(endpoint=endpoint or "unknown", request_id=rid, client_ip=ip, started=time.perf_counter(),
                    conf=conf)
        result, alert = "ok", None
        try:
            if not endpoint:
                known = any(p == path for _, p in ROUTES)
                raise DataPlaneError("method_not_allowed" if known else "not_found")
            response, alert = self.serve(call, environ, method, path)
            code, status = "ok", response.status
        except DataPlaneError as exc:
            response, result, code, status = error_response(exc), "denied", exc.code, exc.status
        except Exception as exc:
            if is_database_unavailable(exc):
                logger.warning("dataplane: database unavailable (request %s): %s", rid, exc)
                return error_response(DataPlaneError("database_unavailable",
                                                     headers=[("Retry-After", str(RETRY_AFTER_SECONDS))]))
            logger.exception("dataplane: unexpected error (request %s)", rid)
            internal = DataPlaneError("internal_error")
            response, result, code, status = error_response(internal), "failed", internal.code, internal.status
        if call.grant is not None:
            response.headers.extend(_labels(call.grant))
        try:
            call.log(action=f"dataplane.{call.endpoint}", result=result, code=code, status=status)
            if alert is not None:
                call.log(action="dataplane.verify_enumeration_alert", result="ok", code="alert", status=status,
                         data=alert)
        except Exception:
            logger.exception("dataplane: audit event could not be written; the answer is withheld (request %s)", rid)
            close = getattr(response.body, "close", None)
            if close is not None:
                close()
            return error_response(DataPlaneError("audit_unavailable"))
        return response

    def serve(self, call: Call, environ: dict[str, Any], method: str, path: str
              ) -> tuple[Response, dict[str, Any] | None]:
        conf, caller = call.conf, call.caller
        body = _read_body(environ, conf.max_body_bytes)
        raw_query = str(environ.get("QUERY_STRING", ""))
        now = self.clock()
        today = timezone.localdate(now)
        snap = self.cache.snapshot(read_epoch(), conf.cache_max_age)
        address = str(environ.get("REMOTE_ADDR", ""))
        caller.app_key = header(environ, signing.HEADER_APP_KEY)[:64]  # for the audit event of a throttled call
        authlimit.check(app_key=caller.app_key, address=address, now=now)
        try:
            authenticate(environ, caller, method=method, path=path, query=raw_query, body=body, snap=snap, now=now,
                         window=conf.timestamp_window)
        except DataPlaneError as exc:
            if exc.code in authlimit.COUNTED:
                authlimit.record(app_key=caller.app_key, address=address, now=now)
            raise
        nonce = f"{caller.app_key}:{caller.nonce}"
        expires = now + dt.timedelta(seconds=conf.timestamp_window + 60)
        try:
            read_references(environ, caller)
            payload = self.payload(call, raw_query, body)
            extension = _EXTENSIONS.get(call.endpoint)
            mode = extension.mode if extension is not None else call.endpoint
            grant = call.grant = resolve_grant(snap, caller, call.resource, mode, today)
            check_level(grant, caller)
            plan = self.plan(call, grant, payload)
        except DataPlaneError:
            # An authentic request is remembered even when refused, so it cannot be replayed later.
            limits.admit(nonce_value=nonce, nonce_expires=expires, grant_db_id=None, day=today, counters=[])
            raise
        claim = limits.Claim(plan.key_hmac, plan.claim_hash) if isinstance(plan, verify.VerifyPlan) else None
        counters = limits.counters_for(
            minute=timezone.localtime(now), day=today, rate_limit=grant.rate_limit_per_minute,
            daily_quota=grant.daily_quota, verify_key_hmac=claim.key_hmac if claim else None,
            verify_quota=grant.verify_quota_per_key)
        admission = limits.admit(nonce_value=nonce, nonce_expires=expires, grant_db_id=grant.db_id, day=today,
                                 counters=counters, claim=claim)
        limits.maybe_purge(now=now, today=today, interval=conf.purge_interval,
                           retention_days=conf.counter_retention_days)
        alert = None
        distinct = admission.distinct_claims
        if claim is not None and distinct is not None and distinct >= conf.enumeration_threshold:
            alert = {"distinct_claims": distinct, "threshold": conf.enumeration_threshold}
        return self.execute(call, grant, plan), alert

    # ------------------------------------------------------------------------------------------------------------

    def payload(self, call: Call, raw_query: str, body: bytes) -> dict[str, Any]:
        extension = _EXTENSIONS.get(call.endpoint)
        if extension is not None:
            return extension.payload(call, raw_query, body)
        if call.endpoint == "file":
            if body:
                raise DataPlaneError("bad_request", "GET 请求不能带请求体 (no body on GET)")
            params: dict[str, str] = {}
            for name, value in signing.query_pairs(raw_query):
                if name not in ("resource", "format", "encrypt") or name in params:
                    raise query.bad(f"查询参数无效或重复: {name} (unknown or repeated parameter)", name)
                params[name] = value
            call.resource = query.resource_code(params)
            return params
        if raw_query:
            raise DataPlaneError("bad_request", "POST 接口不接受查询参数 (no query string on POST)")
        payload = query.parse_json(body)
        call.resource = query.resource_code(payload)
        return payload

    def plan(self, call: Call, grant: GrantInfo, payload: dict[str, Any]) -> Any:
        extension = _EXTENSIONS.get(call.endpoint)
        if extension is not None:
            return extension.plan(call, grant, payload)
        if call.endpoint == "query":
            qplan = query.plan_query(grant, payload, call.conf)
            call.items, call.keys = qplan.columns, list(qplan.keys or [])
            call.extra["by"] = "keys" if qplan.keys is not None else "filter"
            return qplan
        if call.endpoint == "verify":
            vplan = verify.plan_verify(grant, payload)
            call.items, call.key_hmacs = list(vplan.claims), [vplan.key_hmac]
            return vplan
        assert call.caller.system is not None
        fplan = files.plan_file(grant, call.caller.system, payload)
        call.items = fplan.columns
        call.extra.update({"format": fplan.format, "encrypted": fplan.encrypt})
        return fplan

    def execute(self, call: Call, grant: GrantInfo, plan: Any) -> Response:
        extension = _EXTENSIONS.get(call.endpoint)
        if extension is not None:
            return extension.execute(call, grant, plan)
        if isinstance(plan, query.QueryPlan):
            answer, looked_up = query.run_query(grant, plan, call.conf)
            if plan.keys is None:
                call.keys = looked_up
            call.extra["count"] = answer["count"]
            return json_response(answer)
        if isinstance(plan, verify.VerifyPlan):
            return json_response(verify.run_verify(grant, plan))
        return self.file_response(call, grant, plan)

    def file_response(self, call: Call, grant: GrantInfo, plan: files.FilePlan) -> Response:
        label = _label_args(grant)
        done_call = call

        def done(stats: files.FileStats, complete: bool) -> None:
            try:
                with request_context(done_call.request_id, done_call.client_ip):
                    done_call.extra.update({"rows": stats.rows, "bytes": stats.bytes,
                                            "sm3": stats.digest.finalize().hex(), "complete": complete})
                    done_call.log(action="dataplane.file_completed", result="ok" if complete else "failed",
                                  code="ok" if complete else "aborted", status=200)
            except Exception:
                logger.exception("dataplane: file completion event not written (request %s)", done_call.request_id)

        chunks = files.body(grant, plan, label, page_rows=call.conf.file_page_rows,
                            chunk_bytes=call.conf.file_chunk_bytes, stats=files.FileStats(), done=done)
        filename = grant.resource.code.replace("/", "_") + "." + plan.format
        headers = [("Content-Disposition", f'attachment; filename="{filename}{".gsf" if plan.encrypt else ""}"')]
        content_type = files.CONTENT_TYPES[plan.format]
        if plan.encrypt:
            headers += [("X-GS-Wrapped-Key", plan.wrapped_key), ("X-GS-Encryption", "SM4-GCM-GSF1"),
                        ("X-GS-Plain-Content-Type", content_type)]
            content_type = "application/octet-stream"
        return Response(status=200, body=chunks, content_type=content_type, headers=headers)


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise DataPlaneError("bad_request", "Content-Length 无效 (bad Content-Length)") from None
    if length < 0:
        raise DataPlaneError("bad_request", "Content-Length 无效 (bad Content-Length)")
    if length > limit:
        raise DataPlaneError("too_large", details={"limit": limit})
    if not length:
        return b""
    data = bytes(environ["wsgi.input"].read(length))
    if len(data) != length:
        raise DataPlaneError("bad_request", "请求体不完整 (incomplete body)")
    return data


def _label_args(grant: GrantInfo) -> dict[str, Any]:
    return {"resource_code": grant.resource.code, "level": grant.resource.level, "grant_id": grant.id,
            "purpose": grant.purpose, "expires": grant.valid_to}


def _labels(grant: GrantInfo) -> list[tuple[str, str]]:
    from govshare.exchange.watermark import label_headers

    return list(label_headers(**_label_args(grant)).items())


application = DataPlane()
