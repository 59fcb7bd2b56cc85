"""Catalog lifecycle (目录审核) as a pure transition table.

The provider drafts and submits (草稿 → 待审核); the data office publishes (已发布) or rejects with a
reason (back to 草稿). A published resource is revised through a new draft while its published version
stays live. 撤销 (withdrawal) is reviewed by the data office too.
"""

from __future__ import annotations

from dataclasses import dataclass

from govshare.catalog.choices import LifecycleAction as A
from govshare.catalog.choices import ResourceStatus as S

PROVIDER = "provider_side"  # provider or dept_admin of the providing department
DATA_OFFICE = "data_office"  # data office of the resource's node


@dataclass(frozen=True)
class Transition:
    target: S
    by: str
    needs_reason: bool = False


TRANSITIONS: dict[tuple[S, A], Transition] = {
    (S.DRAFT, A.SUBMIT): Transition(S.PENDING, PROVIDER),
    (S.PENDING, A.PUBLISH): Transition(S.PUBLISHED, DATA_OFFICE),
    (S.PENDING, A.REJECT): Transition(S.DRAFT, DATA_OFFICE, needs_reason=True),
    (S.PUBLISHED, A.REVISE): Transition(S.DRAFT, PROVIDER),
    (S.PUBLISHED, A.REQUEST_WITHDRAWAL): Transition(S.WITHDRAWAL_PENDING, PROVIDER, needs_reason=True),
    (S.WITHDRAWAL_PENDING, A.APPROVE_WITHDRAWAL): Transition(S.WITHDRAWN, DATA_OFFICE),
    (S.WITHDRAWAL_PENDING, A.REJECT_WITHDRAWAL): Transition(S.PUBLISHED, DATA_OFFICE, needs_reason=True),
    (S.WITHDRAWN, A.REVISE): Transition(S.DRAFT, PROVIDER),
}


def transition(state: str, action: str) -> Transition | None:
    """The transition for (state, action), or None when the action is not allowed in that state."""
    try:
        return TRANSITIONS.get((S(state), A(action)))
    except ValueError:
        return None


def allowed_actions(state: str) -> list[A]:
    return [a for (s, a) in TRANSITIONS if s == state]
