"""Real ``govshare`` processes for tests: a node (GOVSHARE_HOME + database), its server and workers.

Test support, like :mod:`govshare.testing` (not imported by product code). The reliability tests
(``govshare/core/tests/reliability``) use it to kill servers and workers with SIGKILL and start them again:

    node = Node.create(tmp_path / "home", backend=Backend.from_env())   # empty home, fresh database
    node.run("migrate")                                                  # a CLI verb, checked
    server = node.start_server()                                         # gunicorn, waits until it answers
    worker = node.start_worker("--jobs-only")                            # govshare worker
    node.kill9(server); server = node.start_server(port=server.port)     # crash and restart
    node.query("SELECT count(*) FROM audit_auditevent")                  # read the database directly

Every process runs in its own session (process group), so :meth:`Node.kill9` takes down gunicorn's master and
its forked workers at once, as a crash of the machine would; a process whose test dies gets SIGTERM (Linux
``PR_SET_PDEATHSIG``). Databases: SQLite is a file in the home; on PostgreSQL each node has its own database on
the server of ``DATABASE_URL`` (named after that database), dropped by :meth:`Node.destroy`.

Run as a module it builds a demo city into the home given by the environment and writes a JSON summary:

    GOVSHARE_HOME=/tmp/x python -m govshare.core.testing_processes build-demo SUMMARY.json PEOPLE COMPANIES
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

REPO = Path(__file__).resolve().parents[2]
SQLITE_NAME = "govshare.sqlite3"
# Files of a home that are not copied by Node.clone: the database (copied with the backup API), generated static
# files and logs of the processes.
_CLONE_SKIP = {SQLITE_NAME, f"{SQLITE_NAME}-wal", f"{SQLITE_NAME}-shm", "static", "logs", ".build.lock"}


class ProcessFailed(RuntimeError):
    """A govshare process exited or did not become ready; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: Callable[[], Any], *, timeout: float, message: str, interval: float = 0.1,
             logs: Callable[[], str] | None = None) -> Any:
    """Poll ``what()`` until it returns something truthy; raise :class:`TimeoutError` (with logs) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() >= deadline:
            tail = logs()[-4000:] if logs else ""
            raise TimeoutError(f"timed out after {timeout:.0f} s: {message}\n{tail}")
        time.sleep(interval)


def _die_with_parent() -> None:
    """In the child (Linux): get SIGTERM when the test process dies, however it dies."""
    import ctypes

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class Backend:
    """Where nodes keep their database: ``sqlite`` (a file in the home) or a PostgreSQL server."""

    vendor: str
    server_url: str = ""  # postgres://user[:pass]@host:port (no database)
    base_name: str = ""  # the database named by DATABASE_URL; node databases are named after it

    @classmethod
    def from_env(cls) -> Backend:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            return cls("sqlite")
        parts = urlsplit(url)
        return cls("postgresql", f"postgres://{parts.netloc}", unquote(parts.path.lstrip("/")) or "govshare")

    def url(self, database: str) -> str:
        return f"{self.server_url}/{quote(database)}"

    def admin(self, sql: str) -> None:
        """Run one statement (CREATE/DROP DATABASE) on the server's ``postgres`` database, in autocommit."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)


