"""Disputes (疑义数据反馈和校核) as a pure transition table.

The core process is the one DESIGN.md §3 and the issue describe: a consumer flags a record (or one item of
it); the provider *accepts* within ``DISPUTE_ACCEPT_DAYS`` working days and *resolves* within
``DISPUTE_RESOLVE_DAYS`` working days of accepting, either by *confirming* the data (with an explanation)
or by *correcting* it (the correction goes through the change log to every subscriber). The raiser may
*withdraw* an open dispute. An overdue dispute is *escalated* to the data office: a flag and a notification,
not a state — the provider still has to act, so escalation never changes who must act.

Two additions a real process needs, and no more:

- ``reject`` (不予受理): the provider refuses, with a reason, a dispute that is not about its data or not a
  data problem at all (e.g. a complaint about a grant, a record of another department). Without it such a
  dispute could only be "confirmed", which would misreport it as checked data.
- ``reopen`` (对核实结果有异议): the raiser disagrees with a confirmation and sends it back for checking,
  once, within ``DISPUTE_REOPEN_DAYS`` working days of the confirmation (the service enforces the window
  and the single reopen; the table only says who may). Without it a wrong confirmation would be final; with
  no limit the two departments could bounce a dispute forever — a second disagreement is a matter for the
  data office's coordination, outside this workflow.

A correction cannot be reopened: the corrected record is live data, and a new dispute can be raised on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from govshare.quality.choices import DisputeAction as A
from govshare.quality.choices import DisputeStatus as S

# Who may act.
PROVIDER = "provider_side"  # provider staff or dept_admin of the dataset's providing department
RAISER = "raiser"  # the raising department's consumer / dept_admin; for platform disputes the platform or data office
PLATFORM = "platform"  # the platform itself (the deadline sweep)
WHO = (PROVIDER, RAISER, PLATFORM)


@dataclass(frozen=True)
class Transition:
    target: S
    by: str
    needs_text: bool = False
    needs_corrections: bool = False
    flag_only: bool = False  # the state does not change (escalation)


TRANSITIONS: dict[tuple[S, A], Transition] = {
    (S.SUBMITTED, A.ACCEPT): Transition(S.ACCEPTED, PROVIDER),
    (S.SUBMITTED, A.REJECT): Transition(S.REJECTED, PROVIDER, needs_text=True),
    (S.ACCEPTED, A.CONFIRM): Transition(S.RESOLVED_CONFIRMED, PROVIDER, needs_text=True),
    (S.ACCEPTED, A.CORRECT): Transition(S.RESOLVED_CORRECTED, PROVIDER, needs_corrections=True),
    (S.SUBMITTED, A.WITHDRAW): Transition(S.WITHDRAWN, RAISER),
    (S.ACCEPTED, A.WITHDRAW): Transition(S.WITHDRAWN, RAISER),
    (S.RESOLVED_CONFIRMED, A.REOPEN): Transition(S.ACCEPTED, RAISER, needs_text=True),
    (S.SUBMITTED, A.ESCALATE): Transition(S.SUBMITTED, PLATFORM, flag_only=True),
    (S.ACCEPTED, A.ESCALATE): Transition(S.ACCEPTED, PLATFORM, flag_only=True),
}

# Whose move it is in each open state (escalation goes to the data office but leaves this unchanged).
MUST_ACT: dict[S, str] = {S.SUBMITTED: PROVIDER, S.ACCEPTED: PROVIDER}
TERMINAL = frozenset({S.RESOLVED_CORRECTED, S.REJECTED, S.WITHDRAWN})


def transition(state: str, action: str) -> Transition | None:
    try:
        return TRANSITIONS.get((S(state), A(action)))
    except ValueError:
        return None


def allowed_actions(state: str, *, who: frozenset[str] | set[str] | None = None) -> list[A]:
    """Actions possible from ``state`` (for the parties in ``who``, when given), in table order."""
    return [a for (s, a), t in TRANSITIONS.items() if s == state and (who is None or t.by in who)]


def is_open(state: str) -> bool:
    return state in MUST_ACT
