"""The dispute transition table, checked for every state × action."""

from __future__ import annotations

import pytest

from govshare.quality import workflow
from govshare.quality.choices import DisputeAction as A
from govshare.quality.choices import DisputeStatus as S

P, R, X = workflow.PROVIDER, workflow.RAISER, workflow.PLATFORM

# (state, action) -> (next state, who may act, needs text); every pair not listed is refused.
EXPECTED: dict[tuple[S, A], tuple[S, str, bool]] = {
    (S.SUBMITTED, A.ACCEPT): (S.ACCEPTED, P, False),
    (S.SUBMITTED, A.REJECT): (S.REJECTED, P, True),
    (S.SUBMITTED, A.WITHDRAW): (S.WITHDRAWN, R, False),
    (S.SUBMITTED, A.ESCALATE): (S.SUBMITTED, X, False),
    (S.ACCEPTED, A.CONFIRM): (S.RESOLVED_CONFIRMED, P, True),
    (S.ACCEPTED, A.CORRECT): (S.RESOLVED_CORRECTED, P, False),
    (S.ACCEPTED, A.WITHDRAW): (S.WITHDRAWN, R, False),
    (S.ACCEPTED, A.ESCALATE): (S.ACCEPTED, X, False),
    (S.RESOLVED_CONFIRMED, A.REOPEN): (S.ACCEPTED, R, True),
}


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_state_and_action(state: S, action: A) -> None:
    t = workflow.transition(state, action)
    expected = EXPECTED.get((state, action))
    if expected is None:
        assert t is None
        assert action not in workflow.allowed_actions(state)
        return
    assert t is not None
    assert (t.target, t.by, t.needs_text) == expected
    assert t.needs_corrections == (action == A.CORRECT)
    assert t.flag_only == (action == A.ESCALATE) == (t.target == state and action != A.REOPEN)
    assert action in workflow.allowed_actions(state)
    assert action in workflow.allowed_actions(state, who={t.by})
    assert action not in workflow.allowed_actions(state, who=set(workflow.WHO) - {t.by})


def test_unknown_states_and_actions_are_refused() -> None:
    assert workflow.transition("nonsense", "accept") is None
    assert workflow.transition("submitted", "nonsense") is None
    assert workflow.allowed_actions("nonsense") == []


def test_escalation_never_changes_who_must_act() -> None:
    for (state, action), t in workflow.TRANSITIONS.items():
        if action == A.ESCALATE:
            assert workflow.MUST_ACT[t.target] == workflow.MUST_ACT[state] == P


def test_terminal_states_allow_nothing_and_open_states_are_those_with_someone_to_act() -> None:
    for state in workflow.TERMINAL:
        assert workflow.allowed_actions(state) == []
        assert not workflow.is_open(state)
    assert {s for s in S if workflow.is_open(s)} == {S.SUBMITTED, S.ACCEPTED}
    # every state can be reached from submitted
    reached, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        s = frontier.pop()
        for a in workflow.allowed_actions(s):
            t = workflow.transition(s, a)
            assert t is not None
            if t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == set(S)
