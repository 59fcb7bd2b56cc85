"""Licence states as a pure transition table (house rule: tested for every state × action).

A valid licence is revoked (注销, by its issuing department, with a reason) or expires (到期, by the periodic
job once ``valid_to`` has passed). An expired licence may still be revoked (e.g. found to have been obtained
by fraud); a revoked licence is final.
"""

from __future__ import annotations

from govshare.licences.choices import LicenceAction as A
from govshare.licences.choices import LicenceStatus as S

TRANSITIONS: dict[tuple[str, str], str] = {
    (S.VALID, A.REVOKE): S.REVOKED,
    (S.VALID, A.EXPIRE): S.EXPIRED,
    (S.EXPIRED, A.REVOKE): S.REVOKED,
}


def transition(status: str, action: str) -> str | None:
    """The state after ``action`` in ``status``, or None when the action is not allowed there."""
    return TRANSITIONS.get((status, action))


def allowed_actions(status: str) -> list[str]:
    return [a for (s, a) in TRANSITIONS if s == status]
