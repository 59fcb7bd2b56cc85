"""Serve one application with exactly the gunicorn settings of ``govshare serve`` (for the HTTP benchmarks).

    python benchmarks/bench_server.py --app govshare|lookup_audit|lookup|static --port 8701 --workers 4

``govshare`` is what ``govshare serve`` runs (:mod:`govshare.wsgi` behind the static-file wrapper); the others
are the baselines of :mod:`baseline_wsgi`. The options (sync workers, ``preload_app``, timeouts, access log on
stdout) are those of :mod:`govshare.portal.management.commands.serve`; only the application differs. Prints
``READY`` when gunicorn is listening. Database and home come from ``DATABASE_URL`` / ``GOVSHARE_HOME``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True, choices=["govshare", "lookup_audit", "lookup", "static"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (> 1: gthread, as serve)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    from govshare.portal.management.commands.serve import StaticFiles, run_gunicorn

    if args.app == "govshare":
        from govshare.wsgi import application

        app: Any = StaticFiles(application, root=Path(settings.STATIC_ROOT), prefix=settings.STATIC_URL)
    else:
        from baseline_wsgi import make_app

        app = make_app(args.app)
    connections.close_all()

    def when_ready(_server: Any) -> None:
        print("READY", flush=True)

    run_gunicorn(app, {  # the options of `govshare serve` (serve.py), with its defaults
        "bind": f"127.0.0.1:{args.port}", "workers": args.workers, "threads": args.threads,
        "worker_class": "gthread" if args.threads > 1 else "sync",
        "timeout": 120, "graceful_timeout": 30, "preload_app": True, "accesslog": "-", "errorlog": "-",
        "proc_name": f"govshare-bench-{args.app}", "when_ready": when_ready,
    })


if __name__ == "__main__":
    main()
