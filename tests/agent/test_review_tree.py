"""A reviewer's new team gets its tier and person as the decision tree gives them there."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.decision import apply_review
from agent.models import Account, Evidence, TeamScore, Ticket, TriageDecision
from agent.policy import load_policy
from agent.route import InMemoryLoads
from agent.rules import Complexity
from agent.settings import EXAMPLES_DIR
from agent.state import HumanReview

POLICY = load_policy(EXAMPLES_DIR / "policy.yaml")
# Wednesday 10:00 UTC: Mehmet Yilmaz and Sofia Rossi (database) are on shift, Daniel Kim is not.
WEDNESDAY_10_UTC = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _held(ticket: Ticket, team: str, tier: int, assignee: str) -> TriageDecision:
    return TriageDecision(
        ticket_id=ticket.id,
        escalate=True,
        team=team,
        tier=tier,
        assignee=assignee,
        priority="P2",
        tags=["VIP"],
        confidence=0.3,
        needs_review=True,
        review_reasons=["routing confidence 0.30 below review threshold 0.55"],
        decided_by="learned",
        alternatives=[TeamScore(team=team, score=0.3)],
        policy_version="v",
    )


def test_a_vip_ticket_sent_to_another_team_gets_the_vip_branch_s_tier_and_a_vip_person() -> None:
    ticket = Ticket(subject="Export fails", body="The export hangs.", account=Account(tier="vip"))
    held = _held(ticket, "hardware", 3, "Felix Braun")
    loads = InMemoryLoads({"Mehmet Yilmaz": 1})  # Sofia Rossi, with no VIP skill, holds none
    reviewed = apply_review(
        held,
        HumanReview(team="database", reviewer="kim"),
        POLICY,
        WEDNESDAY_10_UTC,
        loads,
        WEDNESDAY_10_UTC,
        ticket=ticket,
        hits=[],
        complexity=Complexity(score=0.0),
    )
    # the tree's vip-escalated branch: tier 3, a member with the vip skill
    assert (reviewed.team, reviewed.tier, reviewed.assignee) == ("database", 3, "Mehmet Yilmaz")
    assert any(e.kind == "tree" and e.source == "vip-escalated" for e in reviewed.evidence)


def test_a_branch_that_would_move_the_ticket_elsewhere_does_not_undo_the_review() -> None:
    # billing-category sends service-desk billing tickets to billing: not the reviewer's choice
    ticket = Ticket(subject="Rechnung", body="Wo ist meine Rechnung?", category="billing")
    ticket = ticket.model_copy(update={"language": "de"})
    held = _held(ticket, "billing", 2, "Max Hoffmann").model_copy(update={"tags": []})
    reviewed = apply_review(
        held,
        HumanReview(team="service_desk", reviewer="kim"),
        POLICY,
        WEDNESDAY_10_UTC,
        InMemoryLoads(),
        WEDNESDAY_10_UTC,
        ticket=ticket,
        hits=[],
        complexity=Complexity(score=0.0),
    )
    # the next branch that keeps the team: german-speakers, Lena Fischer speaks German
    assert (reviewed.team, reviewed.tier, reviewed.assignee) == ("service_desk", 1, "Lena Fischer")


def test_the_tags_of_the_branch_the_guess_took_go_with_it() -> None:
    ticket = Ticket(subject="VPN", body="The VPN drops often.", account=Account(tier="enterprise"))
    held = _held(ticket, "network", 2, "Grace Miller").model_copy(
        update={
            "tags": ["Enterprise"],
            "evidence": [
                Evidence(kind="tree", source="enterprise-escalated", detail="branch matched")
            ],
        }
    )
    reviewed = apply_review(
        held,
        HumanReview(team="service_desk", reviewer="kim"),
        POLICY,
        WEDNESDAY_10_UTC,
        InMemoryLoads(),
        WEDNESDAY_10_UTC,
        ticket=ticket,
        hits=[],
        complexity=Complexity(score=0.0),
    )
    # an enterprise ticket at the first line takes no branch: nothing tags it Enterprise
    assert (reviewed.team, reviewed.escalate, reviewed.tags) == ("service_desk", False, [])
