"""社会信用: multi-valued fields fed by sources keyed otherwise (行政处罚 by 决定书文号), grouped by the
subject's 统一社会信用代码; set semantics for cross-checks."""

from __future__ import annotations

from typing import Any

import pytest

from govshare import testing
from govshare.accounts.choices import Role
from govshare.baselibs.choices import DiscrepancyStatus
from govshare.baselibs.models import Discrepancy, GroupMember
from govshare.baselibs.services import fuse, install_library
from govshare.baselibs.tests.conftest import it
from govshare.core.errors import ValidationFailed
from govshare.core.identifiers import make_uscc
from govshare.datasets.changes import apply_batch, live_records
from govshare.datasets.services import load_rows, mount_resource

pytestmark = pytest.mark.django_db

USCC = [make_uscc("9", "1", "445102", f"MA{n:06d}") for n in range(1, 5)]


class Credit:
    def __init__(self) -> None:
        testing.seed()
        self.node = testing.node("445100", name="潮州市", level="city")
        self.office_dept = testing.department(self.node, name="市政务服务数据管理局", is_data_office=True)
        self.office = testing.user(Role.DATA_OFFICE, at=self.node, dept=self.office_dept)
        self.staff: dict[str, Any] = {}
        self.ds: dict[str, Any] = {}
        self.n = 0
        uscc_key = it("统一社会信用代码", "DE0015", key=True)
        specs = {
            "reg": ("市市场监督管理局", "企业登记信息", [uscc_key, it("企业名称", "DE0016")]),
            "pen": ("市市场监督管理局", "行政处罚信息", [it("决定书文号", "DE0036", key=True),
                                                  it("当事人代码", "DE0015"), it("处罚事由", "DE0037")]),
            "dgs": ("市发展和改革局", "双公示行政处罚归集", [it("决定书文号", "DE0036", key=True),
                                                     it("当事人代码", "DE0015")]),
            "lst": ("市发展和改革局", "信用红黑名单", [uscc_key, it("名单类型", "DE0055")]),
            "tax": ("国家税务总局潮州市税务局", "纳税信用等级", [uscc_key, it("企业名称", "DE0016"),
                                                     it("纳税信用等级", "DE0023")]),
            "lic": ("市市场监督管理局", "行政许可信息", [it("许可文号", "DE0056", key=True), it("持证代码", "DE0015")]),
        }
        depts: dict[str, Any] = {}
        for slot, (dept_name, name, items) in specs.items():
            dept = depts.get(dept_name) or testing.department(self.node, name=dept_name)
            depts[dept_name] = dept
            self.staff[slot] = self.staff.get(slot) or testing.user(Role.PROVIDER, dept=dept)
            r = testing.resource(dept, name=name, items=items, publish_by=self.office)
            self.ds[slot] = mount_resource(actor=self.staff[slot], resource=r)
        self.load("reg", [{"uscc": u, "org_name": f"潮州市{n}号陶瓷有限公司"} for n, u in enumerate(USCC)])
        self.load("pen", [
            {"penalty_doc_no": "潮市监处罚〔2024〕1号", "uscc": USCC[0], "penalty_reason": "虚假宣传"},
            {"penalty_doc_no": "潮市监处罚〔2024〕2号", "uscc": USCC[0], "penalty_reason": "无照经营"},
            {"penalty_doc_no": "潮市监处罚〔2024〕3号", "uscc": USCC[1], "penalty_reason": "产品质量"}])
        # The 信用办's collection lags (only one of USCC[0]'s) and has one the 市场监管局 does not (USCC[2]).
        self.load("dgs", [{"penalty_doc_no": "潮市监处罚〔2024〕1号", "uscc": USCC[0]},
                          {"penalty_doc_no": "潮市监处罚〔2024〕9号", "uscc": USCC[2]}])
        self.load("lst", [{"uscc": USCC[1], "credit_list_type": "黑名单"}])
        self.load("tax", [{"uscc": u, "org_name": f"潮州市{n}号陶瓷有限公司", "tax_credit_grade": "A"}
                          for n, u in enumerate(USCC)])
        self.load("lic", [{"permit_doc_no": "JY24451020001", "uscc": USCC[3]}])

    def load(self, slot: str, rows: list[dict[str, Any]]) -> None:
        assert load_rows(actor=self.staff[slot], dataset=self.ds[slot], rows=rows).status == "applied"

    def batch(self, slot: str, upserts: list[dict[str, Any]] = (), deletes: list[str] = ()) -> None:  # type: ignore[assignment]
        self.n += 1
        apply_batch(actor=self.staff[slot], dataset=self.ds[slot], batch_id=f"g{self.n}", upserts=upserts,
                    deletes=deletes)

    def sources(self) -> dict[str, Any]:
        d = self.ds
        return {
            "uscc": {"authoritative": (d["reg"], "uscc")},
            "org_name": {"authoritative": (d["reg"], "org_name"), "cross_checks": [(d["tax"], "org_name")]},
            "credit_list_type": {"authoritative": (d["lst"], "credit_list_type")},
            "permit_doc_no": {"authoritative": (d["lic"], "permit_doc_no", "uscc")},
            "penalty_doc_no": {"authoritative": (d["pen"], "penalty_doc_no", "uscc"),
                               "cross_checks": [(d["dgs"], "penalty_doc_no", "uscc")]},
            "tax_credit_grade": {"authoritative": (d["tax"], "tax_credit_grade")},
        }

    def install(self, sources: dict[str, Any] | None = None) -> Any:
        return install_library(actor=self.office, node=self.node, code="social_credit",
                               sources=sources or self.sources(), provider_department=self.office_dept)


