"""A rule's tier is a specialist tier: a ticket that stays first line keeps the first line's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.errors import PolicyError
from agent.models import TeamScore, Ticket
from agent.policy import loads_policy
from agent.route import choose_route
from agent.rules import RuleEngine
from knowledge.base import RoutePrediction

WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

POLICY = """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
rules:
  - id: urgent-tier
    match: {keywords: [urgent]}
    actions: {tier: 3}
  - id: password
    match: {keywords: [password reset]}
    actions: {stay_first_line: true}
"""


def _route(text: str, guess: str) -> tuple[str, int, bool]:
    policy = loads_policy(POLICY)
    ticket = Ticket(body=text)
    hits = RuleEngine(policy).evaluate(ticket, text)
    prediction = RoutePrediction(
        teams=[TeamScore(team=guess, score=0.9)], confidence=0.9, model_version="m"
    )
    route = choose_route(policy, ticket, hits, prediction, now=WEDNESDAY_10_UTC)
    return route.team, route.tier, route.escalate


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("Urgent: password reset please", "db"),  # a rule keeps it first line
        ("Urgent: how do I export a report?", "desk"),  # the guess keeps it first line
    ],
)
def test_a_tier_rule_without_a_team_leaves_a_first_line_ticket_at_the_first_line_tier(
    text: str, guess: str
) -> None:
    assert _route(text, guess) == ("desk", 1, False)


def test_a_tier_rule_without_a_team_sets_the_tier_of_an_escalated_ticket() -> None:
    assert _route("Urgent: the nightly export fails", "db") == ("db", 3, True)


@pytest.mark.parametrize(
    "actions",
    ["{stay_first_line: true, tier: 2}", "{escalate_to: desk, tier: 2}"],
)
def test_a_tier_on_a_rule_that_keeps_tickets_first_line_is_refused(actions: str) -> None:
    policy = POLICY.replace("{stay_first_line: true}", actions)
    with pytest.raises(PolicyError) as info:
        loads_policy(policy, "p.yaml")
    message = str(info.value)
    assert "rules[1].actions.tier" in message
    assert "stays first line" in message
