"""``govshare backup FILE``: an online, consistent backup of the node (数据库与审计头记录备份).

The archive (tar + gzip) holds:

- ``govshare-backup.json`` — the manifest: format, time, database vendor, applied migrations, the KEK id and a
  check value of the KEK (an HMAC, not the key), and the SHA-256 of every member;
- ``database.sqlite3`` (SQLite, through the online backup API ``sqlite3.Connection.backup``: one consistent
  snapshot while the server and workers keep running) or ``database.pgdump`` (PostgreSQL, ``pg_dump
  --format=custom``, itself one consistent snapshot);
- ``home/audit/heads.jsonl`` — the audit checkpoint heads kept outside the database, copied *before* the database
  snapshot so that it never names a block the snapshot lacks;
- ``home/kek.hex`` and ``home/secret_key`` only with ``--include-keys``. By default the key-encryption key is NOT in
  the backup: whoever holds the backup alone cannot decrypt the secrets in it (TOTP seeds, connector passwords,
  the node's SM2 signing key). Keep ``GOVSHARE_HOME/kek.hex`` (or ``GOVSHARE_KEK``) in a separate, safer place.

``govshare restore FILE`` (restore.py) reads it back. See docs/operations.md "Backup and restore".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

FORMAT = "govshare-backup/1"
MANIFEST = "govshare-backup.json"
KEY_FILES = ("kek.hex", "secret_key")
HEADS_MEMBER = "home/audit/heads.jsonl"


def kek_check(kek: str) -> str:
    """A check value of the KEK for the manifest: HMAC-SHA-256 keyed by the KEK over a fixed label. It tells a
    restore whether it has the right KEK and says nothing about the key itself."""
    return hmac.new(bytes.fromhex(kek.strip()), b"govshare-backup-kek-check/1", hashlib.sha256).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def vendor() -> str:
    return str(connection.vendor)


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise CommandError(f"找不到 {name}（PostgreSQL 客户端工具）；请安装 postgresql-client，或按 docs/operations.md "
                           f"“Backup and restore”手工备份 ({name} not found on PATH)")
    return found


def pg_args_env() -> tuple[list[str], dict[str, str]]:
    """Connection arguments of the default database for pg_dump / pg_restore; the password goes in PGPASSWORD."""
    sd = connection.settings_dict
    args = ["--dbname", str(sd["NAME"])]
    if sd.get("HOST"):
        args += ["--host", str(sd["HOST"])]
    if sd.get("PORT"):
        args += ["--port", str(sd["PORT"])]
    if sd.get("USER"):
        args += ["--username", str(sd["USER"])]
    env = dict(os.environ)
    if sd.get("PASSWORD"):
        env["PGPASSWORD"] = str(sd["PASSWORD"])
    return args, env


def applied_migrations() -> dict[str, str]:
    """The last applied migration of each app (for the manifest: which code version wrote the backup)."""
    latest: dict[str, str] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        for app, name in cursor.fetchall():
            latest[str(app)] = str(name)
    return latest


def snapshot_sqlite(target: Path) -> None:
    source = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=30)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)  # pages=-1: the whole database in one step, one consistent snapshot
    finally:
        dest.close()
        source.close()
    check = sqlite3.connect(target)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if result != "ok":
        raise CommandError(f"备份副本完整性检查失败 (integrity_check of the copy: {result})")


def snapshot_postgresql(target: Path) -> None:
    args, env = pg_args_env()
    done = subprocess.run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",  # noqa: S603
                           "--file", str(target), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandError(f"pg_dump 失败 (failed): {done.stderr.strip()[-2000:]}")


class Command(BaseCommand):
    help = "在线备份本节点：数据库快照 + 审计外部头记录（默认不含密钥加密密钥 KEK）(online backup of the node)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="备份文件 (backup file, .tar.gz)")
        parser.add_argument("--include-keys", action="store_true",
                            help="同时备份 kek.hex 与 secret_key（备份文件须与数据库同等保护）"
                                 "(also put the KEK and the Django secret into the backup)")
        parser.add_argument("--force", action="store_true", help="覆盖已存在的文件 (overwrite FILE)")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出清单 (print the manifest as JSON)")

    def handle(self, *args: Any, **options: Any) -> None:
        target: Path = options["file"]
        if target.exists() and not options["force"]:
            raise CommandError(f"{target} 已存在；用 --force 覆盖 (exists; --force to overwrite)")
        if vendor() not in ("sqlite", "postgresql"):
            raise CommandError(f"不支持的数据库 (unsupported database): {vendor()}")
        home = Path(settings.GOVSHARE_HOME)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".govshare-backup-", dir=target.parent) as tmp:
            staging = Path(tmp)
            members: list[tuple[str, Path]] = []
            # The heads file first: every block it names is then in the snapshot taken after it.
            from govshare.audit.heads import default_path

            heads = default_path()
            if heads.exists():
                (staging / "heads.jsonl").write_bytes(heads.read_bytes())
                members.append((HEADS_MEMBER, staging / "heads.jsonl"))
            started = dt.datetime.now(dt.UTC)
            if vendor() == "sqlite":
                snapshot_sqlite(staging / "database.sqlite3")
                members.append(("database.sqlite3", staging / "database.sqlite3"))
            else:
                snapshot_postgresql(staging / "database.pgdump")
                members.append(("database.pgdump", staging / "database.pgdump"))
            if options["include_keys"]:
                for name in KEY_FILES:
                    if (home / name).exists():
                        members.append((f"home/{name}", home / name))
            manifest = {
                "format": FORMAT,
                "created_at": started.isoformat(),
                "vendor": vendor(),
                "database": str(connection.settings_dict["NAME"]),
                "migrations": applied_migrations(),
                "kek_id": settings.GOVSHARE_KEK_ID,
                "kek_check": kek_check(settings.GOVSHARE_KEK),
                "includes_keys": bool(options["include_keys"]),
                "kek_from_environment": bool(os.environ.get("GOVSHARE_KEK")),
                "members": {name: {"sha256": sha256_file(path), "size": path.stat().st_size}
                            for name, path in members},
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            partial = staging / "archive.tar.gz"
            with tarfile.open(partial, "w:gz") as tar:
                tar.add(staging / MANIFEST, arcname=MANIFEST)
                for name, path in members:
                    tar.add(path, arcname=name)
            os.chmod(partial, 0o600)
            with partial.open("rb") as fh:
                os.fsync(fh.fileno())
            partial.replace(target)  # the backup appears whole or not at all
        if options["json"]:
            self.stdout.write(json.dumps(manifest, ensure_ascii=False, indent=2))
            return
        size = target.stat().st_size
        self.stdout.write(f"备份完成 (backup written): {target}（{size / 1048576:.1f} MiB，{vendor()}）")
        if options["include_keys"]:
            self.stdout.write("注意：备份包含密钥加密密钥 kek.hex，须按密钥保管要求存放 "
                              "(the backup holds the KEK: keep it as safe as the key itself)")
        else:
            self.stdout.write(f"密钥加密密钥未备份：请另行保管 {home / 'kek.hex'}（或 GOVSHARE_KEK），恢复时需要它 "
                              f"(the KEK is not in the backup; keep it separately, the restore needs it)")
