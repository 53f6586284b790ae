"""A reviewer's escalation decides the 'Requires Expertise' tag as the agent's own does."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.decision import apply_review
from agent.models import TeamScore, Ticket, TriageDecision
from agent.policy import loads_policy
from agent.priority import REQUIRES_EXPERTISE
from agent.route import InMemoryLoads
from agent.rules import RuleEngine
from agent.state import HumanReview

WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POLICY = loads_policy(
    """
first_line_team: desk
teams:
  - {name: desk, tier: 1, members: [{name: Dana}]}
  - {name: db, tier: 2, members: [{name: Alice}]}
rules:
  - id: tagged-expert
    match: {keywords: [replication]}
    actions: {add_tags: [Requires Expertise]}
complexity:
  requires_expertise_at: 2.0
  error_codes: ['\\bORA-\\d{5}\\b']
""",
    "review-tags.yaml",
)
# three error codes: complexity 3, above requires_expertise_at
COMPLEX = Ticket(id="t-cx", body="Errors ORA-00600, ORA-01555 and ORA-04031 all night.")


def _held(team: str, escalate: bool, tags: list[str]) -> TriageDecision:
    return TriageDecision(
        ticket_id="t-cx",
        escalate=escalate,
        team=team,
        tier=1 if team == "desk" else 2,
        priority="P3",
        tags=tags,
        confidence=0.3,
        needs_review=True,
        decided_by="learned",
        alternatives=[TeamScore(team=team, score=0.3)],
        policy_version="v",
    )


def _review(held: TriageDecision, team: str, ticket: Ticket) -> TriageDecision:
    engine = RuleEngine(POLICY)
    return apply_review(
        held,
        HumanReview(team=team, reviewer="kim"),
        POLICY,
        WEDNESDAY_10_UTC,
        InMemoryLoads(),
        WEDNESDAY_10_UTC,
        ticket=ticket,
        hits=engine.evaluate(ticket, ticket.text),
        complexity=engine.complexity(ticket, ticket.text),
    )


def test_a_complex_ticket_the_reviewer_escalates_requires_expertise() -> None:
    reviewed = _review(_held("desk", False, []), "db", COMPLEX)
    assert reviewed.escalate and REQUIRES_EXPERTISE in reviewed.tags


def test_a_complex_ticket_the_reviewer_keeps_first_line_no_longer_requires_expertise() -> None:
    reviewed = _review(_held("db", True, [REQUIRES_EXPERTISE]), "desk", COMPLEX)
    assert not reviewed.escalate and REQUIRES_EXPERTISE not in reviewed.tags


def test_the_tag_a_rule_added_stays_whatever_the_escalation() -> None:
    ticket = COMPLEX.model_copy(update={"body": COMPLEX.body + " Replication stopped."})
    reviewed = _review(_held("db", True, [REQUIRES_EXPERTISE]), "desk", ticket)
    assert REQUIRES_EXPERTISE in reviewed.tags
