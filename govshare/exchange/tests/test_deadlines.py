"""Stage deadlines count Chinese working days: 国庆, 春节, 调休 and the day of receipt."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from govshare.exchange.models import Application, ReviewPolicy
from govshare.exchange.services.deadlines import enter_stage
from govshare.organizations.holidays import seed_holidays

pytestmark = pytest.mark.django_db
CN = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def policy() -> ReviewPolicy:
    seed_holidays(actor=None, years=[2025, 2026])
    return ReviewPolicy(provider_days=10, compliance_days=2)


@pytest.mark.parametrize(("received", "status", "due"), [
    # 国庆 2025: Oct 1–8 off, Sat Oct 11 is a 调休 working day; the day of receipt is not counted.
    (dt.datetime(2025, 9, 30, 16, 0, tzinfo=CN), "provider_review", dt.date(2025, 10, 21)),
    (dt.datetime(2025, 9, 30, 9, 0, tzinfo=CN), "compliance_review", dt.date(2025, 10, 10)),
    # A Sunday submission counts from Monday.
    (dt.datetime(2025, 11, 2, 11, 0, tzinfo=CN), "compliance_review", dt.date(2025, 11, 4)),
    # 春节 2026: Feb 15–23 off, Sat Feb 14 and Sat Feb 28 are 调休 working days.
    (dt.datetime(2026, 2, 12, 10, 0, tzinfo=CN), "provider_review", dt.date(2026, 3, 4)),
    # Late evening UTC is already the next day in China.
    (dt.datetime(2025, 9, 29, 17, 0, tzinfo=dt.UTC), "compliance_review", dt.date(2025, 10, 10)),
])
def test_stage_deadline(policy: ReviewPolicy, received: dt.datetime, status: str, due: dt.date) -> None:
    app = Application()
    enter_stage(app, status, policy, received)
    assert app.stage_due_at is not None
    local = app.stage_due_at.astimezone(CN)
    assert local.date() == due
    assert (local.hour, local.minute) == (23, 59)  # the end of the Nth working day
    assert app.stage_due_provisional is False


def test_a_year_without_holiday_data_is_provisional(policy: ReviewPolicy) -> None:
    app = Application()
    enter_stage(app, "provider_review", policy, dt.datetime(2026, 12, 24, 10, 0, tzinfo=CN))
    assert app.stage_due_provisional is True


def test_terminal_states_have_no_deadline(policy: ReviewPolicy) -> None:
    app = Application()
    enter_stage(app, "approved", policy, dt.datetime(2025, 9, 30, 10, 0, tzinfo=CN))
    assert app.stage_due_at is None
