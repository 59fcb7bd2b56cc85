"""The outbound allowlist (出站白名单) kept by the node's sys_admin, and netpolicy, the one place outbound
destinations are checked (DESIGN.md §6: no SSRF into the government network)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govshare import testing
from govshare.accounts.choices import Role
from govshare.audit.models import AuditEvent
from govshare.conftest import client_for
from govshare.core.errors import ValidationFailed
from govshare.registry import netpolicy
from govshare.registry.models import AllowedHost
from govshare.registry.services import add_allowed_host, deactivate_allowed_host

pytestmark = pytest.mark.django_db
URL = "/api/v1/registry/allowed-hosts"


@pytest.fixture
def sys_admin(city: Any) -> Any:
    return testing.user(Role.SYS_ADMIN, at=city)


@pytest.fixture
def dns(monkeypatch: Any) -> dict[str, list[str]]:
    """A fake resolver: name -> addresses (unknown names fail like a real NXDOMAIN)."""
    table: dict[str, list[str]] = {}

    def getaddrinfo(host: str, port: Any, *args: Any, **kw: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 0))
                for a in table[host]]

    monkeypatch.setattr(netpolicy.socket, "getaddrinfo", getaddrinfo)
    return table


def _refused(call: Any, field: str = "host") -> ValidationFailed:
    with pytest.raises(ValidationFailed) as exc:
        call()
    assert exc.value.field == field
    return exc.value


def test_sys_admin_keeps_the_list_through_the_api(sys_admin: Any, city: Any, provider: Any, sec_admin: Any) -> None:
    c = client_for(sys_admin)
    made = [c.post(URL, body, content_type="application/json") for body in (
        {"host": "QZK.Gongan.GOV.cn.", "port": 5432, "purpose": "connector", "note": "公安前置库"},
        {"host": "10.1.0.0/16", "purpose": "both"},
        {"host": "192.0.2.10", "port": 443, "purpose": "webhook"})]
    assert [r.status_code for r in made] == [201, 201, 201], [r.content for r in made]
    assert made[0].json()["host"] == "qzk.gongan.gov.cn" and made[0].json()["created_by"] == sys_admin.username
    assert c.post(URL, {"host": "qzk.gongan.gov.cn", "port": 5432, "purpose": "connector"},
                  content_type="application/json").status_code == 409
    for bad, field in [({"host": "10.1.2.3/16"}, "host"), ({"host": "bad_host!"}, "host"),
                       ({"host": "a.b", "port": 0}, "port"), ({"host": "a.b", "purpose": "ftp"}, "purpose")]:
        resp = c.post(URL, bad, content_type="application/json")
        assert resp.status_code == 422 and resp.json()["error"]["details"]["field"] == field, resp.content
    listed = c.get(URL).json()["items"]
    assert [e["host"] for e in listed] == ["10.1.0.0/16", "192.0.2.10", "qzk.gongan.gov.cn"]
    gone = c.post(f"{URL}/{made[1].json()['id']}/deactivate")
    assert gone.status_code == 200 and gone.json()["active"] is False and gone.json()["deactivated_at"]
    assert c.post(f"{URL}/{made[1].json()['id']}/deactivate").status_code == 409
    assert [e["host"] for e in c.get(f"{URL}?active=true").json()["items"]] == ["192.0.2.10", "qzk.gongan.gov.cn"]
    assert AuditEvent.objects.filter(action="allowlist.added").count() == 3
    assert AuditEvent.objects.filter(action="allowlist.deactivated").count() == 1

    # the security officer reads it, changes nothing; department staff do not even read it
    assert client_for(sec_admin).get(URL).status_code == 200
    assert client_for(sec_admin).post(URL, {"host": "a.b"}, content_type="application/json").status_code == 403
    assert client_for(sec_admin).post(f"{URL}/{made[0].json()['id']}/deactivate").status_code == 403
    assert client_for(provider).get(URL).status_code == 403
    assert client_for(provider).post(f"{URL}/{made[0].json()['id']}/deactivate").status_code == 404
    # another node's administrator neither sees nor touches this node's list
    other = testing.user(Role.SYS_ADMIN, at=testing.node("445200", name="揭阳市", level="city"))
    assert client_for(other).get(URL).json()["items"] == []
    assert client_for(other).post(f"{URL}/{made[0].json()['id']}/deactivate").status_code == 404


def test_unlisted_hosts_ports_and_purposes_are_refused(city: Any, dns: dict[str, list[str]]) -> None:
    dns["qzk.gongan.gov.cn"] = ["10.1.2.3"]
    dns["rebind.example.cn"] = ["10.1.2.3", "10.9.9.9"]
    err = _refused(lambda: netpolicy.check_host("10.1.2.3", 5432, purpose="connector", node=city))
    assert "10.1.2.3:5432" in err.message and err.details["host"] == "10.1.2.3" and err.code == "host_not_allowed"
    add_allowed_host(actor=None, node=city, host="10.1.0.0/16", port=5432, purpose="connector")
    add_allowed_host(actor=None, node=city, host="hooks.example.cn", purpose="webhook")
    assert netpolicy.check_host("10.1.2.3", 5432, purpose="connector", node=city) == ["10.1.2.3"]
    assert netpolicy.check_host("qzk.gongan.gov.cn", 5432, purpose="connector", node=city) == ["10.1.2.3"]
    _refused(lambda: netpolicy.check_host("10.1.2.3", 3306, purpose="connector", node=city))  # port
    _refused(lambda: netpolicy.check_host("10.1.2.3", None, purpose="connector", node=city))  # port unknown
    _refused(lambda: netpolicy.check_host("10.1.2.3", 5432, purpose="webhook", node=city))  # purpose
    _refused(lambda: netpolicy.check_host("rebind.example.cn", 5432, purpose="connector", node=city))  # one outside
    _refused(lambda: netpolicy.check_host("10.2.0.1", 5432, purpose="connector", node=city))
    err = _refused(lambda: netpolicy.check_host("nx.example.cn", 5432, purpose="connector", node=city, field="dsn"),
                   "dsn")
    assert "nx.example.cn" in err.message
    # scoped to the node; node=None accepts any node's entries
    away = testing.node("445200", name="揭阳市", level="city")
    _refused(lambda: netpolicy.check_host("10.1.2.3", 5432, purpose="connector", node=away))
    assert netpolicy.check_host("10.1.2.3", 5432, purpose="connector") == ["10.1.2.3"]
    # a deactivated entry no longer counts
    for entry in AllowedHost.objects.filter(host="10.1.0.0/16"):
        deactivate_allowed_host(actor=None, entry=entry)
    _refused(lambda: netpolicy.check_host("10.1.2.3", 5432, purpose="connector", node=city))


def test_link_local_and_metadata_addresses_need_an_exact_entry(city: Any, dns: dict[str, list[str]]) -> None:
    add_allowed_host(actor=None, node=city, host="0.0.0.0/0", purpose="both")
    add_allowed_host(actor=None, node=city, host="::/0", purpose="both")
    add_allowed_host(actor=None, node=city, host="evil.example.cn", purpose="both")
    dns["evil.example.cn"] = ["169.254.169.254"]
    for host in ("169.254.169.254", "169.254.1.1", "::ffff:169.254.169.254", "fe80::1", "fd00:ec2::254",
                 "100.100.100.200", "0.0.0.0", "::", "evil.example.cn"):  # noqa: S104
        err = _refused(lambda h=host: netpolicy.check_host(h, 80, purpose="webhook", node=city))
        assert "169.254" in err.message or "元数据" in err.message, (host, err.message)
    assert netpolicy.check_host("10.0.0.1", 80, purpose="webhook", node=city) == ["10.0.0.1"]
    add_allowed_host(actor=None, node=city, host="169.254.169.254", purpose="webhook", note="确需访问")
    assert netpolicy.check_host("169.254.169.254", 80, purpose="webhook", node=city) == ["169.254.169.254"]
    assert netpolicy.check_host("evil.example.cn", 80, purpose="webhook", node=city) == ["169.254.169.254"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=2**16 - 1))
def test_no_cidr_admits_a_link_local_address(city: Any, low: int) -> None:
    if not AllowedHost.objects.filter(host="0.0.0.0/0").exists():
        add_allowed_host(actor=None, node=city, host="0.0.0.0/0", purpose="both")
    address = str(ipaddress.ip_address(int(ipaddress.ip_address("169.254.0.0")) + low))
    with pytest.raises(ValidationFailed):
        netpolicy.check_host(address, 443, purpose="webhook", node=city)


def test_check_url(city: Any, dns: dict[str, list[str]]) -> None:
    dns["hooks.example.cn"] = ["192.0.2.10"]
    add_allowed_host(actor=None, node=city, host="hooks.example.cn", port=443, purpose="webhook")
    assert netpolicy.check_url("https://hooks.example.cn/gs/recv?x=1", node=city) == ["192.0.2.10"]
    for url in ["http://hooks.example.cn/recv", "https://hooks.example.cn:8443/", "ftp://hooks.example.cn/",
                "https://user:pw@hooks.example.cn/", "https:///nohost", "https://hooks.example.cn:99999/",
                "https://hooks.example.cn/a b", "javascript:alert(1)", ""]:
        with pytest.raises(ValidationFailed) as exc:
            netpolicy.check_url(url, node=city, field="webhook_url")
        assert exc.value.field == "webhook_url", url
    with pytest.raises(ValidationFailed):  # a webhook entry is not a connector entry
        netpolicy.check_url("https://hooks.example.cn/", purpose="connector", node=city)


def test_sqlite_files_only_inside_the_allowed_directories(tmp_path: Path, settings: Any) -> None:
    allowed = tmp_path / "connect"
    allowed.mkdir()
    settings.GOVSHARE = {**settings.GOVSHARE, "SQLITE_CONNECTOR_DIRS": [str(allowed)]}
    inside = allowed / "qzk.sqlite3"
    assert netpolicy.check_sqlite_path(str(inside)) == inside.resolve()
    assert netpolicy.check_sqlite_path("sub/rk.db") == (allowed / "sub" / "rk.db").resolve()
    (allowed / "link.sqlite3").symlink_to(tmp_path / "outside.sqlite3")
    for path in [str(tmp_path / "outside.sqlite3"), str(allowed / ".." / "x.sqlite3"), "../x.sqlite3",
                 str(allowed / "link.sqlite3"), str(allowed), ":memory:", "file:x.db?mode=rw", "", "/etc/passwd"]:
        with pytest.raises(ValidationFailed) as exc:
            netpolicy.check_sqlite_path(path)
        assert exc.value.field == "database", path
    settings.GOVSHARE = {k: v for k, v in settings.GOVSHARE.items() if k != "SQLITE_CONNECTOR_DIRS"}
    assert netpolicy.sqlite_dirs() == [(Path(settings.GOVSHARE_HOME) / "connect").resolve()]
