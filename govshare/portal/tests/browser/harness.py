"""A live demo city for the browser tests and ``scripts/screenshots.py``.

The demo (``govshare.demo``) is built once, in a subprocess, into a private ``GOVSHARE_HOME`` on SQLite; each
pytest worker then serves its own copy with ``govshare serve`` (gunicorn) on a free port, so the tests never touch
the test database of the rest of the suite and the workers do not see each other's writes.

Run as a module it builds the demo and writes its logins, credentials and verify example as JSON:

    GOVSHARE_HOME=/tmp/x python -m govshare.portal.tests.browser.harness build /tmp/x/summary.json 2000 300
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

CHROMIUM = os.environ.get("GOVSHARE_CHROMIUM", "/usr/bin/chromium")
DEMO_PEOPLE = 2000
DEMO_COMPANIES = 300
SUMMARY = "browser-demo.json"

# One demo user per role (govshare/demo/city.py).
ROLE_USERS: dict[str, str] = {
    "data_office": "shujuju",
    "sys_admin": "sysadmin",
    "sec_admin": "secadmin",
    "audit_admin": "auditadmin",
    "dept_admin": "gaj_admin",
    "provider": "gaj_provider",
    "consumer": "rsj_consumer",
    "window_clerk": "chuangkou01",
}


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


def launch_options() -> dict[str, Any]:
    return {"executable_path": CHROMIUM, "headless": True, "args": ["--no-sandbox"]}


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(GOVSHARE_HOME=str(home), DJANGO_SETTINGS_MODULE="govshare.settings", GOVSHARE_DEBUG="1",
               PYTHONUNBUFFERED="1")
    return env


# ---------------------------------------------------------------------------------------------
# Building (once) and serving (per worker)
# ---------------------------------------------------------------------------------------------


def build(home: Path, *, people: int = DEMO_PEOPLE, companies: int = DEMO_COMPANIES, timeout: float = 600) -> Path:
    """Build the demo into ``home`` (a fresh directory) unless it is there already; return the summary file.
    Safe to call from several processes at once: the first builds, the others wait for it."""
    home.mkdir(parents=True, exist_ok=True)
    summary = home / SUMMARY
    with open(home / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not summary.exists():
            log = home / "build.log"
            with open(log, "w") as out:
                done = subprocess.run(
                    [sys.executable, "-m", "govshare.portal.tests.browser.harness", "build", str(summary),
                     str(people), str(companies)],
                    env=_server_env(home), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
            if done.returncode != 0 or not summary.exists():
                raise RuntimeError(f"demo build failed ({done.returncode}):\n{log.read_text()[-4000:]}")
    return summary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Login:
    username: str
    role: str
    totp_secret: str


@dataclass
class Site:
    """A served demo: ``url`` ends without a slash."""

    url: str
    home: Path
    logins: dict[str, Login]
    credentials: list[dict[str, str]]
    verify: dict[str, str] | None
    _last_step: dict[str, int] = field(default_factory=dict)

    def totp(self, username: str) -> str:
        """A fresh one-time code for ``username``: the platform refuses a time step it has seen (replay), so
        each call takes the next unused step, waiting when the accepted window (now ± 1 step) is used up."""
        secret = self.logins[username].totp_secret
        totp = pyotp.TOTP(secret)
        while True:
            now = int(time.time() // totp.interval)
            step = max(now, self._last_step.get(username, -1) + 1)
            if step <= now + 1:
                self._last_step[username] = step
                return totp.generate_otp(step)
            time.sleep(max(0.2, (now + 1) * totp.interval - time.time() + 0.2))

    def credential(self, system: str) -> dict[str, str]:
        return next(c for c in self.credentials if c["system"] == system)


def load_site(url: str, home: Path, summary: Path) -> Site:
    data = json.loads(summary.read_text())
    logins = {row["username"]: Login(row["username"], row["role"], row["totp_secret"]) for row in data["logins"]}
    return Site(url=url, home=home, logins=logins, credentials=data["credentials"], verify=data["verify"])


def _die_with_parent() -> None:
    """In the server's process (Linux): SIGTERM it when the test process dies, however it dies."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"govshare serve exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/accounts/login/", timeout=5) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"govshare serve did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@contextmanager
def serve(built: Path, home: Path, *, workers: int = 2, timeout: float = 90) -> Iterator[Site]:
    """Copy the built demo home into ``home`` and serve it until the block ends."""
    summary = built / SUMMARY
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(built, home, ignore=shutil.ignore_patterns(".build.lock", "static"))
    port = free_port()
    log = home / "serve.log"
    with open(log, "w") as out:
        # The built copy may predate a migration added since (a reused build): bring it up to date.
        migrated = subprocess.run([sys.executable, "-m", "govshare.cli", "migrate", "--verbosity", "0"],
                                  env=_server_env(home), stdout=out, stderr=subprocess.STDOUT, check=False)
        if migrated.returncode != 0:
            raise RuntimeError(f"govshare migrate failed:\n{log.read_text()[-4000:]}")
        process = subprocess.Popen(
            [sys.executable, "-m", "govshare.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), "--timeout", "60"],
            env=_server_env(home), stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log, timeout)
        yield load_site(url, home, summary)
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn: quick shutdown (SIGTERM waits for a graceful one)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# Signing in through the page
# ---------------------------------------------------------------------------------------------


def sign_in(page: Any, site: Site, username: str, password: str | None = None, *, otp: str | None = None) -> None:
    """Sign in through the portal's sign-in form: password, then the one-time code for roles that have one
    (in the same form when it has the code field, else on the second-factor page that follows). A code the
    server has already seen (another process signed in as this user in the same time step) is retried once
    with the next step."""
    from govshare.demo.city import DEMO_PASSWORD

    needs_code = bool(otp or site.logins[username].totp_secret)
    for attempt in range(2):
        page.goto(site.url + "/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password or DEMO_PASSWORD)
        code_pending = needs_code
        if needs_code and page.query_selector("input[name=otp]") is not None:
            page.fill("input[name=otp]", otp or site.totp(username))
            code_pending = False
        with page.expect_navigation():
            page.click("form:has(input[name=username]) [type=submit]")
        if code_pending and page.query_selector("input[name=code]") is not None:
            page.fill("input[name=code]", otp or site.totp(username))
            with page.expect_navigation():
                page.click("form:has(input[name=code]) [type=submit]")
        signed_in = page.query_selector("input[name=password]") is None and page.query_selector(
            "input[name=code]") is None
        if signed_in or otp is not None or not needs_code or attempt:
            return


# ---------------------------------------------------------------------------------------------
# The build subprocess
# ---------------------------------------------------------------------------------------------


def _build_main(summary_path: str, people: int, companies: int) -> None:
    import dataclasses

    import django

    django.setup()
    from django.core.management import call_command

    from govshare.demo.builder import ensure_demo

    call_command("migrate", interactive=False, verbosity=0)
    summary = ensure_demo(people=people, companies=companies)
    data = {
        "logins": [{"username": x.username, "role": x.role, "totp_secret": x.totp_secret} for x in summary.logins],
        "credentials": [dataclasses.asdict(c) for c in summary.credentials],
        "verify": dataclasses.asdict(summary.verify) if summary.verify else None,
    }
    tmp = Path(summary_path + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1))
    tmp.replace(summary_path)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "build":
        _build_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: python -m govshare.portal.tests.browser.harness build SUMMARY.json PEOPLE COMPANIES")
