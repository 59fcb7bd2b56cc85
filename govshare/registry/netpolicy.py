"""Outbound network policy: the ONE place where the platform decides whether it may connect somewhere.

DESIGN.md §6: connector hosts and webhook URLs come only from an allowlist kept by ``sys_admin`` (no SSRF
into the government network). Everything that opens an outbound connection — source connectors
(:mod:`govshare.connectors.drivers`), table sinks and webhooks (subscriptions) — calls this module first and
then connects to the *addresses it returned*, so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot redirect the connection.

Rules
-----
- A destination is allowed when an *active* :class:`~govshare.registry.models.AllowedHost` entry of the node
  (``node=None``: of any node of this installation) for the purpose (``connector`` / ``webhook``, or an
  entry for ``both``) and the port (an entry without a port allows any port) matches it: the host *name*
  equals an entry name exactly, or *every* address the name resolves to lies in an IP / CIDR entry.
- Link-local (169.254.0.0/16, fe80::/10), cloud metadata addresses (``OUTBOUND_METADATA_ADDRESSES``:
  169.254.169.254, fd00:ec2::254, Alibaba Cloud's 100.100.100.200) and the unspecified addresses (0.0.0.0,
  ::) are refused even when a CIDR entry or a listed name covers them, unless that exact address is listed.
- SQLite "hosts" are files: allowed only inside ``SQLITE_CONNECTOR_DIRS`` (default ``<GOVSHARE_HOME>/connect``)
  after resolving symlinks and ``..``.

A refusal is :class:`~govshare.core.errors.ValidationFailed` naming the caller's field (``host``, ``url``,
``database``) and the host; nothing is written by the check.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet

from govshare.accounts.choices import Role
from govshare.core.errors import ValidationFailed
from govshare.registry.models import AllowedHost, HostPurpose

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PURPOSES = (HostPurpose.CONNECTOR.value, HostPurpose.WEBHOOK.value)
DEFAULT_METADATA_ADDRESSES = ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
URL_MAX_LENGTH = 2000
# Roles that read the node's allowlist; only sys_admin changes it.
READERS = frozenset({Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


# ---------------------------------------------------------------------------------------------
# Parsing hosts and entries
# ---------------------------------------------------------------------------------------------


def _refuse(message: str, field: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(message, field=field, code="host_not_allowed", details=details)


def _address(value: str) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        addr = addr.ipv4_mapped or addr  # ::ffff:169.254.169.254 is 169.254.169.254
        # a zone id (fe80::1%eth0) is kept in str(addr); compare without it
    return addr


def normalise_host(raw: str, *, field: str = "host") -> str:
    """A host as stored and compared: an IP address in canonical form, or a lower-case IDNA DNS name.

    Raises :class:`ValidationFailed` (``field``) when it is neither."""
    if not isinstance(raw, str):
        raise ValidationFailed("主机必须是字符串 (host must be a string)", field=field)
    host = raw.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValidationFailed("主机不能为空 (host is required)", field=field)
    addr = _address(host)
    if addr is not None:
        return str(addr)
    host = host.rstrip(".").lower()
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ValidationFailed(f"主机名无效: {raw[:100]} (invalid host name)", field=field) from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValidationFailed(f"主机名无效: {raw[:100]} (invalid host name)", field=field)
    return ascii_host


@dataclass(frozen=True)
class Entry:
    """One parsed allowlist entry: kind ``name`` (exact DNS name), ``ip`` (one address) or ``net`` (CIDR)."""

    kind: str
    value: str
    network: IPNetwork | None
    port: int | None


def parse_entry_host(raw: str, *, field: str = "host") -> tuple[str, str]:
    """(kind, normalised host) of an allowlist entry: ``ip``, ``net`` (strict CIDR) or ``name``."""
    text = (raw or "").strip()
    if "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError:
            raise ValidationFailed(f"网段无效: {text[:100]}（主机位须为 0，例如 10.1.0.0/16） "
                                   "(invalid CIDR network: host bits must be zero)", field=field) from None
        if net.num_addresses == 1:
            return "ip", str(net.network_address)
        return "net", str(net)
    host = normalise_host(text, field=field)
    return ("ip" if _address(host) is not None else "name"), host


def _entry(row: AllowedHost) -> Entry:
    kind, value = parse_entry_host(row.host)
    network = ipaddress.ip_network(value) if kind in ("ip", "net") else None
    return Entry(kind=kind, value=value, network=network, port=row.port)


def active_entries(*, purpose: str, node: Any = None) -> list[Entry]:
    """The active entries that apply to ``purpose`` (its own entries and ``both``) on ``node``."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown outbound purpose {purpose!r}; one of {PURPOSES}")
    qs = AllowedHost.objects.filter(active=True, purpose__in=(purpose, HostPurpose.BOTH))
    if node is not None:
        qs = qs.filter(node_id=getattr(node, "pk", node))
    return [_entry(row) for row in qs]


def metadata_addresses() -> set[IPAddress]:
    raw = settings.GOVSHARE.get("OUTBOUND_METADATA_ADDRESSES", DEFAULT_METADATA_ADDRESSES)
    return {a for a in (_address(str(x)) for x in raw) if a is not None}


def _special(addr: IPAddress, metadata: set[IPAddress]) -> bool:
    """Addresses refused unless listed exactly: link-local, cloud metadata, unspecified."""
    return addr.is_unspecified or addr in metadata or any(addr in net for net in LINK_LOCAL if
                                                          addr.version == net.version)


def _covered(addr: IPAddress, entries: Iterable[Entry]) -> bool:
    return any(e.network is not None and addr.version == e.network.version and addr in e.network for e in entries)


