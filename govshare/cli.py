"""The ``govshare`` command. Each verb is a Django management command; ``govshare --help`` lists them."""

from __future__ import annotations

import os
import sys

VERBS: dict[str, str] = {
    "demo": "build a demo city and serve it (--no-serve, --reset)",
    "serve": "serve an existing home with a production server (gunicorn, several workers)",
    "worker": "run background work: schedules, pulls, deliveries, fusion (--status, --jobs, --enable/--disable)",
    "migrate": "create or upgrade the database schema",
    "createadmin": "create the first administrator accounts (三员: sys/sec/audit) with second factors",
    "catalog": "catalog import FILE | catalog export FILE",
    "dataset": "dataset load RESOURCE_CODE FILE",
    "holidays": "holidays seed | load FILE --year Y | show YEAR",
    "audit": "audit seal | verify | export FILE | verify-file FILE",
    "regions": "load the GB/T 2260 region table",
    "baselibs": "base libraries: definitions | validate | list | fuse CODE",
    "stats": "sharing statistics: stats refresh [--day YYYY-MM-DD | --days N]",
    "bench": "run the performance benchmarks against their baselines (--database-url URL, --quick, --out DIR)",
    "backup": "backup FILE [--include-keys]: online backup of the database and audit heads (the KEK is not included)",
    "restore": "restore FILE [--force] [--replace-heads]: restore a backup (stop serve and worker first)",
    "manage": "any Django management command (manage check, manage shell …)",
}


def _usage() -> str:
    lines = ["usage: govshare VERB [options]", "", "verbs:"]
    lines += [f"  {verb:<12} {text}" for verb, text in VERBS.items()]
    lines += ["", "Environment: GOVSHARE_HOME, DATABASE_URL, SECRET_KEY, GOVSHARE_KEK.",
              "Run `govshare VERB --help` for a verb's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    verb, rest = args[0], args[1:]
    if verb not in VERBS:
        print(f"govshare: unknown verb {verb!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    if verb == "demo":
        os.environ.setdefault("GOVSHARE_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    command = {"manage": None, "regions": "load_regions"}.get(verb, verb)
    if verb == "manage":
        execute_from_command_line(["govshare", *rest])
    else:
        execute_from_command_line(["govshare", str(command), *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
