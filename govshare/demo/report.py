"""The text printed after ``govshare demo``: where to go, the logins, the credentials."""

from __future__ import annotations

import unicodedata

from govshare.demo.builder import DemoSummary
from govshare.demo.city import DEMO_PASSWORD

RULE = "=" * 100
THIN = "-" * 100


def width(text: str) -> int:
    """Terminal columns: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def _row(cells: list[tuple[str, int]]) -> str:
    return "  " + "".join(pad(text, cols) for text, cols in cells).rstrip()


def format_summary(summary: DemoSummary, url: str) -> str:
    c = summary.counts
    lines = [
        "",
        RULE,
        "  govshare 演示城市：潮州市（445100）" + ("（沿用已有数据）" if summary.reused else ""),
        f"  访问地址：{url}        接口文档：{url}api/v1/docs",
        f"  节点 {c.get('nodes', 0)} 个，部门 {c.get('departments', 0)} 个，用户 {c.get('users', 0)} 个，"
        f"信息系统 {c.get('systems', 0)} 个，目录资源 {c.get('resources', 0)} 个（已发布在列 {c.get('listed', 0)}），"
        f"数据集 {c.get('datasets', 0)} 个共 {c.get('rows', 0)} 行，"
        f"共享申请 {c.get('applications', 0)} 件，授权 {c.get('grants', 0)} 个",
        f"  生成耗时 {summary.seconds:.1f} 秒（居民 {summary.people} 人，企业 {summary.companies} 家）",
        THIN,
        f"  所有演示账号的密码相同：{DEMO_PASSWORD}    （演示数据均为虚构；切勿在演示环境中录入真实数据）",
        "  管理员账号（数据主管部门、三员、部门管理员）登录时还须输入动态口令（TOTP，30 秒一换）：",
        "  把下表的“动态口令种子”添加到任一身份验证器 App（如 Microsoft Authenticator、Google Authenticator、",
        "  FreeOTP、腾讯身份验证器），或在命令行运行：",
        "      python -c \"import pyotp; print(pyotp.TOTP('种子').now())\"",
        THIN,
        _row([("角色", 14), ("用户名", 18), ("密码", 15), ("动态口令种子", 34), ("部门 / 节点", 0)]),
    ]
    for login in summary.logins:
        lines.append(_row([(login.role, 14), (login.username, 18), (login.password, 15),
                           (login.totp_secret or "—", 34), (login.department, 0)]))
    if summary.credentials:
        lines += [THIN, "  信息系统应用凭证（调用数据接口时用 AppKey 标识系统、AppSecret 计算 HMAC-SM3 签名）：",
                  _row([("信息系统", 26), ("AppKey", 28), ("AppSecret", 0)])]
        for cred in summary.credentials:
            lines.append(_row([(cred.system, 26), (cred.app_key, 28), (cred.app_secret, 0)]))
            lines.append(_row([("", 26), (f"（{cred.department}）", 0)]))
    if summary.credentials and summary.verify:
        cred, v = summary.credentials[0], summary.verify
        lines += [
            THIN,
            f"  核验调用示例（{cred.system}已获“人口基本信息”授权；服务启动后在另一终端运行）：",
            "      from govshare.client import GovshareClient",
            f"      gs = GovshareClient(\"{url.rstrip('/')}\", \"{cred.app_key}\", \"{cred.app_secret}\",",
            "                          operator=\"综合窗口01\", case_number=\"BJ2026-0001\",",
            "                          item_code=\"11445100MB2C0871XY\", purpose=\"政务服务事项受理核验身份\")",
            f"      print(gs.verify(\"{v.resource}\", \"{v.key}\", {{\"person_name\": \"{v.name}\"}}))",
            "      # → {\"ok\": true, \"all_match\": true, ...}；换一个姓名则为 false。",
            "      # 核验只回答是否一致，不返回数据。",
        ]
    lines += [
        THIN,
        "  先看这些（在门户登录后打开接口文档，直接调用各接口）：",
        "    · shujuju（数据主管部门）：GET /api/v1/catalog/review-queue —— 待审核的目录；",
        "      另有被退回的草稿、撤销待审核、已撤销、修订中的资源（GET /api/v1/catalog/resources?status=…）；",
        "    · rsj_provider（市人社局数据专员）：“社会保险参保信息”有两个版本，",
        "      …/versions 与 …/diff 显示第二版收紧了共享属性（无条件共享 → 有条件共享）；",
        "    · gaj_provider（市公安局数据专员）：GET /api/v1/datasets —— “人口基本信息”已挂接，…/records 可预览；",
        "    · shujuju：GET /api/v1/exchange/applications —— 各状态的共享申请（含超期上报的）；",
        "    · secadmin（安全管理员）：一个授权已应急停用，一个授权经批准越过推断防护；",
        "    · sysadmin（系统管理员）：GET /api/v1/registry/systems —— 各部门信息系统与凭证；",
        "    · auditadmin（审计管理员）：GET /api/v1/audit/events —— 生成演示城市的每一步都已记入审计日志。",
        RULE,
        "",
    ]
    return "\n".join(lines)