def resolve(host: str, port: int | None) -> list[str]:
    """The addresses of ``host`` (itself when it is an IP address), in resolver order, de-duplicated."""
    if _address(host) is not None:
        return [host]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        addr = _address(str(info[4][0]).split("%", 1)[0])
        if addr is not None and str(addr) not in out:
            out.append(str(addr))
    return out


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


def check_host(host: str, port: int | None, *, purpose: str, node: Any = None, field: str = "host") -> list[str]:
    """Allow an outbound connection to ``host:port`` for ``purpose``, or raise ``ValidationFailed(field=field)``.

    Returns the resolved addresses (connect to these, not to the name, so that DNS rebinding cannot
    redirect the connection). ``port`` ``None`` matches only entries that allow any port."""
    name = normalise_host(host, field=field)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        raise ValidationFailed(f"端口无效: {port} (port must be 1-65535)", field=field, details={"host": name})
    label = f"{name}:{port}" if port is not None else name
    entries = [e for e in active_entries(purpose=purpose, node=node) if e.port is None or e.port == port]
    named = any(e.kind == "name" and e.value == name for e in entries)
    is_literal = _address(name) is not None
    if not entries or (not named and not is_literal and not any(e.network is not None for e in entries)):
        raise _refuse(f"主机 {label} 不在出站白名单中，请联系系统管理员添加 "
                      f"(host {label} is not on the outbound allowlist for {purpose})", field,
                      host=name, port=port, purpose=purpose)
    try:
        addresses = resolve(name, port)
    except (OSError, UnicodeError):
        raise _refuse(f"无法解析主机 {name} (cannot resolve host {name})", field, host=name, port=port) from None
    if not addresses:
        raise _refuse(f"无法解析主机 {name} (cannot resolve host {name})", field, host=name, port=port)
    metadata = metadata_addresses()
    exact = {e.value for e in entries if e.kind == "ip"}
    for text in addresses:
        addr = ipaddress.ip_address(text)
        if _special(addr, metadata) and text not in exact:
            raise _refuse(f"主机 {name} 指向链路本地或云元数据地址 {text}，已拒绝（除非白名单中精确列出该地址） "
                          f"(host {name} resolves to the link-local / metadata address {text}; refused unless "
                          "that exact address is listed)", field, host=name, port=port, address=text)
        if not named and not _covered(addr, entries):
            raise _refuse(f"主机 {label} 不在出站白名单中，请联系系统管理员添加 "
                          f"(host {label} is not on the outbound allowlist for {purpose})", field,
                          host=name, port=port, purpose=purpose, address=text)
    return addresses


def check_url(url: str, *, purpose: str = "webhook", node: Any = None, field: str = "url") -> list[str]:
    """Allow an outbound HTTP(S) request to ``url``: http/https only, no user name or password in the URL,
    then :func:`check_host` on its host and port (default 80 / 443). Returns the resolved addresses."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationFailed("URL 不能为空 (url is required)", field=field)
    if len(url) > URL_MAX_LENGTH or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValidationFailed("URL 过长或含空白/控制字符 (url too long or contains whitespace)", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed("URL 无效 (invalid url)", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationFailed("只允许 http 或 https 地址 (only http and https urls are allowed)", field=field)
    if "@" in parts.netloc:
        raise ValidationFailed("URL 中不得包含用户名或密码 (no user name or password in the url)", field=field)
    if not parts.hostname:
        raise ValidationFailed("URL 缺少主机 (url has no host)", field=field)
    return check_host(parts.hostname, port or (443 if scheme == "https" else 80), purpose=purpose, node=node,
                      field=field)


def sqlite_dirs() -> list[Path]:
    """Directories SQLite connector files may live in (``SQLITE_CONNECTOR_DIRS``), symlinks resolved."""
    raw = settings.GOVSHARE.get("SQLITE_CONNECTOR_DIRS")
    if raw is None:
        raw = [Path(settings.GOVSHARE_HOME) / "connect"]
    elif isinstance(raw, str | Path):
        raw = [raw]
    return [Path(d).expanduser().resolve() for d in raw]


def check_sqlite_path(path: str, *, field: str = "database") -> Path:
    """Allow a SQLite database file: the resolved path (symlinks and ``..`` resolved) must lie inside one of
    :func:`sqlite_dirs`. A relative path is taken relative to the first directory. Returns the resolved path."""
    text = (path or "").strip() if isinstance(path, str) else ""
    if not text or text == ":memory:" or text.lower().startswith("file:") or "\x00" in text:
        raise ValidationFailed("SQLite 数据库须为允许目录中的文件路径 (a file path inside an allowed directory)",
                               field=field)
    dirs = sqlite_dirs()
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        if not dirs:
            raise _refuse("未配置 SQLite 连接目录 (no SQLITE_CONNECTOR_DIRS configured)", field, path=text)
        candidate = dirs[0] / candidate
    resolved = candidate.resolve()
    if not any(resolved.is_relative_to(d) and resolved != d for d in dirs):
        raise _refuse(f"SQLite 文件 {text} 不在允许的目录中 (the file is outside SQLITE_CONNECTOR_DIRS: "
                      f"{', '.join(str(d) for d in dirs)})", field, path=text)
    if resolved.is_dir():
        raise ValidationFailed(f"{text} 是目录，不是数据库文件 (a directory, not a database file)", field=field)
    return resolved


def allowed_hosts_visible_to(user: Any) -> QuerySet[AllowedHost]:
    """The node's allowlist, for its system, security and audit administrators; nothing for anyone else."""
    if getattr(user, "role", None) in READERS and getattr(user, "node_id", None):
        return AllowedHost.objects.filter(node_id=user.node_id).select_related("created_by")
    return AllowedHost.objects.none()
