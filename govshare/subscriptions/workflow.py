"""The subscription state machine: a pure transition table (state × action → new state), no database.

``active`` delivers; ``paused`` keeps its cursor and delivers nothing (by the consumer, or by the worker after
``SUBSCRIPTION_MAX_FAILURES`` consecutive failures, or when the grant ended); ``resume`` starts again from the
cursor, so nothing is lost; ``cancelled`` is final. Rotating the webhook secret and changing settings keep the
state.
"""

from __future__ import annotations

from govshare.subscriptions.choices import SubscriptionAction as A
from govshare.subscriptions.choices import SubscriptionStatus as S

TRANSITIONS: dict[tuple[str, str], str] = {
    (S.ACTIVE, A.PAUSE): S.PAUSED,
    (S.ACTIVE, A.AUTO_PAUSE): S.PAUSED,
    (S.ACTIVE, A.CANCEL): S.CANCELLED,
    (S.ACTIVE, A.ROTATE_SECRET): S.ACTIVE,
    (S.ACTIVE, A.UPDATE): S.ACTIVE,
    (S.PAUSED, A.RESUME): S.ACTIVE,
    (S.PAUSED, A.CANCEL): S.CANCELLED,
    (S.PAUSED, A.ROTATE_SECRET): S.PAUSED,
    (S.PAUSED, A.UPDATE): S.PAUSED,
}


def next_state(state: str, action: str) -> str | None:
    """The state after ``action``, or ``None`` when the action is not allowed in ``state``."""
    return TRANSITIONS.get((state, action))


def allowed_actions(state: str) -> list[str]:
    return [a for (s, a) in TRANSITIONS if s == state and a != A.AUTO_PAUSE]
