"""``govshare serve``: the production server — gunicorn with several worker processes.

Static files are collected into ``GOVSHARE_HOME/static`` (``STATIC_ROOT``) and served under
``STATIC_URL`` by :class:`StaticFiles`, a small WSGI wrapper, so no web server or extra dependency is
needed for a single-machine deployment; behind nginx, let nginx serve ``STATIC_ROOT`` instead.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable
from email.utils import formatdate
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def default_workers() -> int:
    return max(1, min(4, 2 * (os.cpu_count() or 1)))


class StaticFiles:
    """Serve files below ``root`` for paths under ``prefix``; pass every other request to ``app``.

    GET and HEAD only; no directory listings, no dot-files, nothing outside ``root`` (symlinks
    included); ETag / If-None-Match for revalidation.
    """

    def __init__(self, app: WSGIApp, *, root: Path, prefix: str, max_age: int = 3600) -> None:
        self.app = app
        self.root = Path(root).resolve()
        self.prefix = "/" + prefix.strip("/") + "/"
        self.max_age = max_age

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(self.prefix):
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self._plain(start_response, "405 Method Not Allowed", [("Allow", "GET, HEAD")])
        target = self._resolve(path[len(self.prefix):])
        if target is None:
            return self._plain(start_response, "404 Not Found")
        stat = target.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        headers = [
            ("ETag", etag),
            ("Last-Modified", formatdate(stat.st_mtime, usegmt=True)),
            ("Cache-Control", f"public, max-age={self.max_age}"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if etag in str(environ.get("HTTP_IF_NONE_MATCH", "")):
            start_response("304 Not Modified", headers)
            return []
        ctype, encoding = mimetypes.guess_type(target.name)
        ctype = ctype or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        headers += [("Content-Type", ctype), ("Content-Length", str(stat.st_size))]
        if encoding:
            headers.append(("Content-Encoding", encoding))
        start_response("200 OK", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        fh = target.open("rb")
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(fh, 64 * 1024)
        return _read_all(fh)

    def _resolve(self, relative: str) -> Path | None:
        try:  # PEP 3333: PATH_INFO is the raw bytes decoded as latin-1
            relative = relative.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
        parts = [p for p in relative.split("/") if p]
        if not parts or "\x00" in relative or "\\" in relative or any(p.startswith(".") for p in parts):
            return None
        target = self.root.joinpath(*parts).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        return target

    @staticmethod
    def _plain(start_response: Callable[..., Any], status: str,
               extra: list[tuple[str, str]] | None = None) -> list[bytes]:
        body = status.encode("ascii")
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body))), *(extra or [])])
        return [body]


def _read_all(fh: Any) -> Iterable[bytes]:
    with fh:
        while chunk := fh.read(64 * 1024):
            yield chunk


def pending_migrations() -> int:
    connection = connections["default"]
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def display_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - only for display
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def run_gunicorn(app: WSGIApp, options: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            # gunicorn ≥ 24 opens a control socket in the home directory by default; govshare does not use it.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self) -> WSGIApp:
            return app

    _Server().run()


class Command(BaseCommand):
    help = "以生产服务器运行 govshare：gunicorn 多进程，附带静态文件 (serve with gunicorn, several workers)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="监听地址，默认 127.0.0.1；对外服务用 0.0.0.0")
        parser.add_argument("--port", type=int, default=8000, help="端口，默认 8000")
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help=f"工作进程数，默认 min(4, 2×CPU 核数) = {default_workers()}")
        parser.add_argument("--threads", type=int, default=1,
                            help="每个工作进程的线程数；大于 1 时使用 gthread 工作模式")
        parser.add_argument("--timeout", type=int, default=120, help="请求超时秒数（大文件上传可调大）")
        parser.add_argument("--no-collectstatic", action="store_true", help="不收集静态文件")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers 和 --threads 须为正整数")
        pending = pending_migrations()
        if pending:
            raise CommandError(f"数据库还有 {pending} 个迁移未执行，请先运行 govshare migrate（或 govshare demo）。")
        static_root = Path(settings.STATIC_ROOT)
        if not options["no_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        from govshare.wsgi import application

        app = StaticFiles(application, root=static_root, prefix=settings.STATIC_URL)
        host, port, workers = options["host"], options["port"], options["workers"]
        url = display_url(host, port)
        # Forked workers must not share the parent's database connections.
        connections.close_all()

        def when_ready(_server: Any) -> None:
            print(f"govshare 已启动：{url}（{workers} 个工作进程，静态文件目录 {static_root}）按 Ctrl+C 停止。",
                  flush=True)

        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        run_gunicorn(app, {
            "bind": bind,
            "workers": workers,
            "threads": options["threads"],
            "worker_class": "gthread" if options["threads"] > 1 else "sync",
            "timeout": options["timeout"],
            "graceful_timeout": 30,
            "preload_app": True,
            "accesslog": "-",
            "errorlog": "-",
            "proc_name": "govshare",
            "when_ready": when_ready,
        })
