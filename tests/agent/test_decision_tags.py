"""The decision's tags: each tag once, whichever part of the policy added it and in what case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from agent.decision import assemble_decision
from agent.models import TeamScore, Ticket
from agent.policy import loads_policy
from agent.priority import choose_priority
from agent.route import choose_route
from agent.rules import RuleEngine
from agent.state import TriageState
from knowledge.base import RoutePrediction

WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

POLICY = loads_policy(
    """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
rules:
  - id: ora-errors
    match: {error_codes: ['\\bORA-\\d{5}\\b']}
    actions: {escalate_to: db, add_tags: [requires expertise]}
complexity:
  requires_expertise_at: 1.0
decision_tree:
  - name: db-work
    when: {team: [db]}
    add_tags: [high complexity]
  """,
    "tags.yaml",
)


def test_a_tag_added_by_a_rule_or_branch_and_by_the_complexity_appears_once() -> None:
    ticket = Ticket(body="Export fails with ORA-00600 and ORA-01555 again")
    engine = RuleEngine(POLICY)
    hits = engine.evaluate(ticket, ticket.text)
    complexity = engine.complexity(ticket, ticket.text)
    complexity = complexity.model_copy(update={"score": 5.0})  # above both thresholds (4, 1)
    prediction = RoutePrediction(
        teams=[TeamScore(team="db", score=0.9)], confidence=0.9, model_version="m"
    )
    route = choose_route(POLICY, ticket, hits, prediction, now=WEDNESDAY_10_UTC, priority="P3")
    priority = choose_priority(POLICY, ticket, hits, complexity, prediction, route.escalate)
    state = {
        "ticket": ticket,
        "route": route,
        "priority": priority,
        "prediction": prediction,
        "complexity": complexity,
        "llm": None,
    }
    decision = assemble_decision(cast(TriageState, state), POLICY, "v")
    folded = [t.casefold() for t in decision.tags]
    assert sorted(folded) == ["high complexity", "requires expertise"], decision.tags