@dataclass
class Server:
    """A running ``govshare serve``: its process and base URL (no trailing slash)."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Node:
    """A govshare installation for a test: ``home`` (GOVSHARE_HOME) and its database."""

    home: Path
    backend: Backend
    database: str = ""  # PostgreSQL database name; empty on SQLite
    settings_module: str = "govshare.settings"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # -- creating ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, home: Path, *, backend: Backend, database: str = "", **kwargs: Any) -> Node:
        """An empty home and (PostgreSQL) a new empty database (dropped first if it exists)."""
        home.mkdir(parents=True, exist_ok=True)
        node = cls(home=home, backend=backend, database=database, **kwargs)
        if backend.vendor == "postgresql":
            node.database = database or f"{backend.base_name}_n{os.getpid()}_{time.monotonic_ns() % 10**9}"
            backend.admin(f'DROP DATABASE IF EXISTS "{node.database}" WITH (FORCE)')
            backend.admin(f'CREATE DATABASE "{node.database}"')
        return node

    def clone(self, home: Path, *, database: str = "", **kwargs: Any) -> Node:
        """A copy of this node (stopped): the home's files (keys, heads file, connector files) and the database
        (SQLite: the online backup API; PostgreSQL: ``CREATE DATABASE … TEMPLATE``)."""
        shutil.copytree(self.home, home, ignore=lambda _d, names: [n for n in names if n in _CLONE_SKIP],
                        dirs_exist_ok=True)
        node = Node(home=home, backend=self.backend, settings_module=self.settings_module,
                    extra_env={**self.extra_env}, **kwargs)
        if self.backend.vendor == "sqlite":
            src = sqlite3.connect(self.sqlite_path, timeout=30)
            dst = sqlite3.connect(node.sqlite_path)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            node.database = database or f"{self.backend.base_name}_c{os.getpid()}_{time.monotonic_ns() % 10**9}"
            self.backend.admin(f'DROP DATABASE IF EXISTS "{node.database}" WITH (FORCE)')
            self.backend.admin(f'CREATE DATABASE "{node.database}" TEMPLATE "{self.database}"')
        return node

    def destroy(self) -> None:
        """Stop every process still running and drop the PostgreSQL database (the home stays for the logs)."""
        self.stop_all()
        if self.backend.vendor == "postgresql" and self.database:
            with contextlib.suppress(Exception):
                self.backend.admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    # -- environment ------------------------------------------------------------------------------

    @property
    def sqlite_path(self) -> Path:
        return self.home / SQLITE_NAME

    @property
    def database_url(self) -> str:
        if self.backend.vendor == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        return self.backend.url(self.database)

    @property
    def log_dir(self) -> Path:
        path = self.home / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self, **extra: str) -> dict[str, str]:
        drop = {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "GOVSHARE_TEST_SQLITE", "GOVSHARE_KEK", "SECRET_KEY"}
        env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
        env.update(GOVSHARE_HOME=str(self.home), DATABASE_URL=self.database_url, PYTHONUNBUFFERED="1",
                   DJANGO_SETTINGS_MODULE=self.settings_module, PYTHONPATH=str(REPO))
        env.update(self.extra_env)
        env.update(extra)
        return env

    def logs(self) -> str:
        """Every log of this node's processes, oldest first (for failure messages)."""
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.log_dir.glob("*.log")))

    # -- commands ---------------------------------------------------------------------------------

    def run(self, *args: str, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None,
            module: str = "govshare.cli") -> subprocess.CompletedProcess[str]:
        """``python -m govshare.cli ARGS`` to completion; with ``check`` a non-zero exit raises with its output."""
        command = [sys.executable, "-m", module, *args]
        done = subprocess.run(command, cwd=REPO, env=self.env(**(env or {})),  # noqa: S603 - our own interpreter
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise ProcessFailed(f"govshare {' '.join(args)} exited {done.returncode}:\n"
                                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None,
              module: str = "govshare.cli") -> subprocess.Popen[bytes]:
        """Start ``python -m govshare.cli ARGS`` in its own process group, logging to ``logs/NAME.log``."""
        with open(self.log_dir / f"{name}.log", "ab") as out:
            command = [sys.executable, "-m", module, *args]
            process = subprocess.Popen(command, cwd=REPO, env=self.env(**(env or {})),  # noqa: S603
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=_die_with_parent)
        self.processes.append(process)
        return process

    def start_server(self, *, port: int | None = None, workers: int = 2, threads: int = 1,
                     timeout: float = 120) -> Server:
        """``govshare serve`` (gunicorn) on 127.0.0.1; returns once the sign-in page answers 200."""
        port = port or free_port()
        process = self.spawn("server", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                             str(workers), "--threads", str(threads), "--timeout", "60", "--no-collectstatic")
        server = Server(process, port)
        self.wait_ready(server, timeout=timeout)
        return server

    def wait_ready(self, server: Server, *, timeout: float = 120) -> None:
        def up() -> bool:
            if server.process.poll() is not None:
                raise ProcessFailed(f"govshare serve exited ({server.process.returncode}):\n{self.logs()}")
            try:
                with urllib.request.urlopen(server.url + "/accounts/login/", timeout=5) as resp:  # noqa: S310
                    return bool(resp.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_for(up, timeout=timeout, interval=0.2, message="govshare serve answers", logs=self.logs)

    def start_worker(self, *args: str, name: str = "worker") -> subprocess.Popen[bytes]:
        """``govshare worker ARGS`` (e.g. ``--jobs-only``, ``--jobs 'subscriptions.*'``); returns at once."""
        return self.spawn(name, "worker", *args)

    # -- stopping ---------------------------------------------------------------------------------

    @staticmethod
    def kill9(target: subprocess.Popen[bytes] | Server) -> None:
        """SIGKILL the whole process group (a server's master and workers together) and reap it."""
        process = target.process if isinstance(target, Server) else target
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, target: subprocess.Popen[bytes] | Server, *, timeout: float = 30) -> int:
        """SIGTERM (graceful stop), SIGKILL after ``timeout``; the exit status."""
        process = target.process if isinstance(target, Server) else target
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9(process)
        return int(process.returncode)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.stop(process, timeout=15)
            else:  # its group may outlive it (gunicorn workers of a killed master)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)

    # -- reading the database ---------------------------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one SELECT, straight from the database (``%s`` placeholders on both backends)."""
        if self.backend.vendor == "sqlite":
            db = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                return [tuple(r) for r in db.execute(sql.replace("%s", "?"), params).fetchall()]
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=10) as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement straight on the database (test set-up only); the number of rows it changed."""
        if self.backend.vendor == "sqlite":
            db = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                with db:
                    return int(db.execute(sql.replace("%s", "?"), params).rowcount)
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=10) as conn:
            return int(conn.execute(sql, params).rowcount)

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def uuid(self, value: Any) -> Any:
        """A UUID primary key as the table stores it (SQLite keeps UUIDs as 32 hex characters)."""
        text = str(value)
        return text.replace("-", "") if self.backend.vendor == "sqlite" else text


def group_rss_kib(pid: int) -> int:
    """Resident memory (KiB) of every process in ``pid``'s process group (a server: master and workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


