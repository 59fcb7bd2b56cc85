"""How the demo describes a catalog resource (信息资源) as data."""

from __future__ import annotations

from dataclasses import dataclass

from govshare.catalog.services import ItemSpec

# Mnemonics for the seeded data elements (govshare/catalog/data/data_elements.json).
ELEMENTS: dict[str, str] = {
    "id": "DE0001", "name": "DE0002", "gender": "DE0003", "birth": "DE0004", "ethnicity": "DE0005",
    "hh_addr": "DE0006", "cur_addr": "DE0007", "mobile": "DE0008", "marital": "DE0009",
    "insurance": "DE0010", "native": "DE0011", "deceased": "DE0012", "bank_card": "DE0013",
    "email": "DE0014", "uscc": "DE0015", "org": "DE0016", "legal_rep": "DE0017", "capital": "DE0018",
    "established": "DE0019", "reg_status": "DE0020", "org_addr": "DE0021", "scope": "DE0022",
    "tax_grade": "DE0023", "region": "DE0024", "org_code": "DE0025", "unit": "DE0026",
    "location": "DE0027", "area": "DE0028", "use": "DE0029", "holder": "DE0030", "license_no": "DE0031",
    "license_name": "DE0032", "issued": "DE0033", "valid_until": "DE0034", "authority": "DE0035",
    "penalty_no": "DE0036", "penalty_reason": "DE0037", "penalty_date": "DE0038", "value": "DE0039",
    "period": "DE0040", "case_no": "DE0041", "item_code": "DE0042", "phone": "DE0043", "school": "DE0044",
    "hospital": "DE0045", "medical": "DE0046", "amount": "DE0047", "month": "DE0048",
    "address": "DE0049", "title": "DE0050",
}

# Lifecycle states a demo resource is left in.
PUBLISHED = "published"  # 已发布
DRAFT = "draft"  # 草稿 (never submitted)
REJECTED = "rejected"  # 草稿, sent back by the data office with a reason
PENDING = "pending"  # 待审核
WITHDRAWAL_PENDING = "withdrawal_pending"  # 撤销待审核
WITHDRAWN = "withdrawn"  # 已撤销
REVISING = "revising"  # published, with a revision in progress (working copy is a draft)
TIGHTENED = "tightened"  # two versions: v1 无条件共享, v2 有条件共享 (flags grants for review)
STATES = (PUBLISHED, DRAFT, REJECTED, PENDING, WITHDRAWAL_PENDING, WITHDRAWN, REVISING, TIGHTENED)

DEFAULT_CONDITION = "仅用于履行法定职责的业务办理和核验；申请时须说明用途、对应政务服务事项和使用系统。"


def it(name: str, element: str, col: str | None = None, *, key: bool = False, level: int | None = None,
       required: bool = False) -> ItemSpec:
    """One 信息项. ``element`` is a mnemonic of :data:`ELEMENTS`; ``col`` overrides its column name."""
    return ItemSpec(name=name, element_code=ELEMENTS[element], column_name=col, is_key=key,
                    sensitivity=level, required=required or key)


def person(id_name: str = "公民身份号码") -> tuple[ItemSpec, ItemSpec]:
    return it(id_name, "id", key=True), it("姓名", "name", required=True)


def org(*, key: bool = True) -> tuple[ItemSpec, ItemSpec]:
    return it("统一社会信用代码", "uscc", key=key, required=True), it("单位名称", "org", required=True)


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    cls: str  # classification code (目)
    provider: str  # department slug (govshare.demo.city)
    summary: str
    items: tuple[ItemSpec, ...]
    share: str = "conditional"
    modes: tuple[str, ...] = ("api",)
    open: str = "none"
    cycle: str = "daily"
    formats: tuple[str, ...] = ("database",)
    condition: str = ""
    basis: str = ""  # 不予共享依据
    open_condition: str = ""
    source: str | None = None  # 数源部门 slug when it is not the provider
    state: str = PUBLISHED
    note: str = ""  # reason for reject / withdrawal, or what a revision changes
    dataset: str | None = None  # key of a generator in the builder
    tags: tuple[str, ...] = ()
