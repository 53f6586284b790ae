"""The example decision tree gives a tier that fits where the ticket stays."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.models import Account, TeamScore, Ticket
from agent.policy import load_policy
from agent.priority import settle_priority
from agent.route import InMemoryLoads, choose_route
from agent.rules import RuleEngine
from agent.settings import EXAMPLES_DIR
from knowledge.base import RoutePrediction

POLICY = load_policy(EXAMPLES_DIR / "policy.yaml")
WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_an_enterprise_p1_that_stays_first_line_keeps_the_first_line_tier() -> None:
    # severity critical makes it P1; the password-reset rule keeps it with the service desk
    ticket = Ticket(
        subject="Password reset",
        body="Please reset my password, I forgot it.",
        severity="critical",
        account=Account(tier="enterprise"),
    )
    engine = RuleEngine(POLICY)
    hits = engine.evaluate(ticket, ticket.text, ticket.subject)
    prediction = RoutePrediction(
        teams=[TeamScore(team="service_desk", score=0.9)], confidence=0.9, model_version="m"
    )
    level, _ = settle_priority(
        POLICY, ticket, hits, engine.complexity(ticket, ticket.text), prediction
    )
    route = choose_route(
        POLICY,
        ticket,
        hits,
        prediction,
        loads=InMemoryLoads(),
        now=WEDNESDAY_10_UTC,
        priority=level,
    )
    assert level == "P1"
    assert (route.team, route.escalate) == ("service_desk", False)
    # not the major-incident tier 3 with a skill nobody at the service desk has
    assert route.tier == POLICY.team("service_desk").tier == 1
    assert not any("nobody eligible has those skills" in e.detail for e in route.evidence)