class WebSession:
    """A signed-in browser-like session on a running server: cookies, CSRF header on writes, JSON in and out.

    Network errors are not caught: a test that kills the server sees them (``OSError``)."""

    def __init__(self, base_url: str, *, timeout: float = 30) -> None:
        import http.cookiejar

        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.timeout = timeout

    def _csrf(self) -> str:
        return next((c.value or "" for c in self.jar if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON or text) of one request; HTTP error statuses are returned, not raised."""
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.base_url + path, data=body, method=method)  # noqa: S310 - loopback
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if method not in ("GET", "HEAD"):
            req.add_header("X-CSRFToken", self._csrf())
            req.add_header("Referer", self.base_url + "/")
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        text = raw.decode("utf-8", "replace")
        return int(status), (json.loads(text) if "json" in ctype and text else text)

    def sign_in(self, username: str, password: str, otp: str | None = None) -> dict[str, Any]:
        """Sign in through the API (``/api/v1/auth/login``), after a page view that sets the CSRF cookie."""
        self.request("GET", "/accounts/login/")
        status, data = self.request("POST", "/api/v1/auth/login",
                                    {"username": username, "password": password, "otp": otp})
        if status != 200:
            raise ProcessFailed(f"sign-in of {username} answered {status}: {data}")
        return dict(data)


# ---------------------------------------------------------------------------------------------
# Building a demo city (once per test session) and copying it per test
# ---------------------------------------------------------------------------------------------


def build_demo(node: Node, *, people: int = 200, companies: int = 50, timeout: float = 900) -> dict[str, Any]:
    """Migrate ``node`` and build the demo city into it (in a subprocess); the JSON summary (logins, data-plane
    credentials, a verify example), also kept as ``demo-summary.json`` in the home."""
    summary = node.home / "demo-summary.json"
    node.run("build-demo", str(summary), str(people), str(companies), module="govshare.core.testing_processes",
             timeout=timeout)
    return dict(json.loads(summary.read_text(encoding="utf-8")))


@contextlib.contextmanager
def running(node: Node) -> Iterator[Node]:
    """Stop every process of ``node`` when the block ends, whatever happens in it."""
    try:
        yield node
    finally:
        node.stop_all()


def _build_demo_main(summary_path: str, people: int, companies: int) -> None:
    import dataclasses

    import django

    django.setup()
    from django.core.management import call_command

    from govshare.demo.builder import ensure_demo

    call_command("migrate", interactive=False, verbosity=0)
    summary = ensure_demo(people=people, companies=companies, out=lambda _line: None)
    data = {
        "logins": [{"username": x.username, "role": x.role, "totp_secret": x.totp_secret} for x in summary.logins],
        "credentials": [dataclasses.asdict(c) for c in summary.credentials],
        "verify": dataclasses.asdict(summary.verify) if summary.verify else None,
    }
    tmp = Path(summary_path + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(summary_path)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "build-demo":
        _build_demo_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: python -m govshare.core.testing_processes build-demo SUMMARY.json PEOPLE COMPANIES")
