"""``audit``: seal, verify and export the audit chain (审计链封存、校验、导出).

    govshare audit seal [--max-events N] [--block-events N] [--json]
    govshare audit verify [--pinned-key HEX ...] [--pinned-key-file F] [--heads FILE] [--jobs N] [--json]
    govshare audit export FILE [--from-seq N] [--to-seq M]
    govshare audit verify-file FILE [--pinned-key HEX ...] [--pinned-key-file F] [--heads FILE] [--json]
    govshare audit status [--json]
    govshare audit public-key

``verify`` and ``verify-file`` exit with 0 when everything holds and 1 when problems were found.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from govshare.core.crypto.errors import CryptoError, InvalidKeyError


def _add_key_args(parser: CommandParser) -> None:
    parser.add_argument("--pinned-key", action="append", default=[],
                        help="固定的节点公钥（十六进制，可多次给出）(pinned node public key, hex; repeatable)")
    parser.add_argument("--pinned-key-file", type=Path,
                        help="公钥文件，每行一个 (file with pinned public keys, one per line)")
    parser.add_argument("--heads", type=Path,
                        help="外部头记录文件 heads.jsonl (heads file kept outside the database)")
    parser.add_argument("--json", action="store_true", help="以 JSON 输出 (JSON output)")


class Command(BaseCommand):
    help = "审计链 (audit chain): seal | verify | export FILE | verify-file FILE | status | public-key"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p_seal = sub.add_parser("seal", help="封存未封存的事件 (seal pending events)")
        p_seal.add_argument("--max-events", type=int, default=1_000_000,
                            help="本次最多封存事件数 (at most this many events)")
        p_seal.add_argument("--block-events", type=int, default=None, help="每个区块的事件数 (events per block)")
        p_seal.add_argument("--json", action="store_true")
        p_ver = sub.add_parser("verify", help="校验数据库中的审计链 (verify the chain in the database)")
        _add_key_args(p_ver)
        p_ver.add_argument("--no-record", action="store_true",
                           help="不记录本次校验 (do not record this run in the database)")
        p_ver.add_argument("--jobs", type=int, default=1,
                           help="并行进程数，如 CPU 核数 (worker processes, e.g. the number of CPUs)")
        p_exp = sub.add_parser("export", help="导出自包含的审计文件 (export a self-contained file)")
        p_exp.add_argument("file", type=Path)
        p_exp.add_argument("--from-seq", type=int, default=None)
        p_exp.add_argument("--to-seq", type=int, default=None)
        p_exp.add_argument("--json", action="store_true")
        p_vf = sub.add_parser("verify-file", help="离线校验导出文件 (verify an export file offline)")
        p_vf.add_argument("file", type=Path)
        _add_key_args(p_vf)
        p_st = sub.add_parser("status", help="封存状态 (sealed range and unsealed tail)")
        p_st.add_argument("--json", action="store_true")
        sub.add_parser("public-key", help="打印节点公钥，用于固定 (print the node public key to pin)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "seal":
            self._seal(options)
        elif action == "verify":
            self._verify(options)
        elif action == "export":
            self._export(options)
        elif action == "verify-file":
            self._verify_file(options)
        elif action == "status":
            self._status(options)
        elif action == "public-key":
            self._public_key()

    # ------------------------------------------------------------------------------------------

    def _emit(self, options: dict[str, Any], data: dict[str, Any], lines: list[str]) -> None:
        if options.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder))
        else:
            for line in lines:
                self.stdout.write(line)

    def _pinned(self, options: dict[str, Any]) -> list[str] | None:
        from govshare.audit.offline import read_key_file

        keys = list(options.get("pinned_key") or [])
        path = options.get("pinned_key_file")
        if path:
            try:
                keys += read_key_file(path)
            except OSError as exc:
                raise CommandError(f"无法读取公钥文件 (cannot read the key file): {exc}") from None
            if not keys:
                raise CommandError(f"公钥文件为空 (no key in {path})")
        return keys or None

    def _seal(self, options: dict[str, Any]) -> None:
        from govshare.audit.seal import seal_pending

        try:
            result = seal_pending(max_events=options["max_events"], block_events=options["block_events"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        lines = [f"封存 (sealed): {result.events} 条事件 (events)，{len(result.blocks)} 个区块 (blocks)"
                 + (f"，seq {result.first_seq}–{result.last_seq}" if result.blocks else "")]
        if result.gaps:
            lines.append(f"空号 (unused seqs in the range): {result.gaps}")
        if result.waiting_for_transactions:
            lines.append("仍有进行中的事务，部分事件留待下次封存 (transactions in flight; the rest waits)")
        if result.conflict:
            lines.append("另一个封存进程正在运行 (another sealer is running)")
        lines.append(f"未封存 (still unsealed): {result.unsealed}；用时 (seconds) {result.seconds:.3f}")
        self._emit(options, result.as_dict(), lines)

    def _verify(self, options: dict[str, Any]) -> None:
        from govshare.audit.verify import record_run, verify_chain

        started = timezone.now()
        try:
            report = verify_chain(pinned_keys=self._pinned(options), heads_path=options.get("heads"),
                                  jobs=max(1, int(options.get("jobs") or 1)))
        except (InvalidKeyError, CryptoError) as exc:
            raise CommandError(f"公钥无效 (invalid pinned key): {exc}") from None
        if not options.get("no_record"):
            record_run(report, actor="cli:audit verify", started_at=started)
        self._emit(options, report.as_dict(), report.lines())
        if not report.ok:
            sys.exit(1)

    def _verify_file(self, options: dict[str, Any]) -> None:
        from govshare.audit.offline import verify_export

        path: Path = options["file"]
        if not path.exists():
            raise CommandError(f"文件不存在 (no such file): {path}")
        try:
            report = verify_export(path, pinned_keys=self._pinned(options), heads_path=options.get("heads"))
        except (InvalidKeyError, CryptoError) as exc:
            raise CommandError(f"公钥无效 (invalid pinned key): {exc}") from None
        self._emit(options, report.as_dict(), report.lines())
        if not report.ok:
            sys.exit(1)

    def _export(self, options: dict[str, Any]) -> None:
        from govshare.audit.export import export_file

        try:
            result = export_file(options["file"], from_seq=options["from_seq"], to_seq=options["to_seq"],
                                 actor="cli:audit export")
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        lines = [f"已导出 (exported) {result.path}: {result.blocks} 个区块 (blocks)，{result.events} 条已封存事件 "
                 f"(sealed events)，{result.unsealed} 条未封存事件 (unsealed events)",
                 f"SM3: {result.sm3}"]
        self._emit(options, result.as_dict(), lines)

    def _status(self, options: dict[str, Any]) -> None:
        from govshare.audit.selectors import chain_state

        data = chain_state()
        sealed, tail = data["sealed"], data["unsealed"]
        lines = [
            f"已封存 (sealed): {sealed['blocks']} 个区块 (blocks)，seq {sealed['first_seq']}–{sealed['last_seq']}，"
            f"{sealed['events']} 条 (events)",
            f"未封存 (unsealed): {tail['count']} 条 (events)" + (
                f"，seq {tail['first_seq']}–{tail['last_seq']}，最早 (oldest) {tail['oldest_at']}" if tail["count"]
                else ""),
        ]
        run = data["last_verification"]
        if run:
            lines.append(f"上次校验 (last verification): {run['finished_at']} "
                         f"{'通过 (OK)' if run['ok'] else '发现问题 (problems)'}")
        self._emit(options, data, lines)

    def _public_key(self) -> None:
        from govshare.audit.keys import get_or_create_key

        key = get_or_create_key()
        self.stdout.write(key.public_key)
