"""The demo city as data: nodes, departments, information systems and accounts (DESIGN.md §5).

Everything here is plain data; :mod:`govshare.demo.builder` turns it into rows through the services.
"""

from __future__ import annotations

from dataclasses import dataclass

# One password for every demo account. It meets the policy (length ≥ 10, three character classes)
# and is printed, so the demo must never hold real data.
DEMO_PASSWORD = "Chaozhou@2026"  # noqa: S105 - a published demo password, by design

CITY_CODE = "445100"


@dataclass(frozen=True)
class NodeDef:
    code: str
    name: str
    level: str
    region: str | None
    parent: str | None = None


NODES: tuple[NodeDef, ...] = (
    NodeDef(CITY_CODE, "潮州市", "city", "445100"),
    NodeDef("445102", "湘桥区", "county", "445102", parent=CITY_CODE),
    NodeDef("445103", "潮安区", "county", "445103", parent=CITY_CODE),
    NodeDef("445122", "饶平县", "county", "445122", parent=CITY_CODE),
    # 枫溪区 is a functional zone (功能区) with no GB/T 2260 code, yet it runs a county-level node.
    NodeDef("445100-FX", "枫溪区", "county", None, parent=CITY_CODE),
)


@dataclass(frozen=True)
class DeptDef:
    slug: str  # ASCII, used in usernames
    name: str
    short: str
    node: str
    org_body: str  # 8-character 组织机构代码 body; the 统一社会信用代码 is 11 + region + body + checks
    region: str | None = None  # defaults to the node's region
    data_office: bool = False
    uscc_region: str | None = None  # region inside the USCC when the node has none (枫溪区)


DEPARTMENTS: tuple[DeptDef, ...] = (
    DeptDef("zsj", "潮州市政务服务和数据管理局", "市政数局", CITY_CODE, "MB2C0871", data_office=True),
    # The 政务服务中心 runs the service hall; as a consumer of the base libraries it must not be their provider.
    DeptDef("zwfw", "潮州市政务服务中心", "市政务服务中心", CITY_CODE, "MB2C0898"),
    DeptDef("gaj", "潮州市公安局", "市公安局", CITY_CODE, "00708101"),
    DeptDef("scjg", "潮州市市场监督管理局", "市市场监管局", CITY_CODE, "MB2C0102"),
    DeptDef("rsj", "潮州市人力资源和社会保障局", "市人社局", CITY_CODE, "00708207"),
    DeptDef("mzj", "潮州市民政局", "市民政局", CITY_CODE, "00708311"),
    DeptDef("wjj", "潮州市卫生健康局", "市卫健局", CITY_CODE, "MB2C0233"),
    DeptDef("swj", "国家税务总局潮州市税务局", "市税务局", CITY_CODE, "MB2C0415"),
    DeptDef("zrzyj", "潮州市自然资源局", "市自然资源局", CITY_CODE, "MB2C0519"),
    DeptDef("zjj", "潮州市住房和城乡建设局", "市住建局", CITY_CODE, "00708422"),
    DeptDef("jyj", "潮州市教育局", "市教育局", CITY_CODE, "00708506"),
    DeptDef("tjj", "潮州市统计局", "市统计局", CITY_CODE, "00708617"),
    DeptDef("ybj", "潮州市医疗保障局", "市医保局", CITY_CODE, "MB2C0624"),
    DeptDef("fgj", "潮州市发展和改革局", "市发改局", CITY_CODE, "00708025"),
    DeptDef("sthjj", "潮州市生态环境局", "市生态环境局", CITY_CODE, "MB2C0738"),
    DeptDef("jtj", "潮州市交通运输局", "市交通运输局", CITY_CODE, "00708729"),
    DeptDef("sjj", "潮州市审计局", "市审计局", CITY_CODE, "00708840"),
    DeptDef("xq_zsj", "潮州市湘桥区政务服务和数据管理局", "湘桥区政数局", "445102", "MB2D1053", data_office=True),
    DeptDef("ca_scjg", "潮州市潮安区市场监督管理局", "潮安区市场监管局", "445103", "MB2D2061"),
    DeptDef("rp_gaj", "饶平县公安局", "饶平县公安局", "445122", "00716107"),
    DeptDef("fx_sswj", "潮州市枫溪区社会事务局", "枫溪区社会事务局", "445100-FX", "MB2D3078",
            uscc_region="445100"),
)

NODE_REGION = {n.code: n.region for n in NODES}

# Departments that get provider/consumer staff (every department gets a 部门管理员).
STAFFED = frozenset(d.slug for d in DEPARTMENTS)


