"""Account tiers and severities raise the priority however the ticket or the policy spells them."""

from __future__ import annotations

import pytest

from agent.errors import PolicyError
from agent.models import Account, Ticket
from agent.policy import Policy, loads_policy
from agent.priority import priority_floor, settle_priority
from agent.rules import RuleEngine
from api.intake.prepriority import pre_priority

POLICY = """
first_line_team: desk
teams: [{name: desk, tier: 1}]
priorities:
  scale: [P1, P2, P3, P4]
  default: P4
  by_account_tier: {vip: P2, Enterprise: P3}
  by_severity: {critical: P1, High: P2}
"""


@pytest.fixture
def policy() -> Policy:
    return loads_policy(POLICY, "test.yaml")


def _ticket(tier: str) -> Ticket:
    return Ticket(subject="Wallpaper", body="How do I change it?", account=Account(tier=tier))


@pytest.mark.parametrize(
    ("tier", "floor"),
    [("vip", "P2"), ("VIP", "P2"), ("Vip", "P2"), ("enterprise", "P3"), ("ENTERPRISE", "P3")],
)
def test_the_tier_floor_ignores_case_on_both_sides(policy: Policy, tier: str, floor: str) -> None:
    assert priority_floor(policy, _ticket(tier), []) == floor


def test_an_unknown_tier_has_no_floor(policy: Policy) -> None:
    assert priority_floor(policy, _ticket("standard"), []) == "P4"


def test_settled_priority_raises_for_an_upper_case_tier_and_names_it_as_given(
    policy: Policy,
) -> None:
    ticket = _ticket("VIP")
    engine = RuleEngine(policy)
    hits = engine.evaluate(ticket, ticket.text)
    complexity = engine.complexity(ticket, ticket.text)
    level, evidence = settle_priority(policy, ticket, hits, complexity, None)
    assert level == "P2"
    assert "account tier VIP raises P4 -> P2" in [e.detail for e in evidence]


def test_the_door_priority_raises_for_an_upper_case_tier(policy: Policy) -> None:
    door = pre_priority(policy, _ticket("VIP"))
    assert (door.label, door.reasons) == ("P2", ("account tier VIP",))
    assert door.order == pre_priority(policy, _ticket("vip")).order


@pytest.mark.parametrize(
    ("severity", "level"), [("Critical", "P1"), ("high", "P2"), ("HIGH", "P2")]
)
def test_a_declared_severity_raises_however_it_is_spelt(
    policy: Policy, severity: str, level: str
) -> None:
    ticket = Ticket(subject="Wallpaper", body="How do I change it?", severity=severity)
    assert priority_floor(policy, ticket, []) == level
    engine = RuleEngine(policy)
    settled, _ = settle_priority(policy, ticket, [], engine.complexity(ticket, ticket.text), None)
    assert settled == level
    assert pre_priority(policy, ticket).label == level


@pytest.mark.parametrize(
    ("section", "entries", "message"),
    [
        (
            "by_account_tier",
            "{VIP: P1, vip: P3}",
            "priorities.by_account_tier.vip: 'vip' is 'VIP' again",
        ),
        (
            "by_severity",
            "{High: P2, critical: P1, HIGH: P4}",
            "priorities.by_severity.HIGH: 'HIGH' is 'High' again",
        ),
    ],
)
def test_one_tier_or_severity_in_two_spellings_is_refused(
    section: str, entries: str, message: str
) -> None:
    """Matched whatever the case, the first spelling always won and the second did nothing."""
    text = POLICY.replace(
        "  by_account_tier: {vip: P2, Enterprise: P3}\n  by_severity: {critical: P1, High: P2}\n",
        f"  {section}: {entries}\n",
    )
    assert text != POLICY
    with pytest.raises(PolicyError) as caught:
        loads_policy(text, "test.yaml")
    assert str(caught.value) == (
        f"test.yaml: line 7: {message} (matched whatever the case); keep one of them"
    )
