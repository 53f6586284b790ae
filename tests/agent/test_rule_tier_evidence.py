"""A rule's evidence says whether the tier it asks for is the ticket's, and if not, why."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.models import Account, TeamScore, Ticket
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
  - {name: sre, tier: 2, members: [{name: Erin}]}
rules:
  - id: outage
    weight: 3
    match: {keywords: [outage]}
    actions: {escalate_to: sre}
  - id: ora
    match: {keywords: [ORA-00600]}
    actions: {escalate_to: db, tier: 4}
  - id: urgent-tier
    match: {keywords: [urgent]}
    actions: {tier: 3}
  - id: critical-tier
    weight: 2
    match: {keywords: [critical]}
    actions: {tier: 4}
  - id: password
    match: {keywords: [password reset]}
    actions: {stay_first_line: true}
decision_tree:
  - name: vip
    when: {account_tier: [vip], escalate: true}
    tier: 5
"""


def _rule_details(text: str, guess: str, vip: bool = False) -> tuple[int, dict[str, str]]:
    policy = loads_policy(POLICY)
    ticket = Ticket(body=text, account=Account(tier="vip" if vip else "standard"))
    hits = RuleEngine(policy).evaluate(ticket, text)
    prediction = RoutePrediction(
        teams=[TeamScore(team=guess, score=0.9)], confidence=0.9, model_version="m"
    )
    route = choose_route(policy, ticket, hits, prediction, now=WEDNESDAY_10_UTC)
    return route.tier, {e.source: e.detail for e in route.evidence if e.kind == "rule"}


def test_a_rule_tier_left_because_the_ticket_stays_first_line_is_said_not_applied() -> None:
    tier, rules = _rule_details("Urgent: password reset please", "db")
    assert tier == 1
    assert rules["urgent-tier"].endswith("; tier 3 not applied: the ticket stays first line")


def test_the_rule_tier_the_ticket_gets_is_said_plainly() -> None:
    tier, rules = _rule_details("Urgent: the nightly export fails", "db")
    assert tier == 3
    assert rules["urgent-tier"].endswith("; tier 3")


def test_a_rule_tier_beaten_by_a_heavier_rule_or_a_branch_is_said_not_applied() -> None:
    tier, rules = _rule_details("Urgent and critical: the export fails", "db")
    assert tier == 4
    assert rules["critical-tier"].endswith("; tier 4")
    assert rules["urgent-tier"].endswith("; tier 3 not applied: rule critical-tier sets tier 4")
    tier, rules = _rule_details("Urgent: the export fails", "db", vip=True)
    assert tier == 5
    assert rules["urgent-tier"].endswith("; tier 3 not applied: branch vip sets tier 5")


def test_the_tier_of_a_rule_whose_team_was_outweighed_is_said_not_applied() -> None:
    tier, rules = _rule_details("outage: ORA-00600 everywhere", "db")
    assert tier == 2  # sre's own
    assert rules["ora"].endswith("; tier 4 not applied: the ticket goes to sre")
