"""Application review (共享申请审核) as a pure transition table.

Stages are a per-node setting (DESIGN.md §3): consumer department internal approval (optional) → data office
符合性审查 (optional) → provider decision → 待提供 when the resource is not yet mounted → 协调 by the data
office when the consumer objects to a refusal. The table names symbolic targets (``NEXT_STAGE``,
``FIRST_STAGE``, ``APPROVED_OR_SUPPLY``) that ``resolve`` turns into a state for a given policy and facts;
both are pure and tested for every state × action × policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from govshare.exchange.choices import ApplicationAction as A
from govshare.exchange.choices import ApplicationStatus as S

# Who may act.
CONSUMER = "consumer"  # the applicant or a consumer of the applying department
CONSUMER_ADMIN = "consumer_admin"  # dept_admin of the applying department
DATA_OFFICE = "data_office"  # data office of the provider's node
PROVIDER = "provider_side"  # provider or dept_admin of the providing department

NEXT_STAGE = "next_stage"
FIRST_STAGE = "first_stage"
APPROVED_OR_SUPPLY = "approved_or_supply"


@dataclass(frozen=True)
class Transition:
    target: str  # a status value or one of the symbolic targets above
    by: str
    needs_reason: bool = False


TRANSITIONS: dict[tuple[S, A], Transition] = {
    (S.INTERNAL_REVIEW, A.APPROVE_INTERNAL): Transition(NEXT_STAGE, CONSUMER_ADMIN),
    (S.INTERNAL_REVIEW, A.REJECT_INTERNAL): Transition(S.RETURNED, CONSUMER_ADMIN, needs_reason=True),
    (S.COMPLIANCE_REVIEW, A.PASS_COMPLIANCE): Transition(NEXT_STAGE, DATA_OFFICE),
    (S.COMPLIANCE_REVIEW, A.FAIL_COMPLIANCE): Transition(S.RETURNED, DATA_OFFICE, needs_reason=True),
    (S.PROVIDER_REVIEW, A.APPROVE): Transition(APPROVED_OR_SUPPLY, PROVIDER),
    (S.PROVIDER_REVIEW, A.REFUSE): Transition(S.REFUSED, PROVIDER, needs_reason=True),
    (S.PENDING_SUPPLY, A.SUPPLY): Transition(S.APPROVED, PROVIDER),
    (S.REFUSED, A.OBJECT): Transition(S.COORDINATION, CONSUMER, needs_reason=True),
    (S.COORDINATION, A.REOPEN): Transition(S.PROVIDER_REVIEW, DATA_OFFICE, needs_reason=True),
    (S.COORDINATION, A.UPHOLD): Transition(S.CLOSED, DATA_OFFICE, needs_reason=True),
    (S.RETURNED, A.RESUBMIT): Transition(FIRST_STAGE, CONSUMER),
    (S.INTERNAL_REVIEW, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
    (S.COMPLIANCE_REVIEW, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
    (S.PROVIDER_REVIEW, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
    (S.PENDING_SUPPLY, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
    (S.RETURNED, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
    (S.REFUSED, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
    (S.COORDINATION, A.WITHDRAW): Transition(S.WITHDRAWN, CONSUMER),
}


@dataclass(frozen=True)
class Policy:
    """The node's review stages (a per-node setting)."""

    internal_review: bool = False
    compliance_review: bool = True


def stages(policy: Policy) -> list[S]:
    out: list[S] = []
    if policy.internal_review:
        out.append(S.INTERNAL_REVIEW)
    if policy.compliance_review:
        out.append(S.COMPLIANCE_REVIEW)
    out.append(S.PROVIDER_REVIEW)
    return out


def first_stage(policy: Policy) -> S:
    return stages(policy)[0]


def transition(state: str, action: str) -> Transition | None:
    try:
        return TRANSITIONS.get((S(state), A(action)))
    except ValueError:
        return None


def resolve(step: Transition, *, state: str, policy: Policy, mounted: bool) -> S:
    """The concrete next state of ``step`` taken from ``state``."""
    if step.target == NEXT_STAGE:
        order = stages(policy)
        current = S(state)
        if current not in order:  # the policy changed while the application was in this stage
            return S.PROVIDER_REVIEW
        return order[order.index(current) + 1]
    if step.target == FIRST_STAGE:
        return first_stage(policy)
    if step.target == APPROVED_OR_SUPPLY:
        return S.APPROVED if mounted else S.PENDING_SUPPLY
    return S(step.target)


def allowed_actions(state: str) -> list[A]:
    return [a for (s, a) in TRANSITIONS if s == state]
