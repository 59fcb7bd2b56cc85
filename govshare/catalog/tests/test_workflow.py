"""Every state × action of the catalog lifecycle table, through the pure table and through the API."""

from __future__ import annotations

import itertools

import pytest

from govshare.catalog import workflow
from govshare.catalog.choices import LifecycleAction as A
from govshare.catalog.choices import ResourceStatus as S

EXPECTED = {
    (S.DRAFT, A.SUBMIT): (S.PENDING, workflow.PROVIDER),
    (S.PENDING, A.PUBLISH): (S.PUBLISHED, workflow.DATA_OFFICE),
    (S.PENDING, A.REJECT): (S.DRAFT, workflow.DATA_OFFICE),
    (S.PUBLISHED, A.REVISE): (S.DRAFT, workflow.PROVIDER),
    (S.PUBLISHED, A.REQUEST_WITHDRAWAL): (S.WITHDRAWAL_PENDING, workflow.PROVIDER),
    (S.WITHDRAWAL_PENDING, A.APPROVE_WITHDRAWAL): (S.WITHDRAWN, workflow.DATA_OFFICE),
    (S.WITHDRAWAL_PENDING, A.REJECT_WITHDRAWAL): (S.PUBLISHED, workflow.DATA_OFFICE),
    (S.WITHDRAWN, A.REVISE): (S.DRAFT, workflow.PROVIDER),
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(S, A)))
def test_every_state_and_action(state: S, action: A) -> None:
    step = workflow.transition(state, action)
    if (state, action) in EXPECTED:
        assert step is not None
        assert (step.target, step.by) == EXPECTED[(state, action)]
        assert action in workflow.allowed_actions(state)
    else:
        assert step is None
        assert action not in workflow.allowed_actions(state)


def test_reasons_are_required_for_refusals() -> None:
    needs = {k for k, t in workflow.TRANSITIONS.items() if t.needs_reason}
    assert needs == {(S.PENDING, A.REJECT), (S.PUBLISHED, A.REQUEST_WITHDRAWAL),
                     (S.WITHDRAWAL_PENDING, A.REJECT_WITHDRAWAL)}


def test_unknown_state_or_action_is_not_a_transition() -> None:
    assert workflow.transition("nonsense", "submit") is None
    assert workflow.transition("draft", "explode") is None
