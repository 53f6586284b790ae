"""A reviewer's new team gets the tier a fired rule asks for there, as on the route step."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.decision import apply_review
from agent.models import TeamScore, Ticket, TriageDecision
from agent.policy import loads_policy
from agent.route import InMemoryLoads, choose_route
from agent.rules import Complexity, RuleEngine
from agent.state import HumanReview
from knowledge.base import RoutePrediction

WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

POLICY = loads_policy(
    """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
rules:
  - id: urgent-tier
    match: {keywords: [urgent]}
    actions: {tier: 3}
"""
)

TICKET = Ticket(body="Urgent: the nightly export fails")


def _held(guess: str) -> TriageDecision:
    hits = RuleEngine(POLICY).evaluate(TICKET, TICKET.text)
    prediction = RoutePrediction(
        teams=[TeamScore(team=guess, score=0.3)], confidence=0.3, model_version="m"
    )
    route = choose_route(POLICY, TICKET, hits, prediction, InMemoryLoads(), now=WEDNESDAY_10_UTC)
    return TriageDecision(
        ticket_id=TICKET.id,
        escalate=route.escalate,
        team=route.team,
        tier=route.tier,
        assignee=route.assignee,
        priority="P3",
        confidence=route.confidence,
        needs_review=True,
        decided_by=route.decided_by,
        evidence=route.evidence,
        policy_version="v",
    )


def _review(held: TriageDecision, team: str) -> TriageDecision:
    return apply_review(
        held,
        HumanReview(team=team, reviewer="kim"),
        POLICY,
        WEDNESDAY_10_UTC,
        InMemoryLoads(),
        WEDNESDAY_10_UTC,
        ticket=TICKET,
        hits=RuleEngine(POLICY).evaluate(TICKET, TICKET.text),
        complexity=Complexity(score=0.0),
    )


def test_a_ticket_a_reviewer_escalates_gets_the_tier_a_rule_asks_for() -> None:
    held = _held("desk")
    assert (held.team, held.tier) == ("desk", 1)
    reviewed = _review(held, "db")
    # as choose_route gives a ticket routed to db with that rule: tier 3, not db's own 2
    assert (reviewed.team, reviewed.tier) == ("db", 3)
    assert any(
        e.source == "urgent-tier" and "tier 3" in e.detail and "not applied" not in e.detail
        for e in reviewed.evidence
        if e.team == "db"
    ), [e.detail for e in reviewed.evidence]


def test_a_ticket_a_reviewer_keeps_first_line_has_the_first_line_tier() -> None:
    held = _held("db")
    assert (held.team, held.tier) == ("db", 3)
    assert (_review(held, "desk").team, _review(held, "desk").tier) == ("desk", 1)