@dataclass(frozen=True)
class UserDef:
    username: str
    role: str
    node: str
    dept: str | None  # department slug
    display_name: str


def _dept_users() -> list[UserDef]:
    users: list[UserDef] = []
    people = {"dept_admin": ("admin", "管理员"), "provider": ("provider", "数据专员"),
              "consumer": ("consumer", "业务员")}
    for d in DEPARTMENTS:
        for role, (suffix, title) in people.items():
            users.append(UserDef(f"{d.slug}_{suffix}", role, d.node, d.slug, f"{d.short}{title}"))
    return users


USERS: tuple[UserDef, ...] = (
    UserDef("shujuju", "data_office", CITY_CODE, "zsj", "市政数局 目录审核员"),
    UserDef("xq_shujuju", "data_office", "445102", "xq_zsj", "湘桥区政数局 目录审核员"),
    UserDef("sysadmin", "sys_admin", CITY_CODE, None, "系统管理员"),
    UserDef("secadmin", "sec_admin", CITY_CODE, None, "安全管理员"),
    UserDef("auditadmin", "audit_admin", CITY_CODE, "sjj", "审计管理员"),
    *_dept_users(),
    UserDef("chuangkou01", "window_clerk", CITY_CODE, "zwfw", "市政务服务中心 综合窗口01"),
    UserDef("chuangkou02", "window_clerk", CITY_CODE, "zwfw", "市政务服务中心 综合窗口02"),
)


@dataclass(frozen=True)
class SystemDef:
    dept: str
    name: str
    purpose: str
    credential: bool = False  # issue an AppKey/AppSecret and print it


SYSTEMS: tuple[SystemDef, ...] = (
    SystemDef("zsj", "一网通办受理平台", "政务服务事项统一受理、办件流转和“好差评”", credential=True),
    SystemDef("zsj", "电子证照库系统", "电子证照归集、签发、用证核验"),
    SystemDef("zwfw", "政务服务大厅综合窗口系统", "“一窗通办”综合受理与叫号"),
    SystemDef("gaj", "人口综合管理系统", "户籍、居住证、流动人口管理"),
    SystemDef("gaj", "出入境管理系统", "出入境证件受理与签发"),
    SystemDef("scjg", "市场主体登记注册系统", "企业、个体工商户、农民专业合作社登记"),
    SystemDef("scjg", "企业信用信息公示系统（潮州）", "行政许可、行政处罚、年报公示"),
    SystemDef("rsj", "社保业务经办系统", "社会保险参保登记、缴费核定、待遇发放", credential=True),
    SystemDef("rsj", "就业服务管理系统", "就业失业登记、职业介绍、创业补贴"),
    SystemDef("mzj", "婚姻登记管理系统", "结婚、离婚登记与补领"),
    SystemDef("mzj", "社会救助信息系统", "低保、特困、临时救助审批与发放"),
    SystemDef("mzj", "城乡低保审批系统（2013版）", "已被社会救助信息系统替代，仍在运行"),
    SystemDef("wjj", "全民健康信息平台", "电子健康档案、电子病历共享"),
    SystemDef("wjj", "出生医学证明管理系统", "出生医学证明签发"),
    SystemDef("swj", "电子税务局", "纳税申报、发票、税务登记"),
    SystemDef("zrzyj", "不动产登记信息管理平台", "不动产登记受理、审核、登簿、发证", credential=True),
    SystemDef("zrzyj", "国土空间基础信息平台", "国土空间规划“一张图”"),
    SystemDef("zjj", "商品房网签备案系统", "商品房买卖合同网签备案"),
    SystemDef("zjj", "住房保障管理系统", "公租房申请、轮候、配租"),
    SystemDef("jyj", "中小学生学籍管理系统", "学籍注册、转学、毕业"),
    SystemDef("jyj", "义务教育招生报名系统", "小学、初中入学网上报名"),
    SystemDef("tjj", "统计联网直报平台", "“四上”企业统计数据报送"),
    SystemDef("ybj", "医疗保障信息平台", "医保参保、结算、定点机构管理"),
    SystemDef("fgj", "信用潮州平台", "公共信用信息归集与“双公示”"),
    SystemDef("sthjj", "污染源在线监控系统", "重点排污单位在线监测"),
    SystemDef("jtj", "道路运输管理系统", "道路运输经营许可、车辆营运证"),
    SystemDef("ca_scjg", "潮安区食品安全监管系统", "食品生产经营日常监督检查"),
    SystemDef("rp_gaj", "饶平县智慧警务平台", "接处警、治安管理"),
)
