"""Every state × action × policy of the application review table (pure, no database)."""

from __future__ import annotations

import itertools

import pytest

from govshare.exchange import workflow
from govshare.exchange.choices import ApplicationAction as A
from govshare.exchange.choices import ApplicationStatus as S

POLICIES = [workflow.Policy(internal_review=i, compliance_review=c) for i in (False, True) for c in (False, True)]

EXPECTED: dict[tuple[S, A], tuple[str, str]] = {
    (S.INTERNAL_REVIEW, A.APPROVE_INTERNAL): (workflow.NEXT_STAGE, workflow.CONSUMER_ADMIN),
    (S.INTERNAL_REVIEW, A.REJECT_INTERNAL): (S.RETURNED, workflow.CONSUMER_ADMIN),
    (S.COMPLIANCE_REVIEW, A.PASS_COMPLIANCE): (workflow.NEXT_STAGE, workflow.DATA_OFFICE),
    (S.COMPLIANCE_REVIEW, A.FAIL_COMPLIANCE): (S.RETURNED, workflow.DATA_OFFICE),
    (S.PROVIDER_REVIEW, A.APPROVE): (workflow.APPROVED_OR_SUPPLY, workflow.PROVIDER),
    (S.PROVIDER_REVIEW, A.REFUSE): (S.REFUSED, workflow.PROVIDER),
    (S.PENDING_SUPPLY, A.SUPPLY): (S.APPROVED, workflow.PROVIDER),
    (S.REFUSED, A.OBJECT): (S.COORDINATION, workflow.CONSUMER),
    (S.COORDINATION, A.REOPEN): (S.PROVIDER_REVIEW, workflow.DATA_OFFICE),
    (S.COORDINATION, A.UPHOLD): (S.CLOSED, workflow.DATA_OFFICE),
    (S.RETURNED, A.RESUBMIT): (workflow.FIRST_STAGE, workflow.CONSUMER),
    **{(s, A.WITHDRAW): (S.WITHDRAWN, workflow.CONSUMER) for s in (
        S.INTERNAL_REVIEW, S.COMPLIANCE_REVIEW, S.PROVIDER_REVIEW, S.PENDING_SUPPLY, S.RETURNED, S.REFUSED,
        S.COORDINATION)},
}


@pytest.mark.parametrize(("state", "action", "policy"), list(itertools.product(S, A, POLICIES)))
def test_every_state_action_and_policy(state: S, action: A, policy: workflow.Policy) -> None:
    step = workflow.transition(state, action)
    if (state, action) not in EXPECTED:
        assert step is None
        assert action not in workflow.allowed_actions(state)
        return
    assert step is not None and (step.target, step.by) == EXPECTED[(state, action)]
    order = workflow.stages(policy)
    for mounted in (True, False):
        target = workflow.resolve(step, state=state, policy=policy, mounted=mounted)
        if step.target == workflow.NEXT_STAGE:
            if state in order:
                assert target == order[order.index(state) + 1]
            else:  # stage switched off after the application entered it
                assert target == S.PROVIDER_REVIEW
        elif step.target == workflow.FIRST_STAGE:
            assert target == order[0]
        elif step.target == workflow.APPROVED_OR_SUPPLY:
            assert target == (S.APPROVED if mounted else S.PENDING_SUPPLY)
        else:
            assert target == step.target


def test_stage_order_follows_the_policy() -> None:
    assert workflow.stages(workflow.Policy(True, True)) == [S.INTERNAL_REVIEW, S.COMPLIANCE_REVIEW,
                                                           S.PROVIDER_REVIEW]
    assert workflow.stages(workflow.Policy(False, False)) == [S.PROVIDER_REVIEW]


def test_refusals_and_returns_need_reasons() -> None:
    needs = {k for k, t in workflow.TRANSITIONS.items() if t.needs_reason}
    assert needs == {(S.INTERNAL_REVIEW, A.REJECT_INTERNAL), (S.COMPLIANCE_REVIEW, A.FAIL_COMPLIANCE),
                     (S.PROVIDER_REVIEW, A.REFUSE), (S.REFUSED, A.OBJECT), (S.COORDINATION, A.REOPEN),
                     (S.COORDINATION, A.UPHOLD)}


def test_terminal_states_have_no_actions() -> None:
    for s in (S.APPROVED, S.WITHDRAWN, S.CLOSED):
        assert workflow.allowed_actions(s) == []
