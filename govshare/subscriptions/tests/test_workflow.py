"""The subscription state machine, every state × action."""

from __future__ import annotations

import pytest

from govshare.subscriptions import workflow
from govshare.subscriptions.choices import SubscriptionAction as A
from govshare.subscriptions.choices import SubscriptionStatus as S

EXPECTED: dict[tuple[str, str], str | None] = {
    (S.ACTIVE, A.PAUSE): S.PAUSED, (S.ACTIVE, A.RESUME): None, (S.ACTIVE, A.CANCEL): S.CANCELLED,
    (S.ACTIVE, A.AUTO_PAUSE): S.PAUSED, (S.ACTIVE, A.ROTATE_SECRET): S.ACTIVE, (S.ACTIVE, A.UPDATE): S.ACTIVE,
    (S.PAUSED, A.PAUSE): None, (S.PAUSED, A.RESUME): S.ACTIVE, (S.PAUSED, A.CANCEL): S.CANCELLED,
    (S.PAUSED, A.AUTO_PAUSE): None, (S.PAUSED, A.ROTATE_SECRET): S.PAUSED, (S.PAUSED, A.UPDATE): S.PAUSED,
    **{(S.CANCELLED, a): None for a in A},
}


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in S for a in A])
def test_every_state_and_action(state: str, action: str) -> None:
    assert workflow.next_state(state, action) == EXPECTED[(state, action)]


def test_allowed_actions_are_what_people_can_do() -> None:
    assert workflow.allowed_actions(S.ACTIVE) == [A.PAUSE, A.CANCEL, A.ROTATE_SECRET, A.UPDATE]
    assert workflow.allowed_actions(S.PAUSED) == [A.RESUME, A.CANCEL, A.ROTATE_SECRET, A.UPDATE]
    assert workflow.allowed_actions(S.CANCELLED) == []
