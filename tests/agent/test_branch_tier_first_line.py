"""A branch's tier is a specialist tier: a ticket that stays first line keeps the first line's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.decision import apply_review
from agent.errors import PolicyError
from agent.models import Account, TeamScore, Ticket, TriageDecision
from agent.policy import loads_policy
from agent.route import InMemoryLoads, RouteChoice, choose_route
from agent.rules import Complexity
from agent.state import HumanReview
from knowledge.base import RoutePrediction

WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

POLICY = """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
decision_tree:
  - name: vip
    when: {account_tier: [vip]}
    tier: 3
"""

VIP_TICKET = Ticket(subject="Export", body="How do I export a report?", account=Account(tier="vip"))


def _route(guess: str) -> RouteChoice:
    prediction = RoutePrediction(
        teams=[TeamScore(team=guess, score=0.9)], confidence=0.9, model_version="m"
    )
    return choose_route(
        loads_policy(POLICY), VIP_TICKET, [], prediction, InMemoryLoads(), now=WEDNESDAY_10_UTC
    )


def test_a_branch_tier_leaves_a_first_line_ticket_at_the_first_line_tier() -> None:
    route = _route("desk")
    assert (route.team, route.tier, route.escalate) == ("desk", 1, False)
    (tree,) = [e for e in route.evidence if e.kind == "tree"]
    # the evidence says what was applied, not a tier the ticket does not get
    assert "tier 3" not in tree.detail.replace("tier 3 not applied", "")
    assert "stays first line" in tree.detail


def test_a_branch_tier_sets_the_tier_of_an_escalated_ticket() -> None:
    route = _route("db")
    assert (route.team, route.tier, route.escalate) == ("db", 3, True)
    (tree,) = [e for e in route.evidence if e.kind == "tree"]
    assert "tier 3" in tree.detail and "not applied" not in tree.detail


def test_a_reviewer_sending_a_ticket_first_line_gets_the_first_line_tier() -> None:
    held = TriageDecision(
        ticket_id=VIP_TICKET.id,
        escalate=True,
        team="db",
        tier=3,
        assignee="Alice",
        priority="P3",
        confidence=0.3,
        needs_review=True,
        decided_by="learned",
        policy_version="v",
    )
    reviewed = apply_review(
        held,
        HumanReview(team="desk", reviewer="kim"),
        loads_policy(POLICY),
        WEDNESDAY_10_UTC,
        InMemoryLoads(),
        WEDNESDAY_10_UTC,
        ticket=VIP_TICKET,
        hits=[],
        complexity=Complexity(score=0.0),
    )
    assert (reviewed.team, reviewed.tier, reviewed.escalate) == ("desk", 1, False)


@pytest.mark.parametrize(
    "branch",
    [
        "{name: vip, when: {account_tier: [vip]}, team: desk, tier: 3}",
        "{name: vip, when: {account_tier: [vip], escalate: false}, tier: 3}",
        "{name: vip, when: {account_tier: [vip], team: [desk]}, tier: 3}",
    ],
)
def test_a_tier_on_a_branch_that_keeps_tickets_first_line_is_refused(branch: str) -> None:
    policy = POLICY.split("decision_tree:")[0] + f"decision_tree:\n  - {branch}\n"
    with pytest.raises(PolicyError) as info:
        loads_policy(policy, "p.yaml")
    message = str(info.value)
    assert "decision_tree[0].tier" in message
    assert "stays first line" in message


def test_a_tier_on_a_branch_that_can_escalate_is_accepted() -> None:
    for branch in (
        "{name: vip, when: {account_tier: [vip]}, team: db, tier: 3}",
        "{name: vip, when: {account_tier: [vip], team: [desk, db]}, tier: 3}",
    ):
        policy = POLICY.split("decision_tree:")[0] + f"decision_tree:\n  - {branch}\n"
        assert loads_policy(policy).decision_tree[0].tier == 3