@pytest.fixture
def credit(db: None) -> Credit:
    return Credit()


def row(lib: Any, key: str) -> dict[str, Any]:
    return live_records(dataset=lib.dataset, keys=[key])[key]


def test_grouped_sources_build_multi_valued_fields(credit: Credit) -> None:
    lib = credit.install()
    run = fuse(actor=credit.office, library=lib)
    assert run.status == "succeeded" and run.keys_examined == 4
    assert row(lib, USCC[0])["penalty_doc_no"] == "潮市监处罚〔2024〕1号；潮市监处罚〔2024〕2号"
    assert row(lib, USCC[1])["penalty_doc_no"] == "潮市监处罚〔2024〕3号"
    assert row(lib, USCC[1])["credit_list_type"] == "黑名单" and row(lib, USCC[0])["credit_list_type"] is None
    assert row(lib, USCC[3])["permit_doc_no"] == "JY24451020001" and row(lib, USCC[3])["tax_credit_grade"] == "A"
    # A lagging cross-check (a subset) is no disagreement; a decision only the 信用办 has is one, and it has no
    # record of the 市场监管局 to hang a dispute on.
    (d,) = Discrepancy.objects.filter(library=lib, status=DiscrepancyStatus.OPEN)
    assert (d.key, d.field) == (USCC[2], "penalty_doc_no") and d.authoritative_value == "" and not d.dispute_id
    assert run.disputes_raised == 0
    assert GroupMember.objects.filter(library=lib).count() == 1 + 3 + 2


def test_a_record_moving_between_groups_refuses_both_subjects(credit: Credit) -> None:
    lib = credit.install()
    fuse(actor=credit.office, library=lib)
    # Decision 2 was registered against the wrong company: corrected to USCC[1].
    credit.batch("pen", [{"penalty_doc_no": "潮市监处罚〔2024〕2号", "uscc": USCC[1], "penalty_reason": "无照经营"}])
    run = fuse(actor=credit.office, library=lib)
    assert not run.full and run.keys_examined == 2 and run.upserts == 2
    assert row(lib, USCC[0])["penalty_doc_no"] == "潮市监处罚〔2024〕1号"
    assert row(lib, USCC[1])["penalty_doc_no"] == "潮市监处罚〔2024〕2号；潮市监处罚〔2024〕3号"
    # The 市场监管局 records decision 9 too: the disagreement is over.
    credit.batch("pen", [{"penalty_doc_no": "潮市监处罚〔2024〕9号", "uscc": USCC[2], "penalty_reason": "虚假宣传"}],
                 deletes=["潮市监处罚〔2024〕3号"])
    run = fuse(actor=credit.office, library=lib)
    assert run.discrepancies_resolved == 1
    assert row(lib, USCC[1])["penalty_doc_no"] == "潮市监处罚〔2024〕2号"
    assert not Discrepancy.objects.filter(library=lib, status=DiscrepancyStatus.OPEN).exists()
    # A full run rebuilds the index and agrees with the incremental result.
    before = {u: row(lib, u) for u in USCC}
    full = fuse(actor=credit.office, library=lib, full=True)
    assert full.upserts == 0 and {u: row(lib, u) for u in USCC} == before


def test_grouping_only_for_multi_valued_fields(credit: Credit) -> None:
    sources = credit.sources()
    sources["org_name"] = {"authoritative": (credit.ds["pen"], "penalty_reason", "uscc")}
    with pytest.raises(ValidationFailed) as info:
        credit.install(sources)
    reasons = " ".join(e["reason"] for e in info.value.details["errors"])
    assert "只有多值字段" in reasons and "数据元" in reasons
