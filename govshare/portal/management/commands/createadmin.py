"""``govshare createadmin``: first start of a real node — the local node and the three separate
administrators (三员分立: 系统管理员, 安全管理员, 审计管理员), each with a generated password and a TOTP
seed shown once. It never creates a Django superuser."""

from __future__ import annotations

import secrets
import string
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from govshare.accounts.choices import Role
from govshare.accounts.models import User
from govshare.accounts.services import NewUser, create_user
from govshare.core.errors import DomainError
from govshare.organizations.choices import NodeLevel
from govshare.organizations.models import Node, Region
from govshare.organizations.services import create_node, load_regions, local_node

THREE_ADMINS = ((Role.SYS_ADMIN, "sys_username", "sysadmin"), (Role.SEC_ADMIN, "sec_username", "secadmin"),
                (Role.AUDIT_ADMIN, "audit_username", "auditadmin"))
_SYMBOLS = "!#%+-=@^_~"


def generate_password(length: int = 20) -> str:
    """A random password with lower and upper case letters, digits and symbols."""
    pools = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)
    chars = [secrets.choice(pool) for pool in pools]
    alphabet = "".join(pools)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


class Command(BaseCommand):
    help = ("创建本地节点（如尚无）和三员管理员账户（系统管理员、安全管理员、审计管理员），"
            "密码与动态口令种子只显示一次；不创建 Django 超级用户")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--node-code", help="本地节点代码，如 445100（尚无本地节点时必填）")
        parser.add_argument("--node-name", help="本地节点名称，如 潮州市（尚无本地节点时必填）")
        parser.add_argument("--level", choices=NodeLevel.values, default=NodeLevel.CITY, help="节点级别，默认 city")
        parser.add_argument("--region", help="行政区划代码（GB/T 2260，可选；功能区可不填）")
        for role, dest, default in THREE_ADMINS:
            parser.add_argument(f"--{dest.replace('_', '-')}", dest=dest, default=default,
                                help=f"{Role(role).label}用户名，默认 {default}")

    def handle(self, *args: Any, **options: Any) -> None:
        node = local_node()
        if node is None:
            node = self._create_node(options)
        elif options["node_code"] and options["node_code"] != node.code:
            raise CommandError(f"本地节点已存在：{node.name}（{node.code}），"
                               f"与 --node-code {options['node_code']} 不符。")
        existing = list(User.objects.filter(node=node, role__in=[r for r, _, _ in THREE_ADMINS]))
        if existing:
            names = "、".join(f"{u.username}（{u.get_role_display()}）" for u in existing)
            raise CommandError(f"节点“{node.name}”已有管理员账户：{names}。createadmin 只用于首次初始化，"
                               "不会重复创建；新增或重置管理员请由系统管理员在平台中操作。")
        made: list[tuple[NewUser, str]] = []
        try:
            with transaction.atomic():  # all three or none
                for role, dest, _ in THREE_ADMINS:
                    password = generate_password()
                    made.append((create_user(actor=None, username=options[dest], password=password, role=role,
                                             node=node, display_name=str(Role(role).label)), password))
        except DomainError as exc:
            raise CommandError(f"创建管理员失败：{exc.message}") from exc
        self._report(node, made)

    def _create_node(self, options: dict[str, Any]) -> Node:
        code, name = options["node_code"], options["node_name"]
        if not code or not name:
            raise CommandError("尚无本地节点：请用 --node-code 和 --node-name 指定（可选 --level、--region）。")
        if options["region"] and not Region.objects.exists():
            load_regions(actor=None)
        try:
            node = create_node(actor=None, code=code, name=name, level=options["level"],
                               region_code=options["region"] or None, is_local=True)
        except DomainError as exc:
            raise CommandError(f"创建本地节点失败：{exc.message}") from exc
        self.stdout.write(f"已创建本地节点：{node.name}（{node.code}，{node.get_level_display()}）")
        return node

    def _report(self, node: Node, made: list[tuple[NewUser, str]]) -> None:
        w = self.stdout.write
        w("")
        w(f"已为节点“{node.name}”创建三员管理员账户（三员分立，各由不同的人保管）。")
        w("以下密码和动态口令种子只显示这一次，请立即分别交给本人，首次登录后修改密码：")
        w("")
        for new, password in made:
            user = new.user
            w(f"  {user.get_role_display()}  用户名：{user.username}")
            w(f"      密码：{password}")
            w(f"      动态口令种子（TOTP）：{new.totp_secret}")
            w(f"      身份验证器链接：{new.totp_uri}")
        w("")
        w("把种子添加到任一身份验证器 App（Microsoft Authenticator、Google Authenticator、FreeOTP 等），"
          "或运行 python -c \"import pyotp; print(pyotp.TOTP('种子').now())\" 取得当前动态口令。")
        w("govshare 不创建 Django 超级用户：平台管理由以上三个角色分别完成。")
