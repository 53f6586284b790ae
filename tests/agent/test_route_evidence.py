"""The evidence of a route explains its tier and its assignee, whatever decided them."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.models import TeamScore, Ticket
from agent.policy import Policy, loads_policy
from agent.route import RouteChoice, choose_route
from agent.rules import RuleEngine
from knowledge.base import RoutePrediction

WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

POLICY = loads_policy(
    """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: sre, tier: 2, members: [{name: Erin}]}
rules:
  - id: outage
    match: {keywords: [outage]}
    actions: {escalate_to: sre, tier: 4}
  - id: password
    match: {keywords: [password reset]}
    actions: {stay_first_line: true}
decision_tree:
  - name: p1-to-the-queue
    when: {priority: [P1]}
    assign: false
""",
    "evidence.yaml",
)


def _route(policy: Policy, body: str, priority: str | None = None) -> RouteChoice:
    ticket = Ticket(body=body)
    hits = RuleEngine(policy).evaluate(ticket, ticket.text)
    prediction = RoutePrediction(
        teams=[TeamScore(team="desk", score=0.9)], confidence=0.9, model_version="m"
    )
    return choose_route(policy, ticket, hits, prediction, now=WEDNESDAY_10_UTC, priority=priority)


def test_the_rule_that_set_the_tier_says_it_asked_for_it() -> None:
    route = _route(POLICY, "outage of the portal")
    assert (route.team, route.tier) == ("sre", 4)  # sre's own tier is 2
    rule = [e for e in route.evidence if e.kind == "rule" and e.source == "outage"]
    assert any("tier 4" in e.detail for e in rule), [e.detail for e in rule]


def test_a_branch_that_assigns_nobody_says_so() -> None:
    route = _route(POLICY, "outage of the portal", priority="P1")
    assert route.assignee is None
    tree = [e.detail for e in route.evidence if e.kind == "tree"]
    assert tree and "no individual" in tree[0], tree


def test_a_rule_keeping_the_ticket_first_line_that_lost_is_said_to_be_outweighed() -> None:
    route = _route(POLICY, "password reset impossible during the outage")
    assert (route.team, route.escalate) == ("sre", True)
    details = [e.detail for e in route.evidence if e.source == "outage"]
    assert any("outweighs rule password (stay first line)" in d for d in details), details
