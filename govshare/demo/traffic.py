"""A little data-plane traffic for the demo city: the three systems with printed credentials make verify and
query calls on 人口基本信息 through the real WSGI entry (signed, audited, counted), so the statistics site and the
audit viewer have something to show on a fresh demo."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from govshare.client import GovshareClient, GovshareError, wsgi_transport
from govshare.datasets.models import DatasetRecord
from govshare.demo.exchange import verify_example

Say = Callable[[str], None]
CALLS_PER_SYSTEM = 8


def make_calls(*, credentials: Sequence[tuple[str, str, str]], say: Say) -> dict[str, int]:
    """``credentials``: (system name, AppKey, AppSecret). Answers counts of served and refused calls."""
    from govshare.wsgi import application

    example = verify_example()
    if example is None:
        return {"served": 0, "refused": 0}
    keys = list(DatasetRecord.objects.filter(dataset__resource__code=example.resource)
                .order_by("key").values_list("key", "data")[:CALLS_PER_SYSTEM])
    served = refused = 0
    for n, (system, app_key, secret) in enumerate(credentials):
        gs = GovshareClient("http://demo.invalid", app_key, secret, operator=f"{system}演示操作员",
                            case_number=f"BJ2026-DEMO-{n:02d}", item_code="11445100MB2C0871XY",
                            purpose="演示：受理政务服务事项时核验身份", transport=wsgi_transport(application))
        for i, (key, data) in enumerate(keys):
            try:
                if i % 2:
                    gs.query(example.resource, keys=[key])
                else:
                    gs.verify(example.resource, key, {"person_name": str(data.get("person_name", ""))})
                served += 1
            except GovshareError:  # e.g. a verify_only grant asked to query: refused, and audited as such
                refused += 1
    say(f"数据共享调用演示：{served} 次成功，{refused} 次被拒绝（已记入审计与统计）")
    return {"served": served, "refused": refused}
