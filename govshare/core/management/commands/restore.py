"""``govshare restore FILE``: put a ``govshare backup`` archive back (数据库恢复).

Stop ``govshare serve`` and ``govshare worker`` first. The restore

1. checks the archive (format, database vendor, the SHA-256 of every member);
2. checks the key-encryption key: the current one (``GOVSHARE_HOME/kek.hex`` or ``GOVSHARE_KEK``) must be the one
   the backup was made with (the manifest's check value). A backup made with ``--include-keys`` brings its own
   ``kek.hex`` / ``secret_key``: they are installed into GOVSHARE_HOME (existing files are kept aside as
   ``*.before-restore-<time>``); with ``GOVSHARE_KEK`` in the environment it must match instead;
3. refuses to overwrite a database that holds a govshare schema unless ``--force``;
4. restores the database (SQLite: the online backup API into the database file; PostgreSQL: ``pg_restore
   --clean --if-exists --single-transaction``) and the audit heads file (an existing, different heads file is
   replaced only with ``--replace-heads``, and kept aside — it documents blocks the restored database lacks).

Afterwards run ``govshare migrate`` (the code may be newer than the backup) and ``govshare audit verify``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections

from govshare.core.management.commands.backup import (
    FORMAT,
    HEADS_MEMBER,
    KEY_FILES,
    MANIFEST,
    kek_check,
    pg_args_env,
    pg_tool,
    sha256_file,
    vendor,
)


def has_schema() -> bool:
    return "django_migrations" in connection.introspection.table_names()


def read_archive(path: Path, into: Path) -> dict[str, Any]:
    """Extract the archive into ``into`` and return its manifest, after checking every member's SHA-256."""
    if not path.is_file():
        raise CommandError(f"找不到备份文件 (no such file): {path}")
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar.getmembers():  # regular files and directories below ``into`` only
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name:
                    raise CommandError(f"备份文件含有不允许的条目 (unexpected member): {member.name}")
            if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4: also refuses links and special files
                tar.extractall(into, filter="data")
            else:  # pragma: no cover - older 3.11; the members were checked above
                tar.extractall(into)  # noqa: S202
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CommandError(f"备份文件无法读取 (unreadable archive): {exc}") from None
    try:
        manifest: dict[str, Any] = json.loads((into / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"备份清单缺失或损坏 (manifest missing or broken): {exc}") from None
    if manifest.get("format") != FORMAT:
        raise CommandError(f"不认识的备份格式 (unknown format): {manifest.get('format')!r}")
    for name, meta in manifest.get("members", {}).items():
        member = into / name
        if not member.is_file() or sha256_file(member) != meta.get("sha256"):
            raise CommandError(f"备份文件已损坏 (member {name} is missing or its SHA-256 differs)")
    return manifest


def aside(path: Path, stamp: str) -> Path:
    kept = path.with_name(f"{path.name}.before-restore-{stamp}")
    path.replace(kept)
    return kept


class Command(BaseCommand):
    help = "从 govshare backup 备份文件恢复本节点（先停止 serve 与 worker）(restore a backup; stop the server first)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="备份文件 (backup file)")
        parser.add_argument("--force", action="store_true",
                            help="覆盖已有数据的数据库 (overwrite a database that holds data)")
        parser.add_argument("--replace-heads", action="store_true",
                            help="以备份中的审计头记录替换现有的不同头记录（原文件另存）"
                                 "(replace a different audit heads file; the old one is kept aside)")

    def handle(self, *args: Any, **options: Any) -> None:
        home = Path(settings.GOVSHARE_HOME)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        with tempfile.TemporaryDirectory(prefix=".govshare-restore-", dir=home) as tmp:
            staging = Path(tmp)
            manifest = read_archive(options["file"], staging)
            if manifest.get("vendor") != vendor():
                raise CommandError(f"备份来自 {manifest.get('vendor')}，当前数据库是 {vendor()} "
                                   f"(the backup is of a {manifest.get('vendor')} database, this node uses {vendor()})")
            replace_keys = self._check_keys(manifest, staging, options)
            heads = self._check_heads(staging, options)
            if has_schema() and not options["force"]:
                raise CommandError("当前数据库已有 govshare 数据；确认要覆盖请加 --force "
                                   "(the database holds a govshare schema; --force to overwrite it)")
            connections.close_all()
            if vendor() == "sqlite":
                self._restore_sqlite(staging / "database.sqlite3")
            else:
                self._restore_postgresql(staging / "database.pgdump")
            for name in replace_keys:
                target = home / name
                if target.exists():
                    self.stdout.write(f"原 {name} 另存为 (kept aside as) {aside(target, stamp).name}")
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write((staging / "home" / name).read_bytes())
            if heads is not None:
                if heads.exists():
                    self.stdout.write(f"原审计头记录另存为 (heads file kept aside as) {aside(heads, stamp)}")
                heads.parent.mkdir(parents=True, exist_ok=True)
                heads.write_bytes((staging / HEADS_MEMBER).read_bytes())
        self.stdout.write(f"恢复完成 (restored) {options['file']}（{manifest['created_at']} 的备份，{vendor()}）。")
        if replace_keys:
            self.stdout.write("已装入备份中的密钥；请重启服务进程 (keys from the backup installed; restart processes)")
        self.stdout.write("下一步 (next): govshare migrate；govshare audit verify")

    # -- checks -------------------------------------------------------------------------------------------

    def _check_keys(self, manifest: dict[str, Any], staging: Path, options: dict[str, Any]) -> list[str]:
        """The key files to install from the backup (empty when the current KEK is the backup's)."""
        current = kek_check(settings.GOVSHARE_KEK)
        if hmac.compare_digest(current, str(manifest.get("kek_check", ""))):
            return []
        bundled = staging / "home" / "kek.hex"
        if not bundled.exists():
            raise CommandError(
                f"当前的密钥加密密钥 (KEK) 不是备份时使用的那一个（备份的 KEK 编号 {manifest.get('kek_id')}）。"
                "请把原来的 kek.hex 放进 GOVSHARE_HOME，或设置 GOVSHARE_KEK，再运行恢复；没有它，数据库中加密的"
                "动态口令种子、连接口令和节点签名密钥都无法使用。(This node's KEK is not the one the backup was made "
                "with. Put the original kek.hex into GOVSHARE_HOME or set GOVSHARE_KEK, then run the restore again.)")
        if not hmac.compare_digest(kek_check(bundled.read_text(encoding="ascii")), str(manifest.get("kek_check"))):
            raise CommandError("备份中的 kek.hex 与清单不符 (the bundled kek.hex does not match the manifest)")
        if os.environ.get("GOVSHARE_KEK"):
            raise CommandError("环境变量 GOVSHARE_KEK 与备份的 KEK 不同；请改为备份中的 KEK 或取消该变量 "
                               "(GOVSHARE_KEK in the environment differs from the backup's KEK)")
        if has_schema() and not options["force"]:
            raise CommandError("替换密钥会使当前数据库中的加密数据无法读取；确认请加 --force "
                               "(replacing the KEK of a node that holds data needs --force)")
        return [name for name in KEY_FILES if (staging / "home" / name).exists()]

    def _check_heads(self, staging: Path, options: dict[str, Any]) -> Path | None:
        """The heads file to write (None: nothing to do)."""
        from govshare.audit.heads import default_path

        if not (staging / HEADS_MEMBER).exists():
            return None
        heads = default_path()
        if heads.exists():
            if heads.read_bytes() == (staging / HEADS_MEMBER).read_bytes():
                return None
            if not options["replace_heads"]:
                raise CommandError(
                    f"{heads} 与备份中的审计头记录不同（很可能记录了备份之后封存的区块）。恢复后 audit verify 会据此"
                    "报告这些区块缺失——这正是事实。要以备份中的头记录为准，加 --replace-heads（原文件另存，可交审计"
                    "管理员留档）。(The heads file differs from the backup's; --replace-heads to replace it, the old "
                    "one is kept aside.)")
        return heads

    # -- restoring ------------------------------------------------------------------------------------------

    def _restore_sqlite(self, source_file: Path) -> None:
        target = str(connection.settings_dict["NAME"])
        source = sqlite3.connect(source_file)
        dest = sqlite3.connect(target, timeout=30)
        try:
            source.backup(dest)  # page by page into the live file: the WAL stays consistent
            result = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
            source.close()
        if result != "ok":
            raise CommandError(f"恢复后完整性检查失败 (integrity_check after restore: {result})")

    def _restore_postgresql(self, dump: Path) -> None:
        args, env = pg_args_env()
        command = [pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                   "--single-transaction", "--exit-on-error", *args, str(dump)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            error = done.stderr.strip()[-2000:]
            raise CommandError(f"pg_restore 失败，数据库未改动 (failed, nothing changed): {error}")
