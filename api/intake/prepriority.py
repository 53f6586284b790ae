"""A cheap priority at the door, from what is known before triage, to order the queue.

The most urgent of: the policy's default, its floor for the account tier, its floor for the
declared severity, and what rules firing on the subject alone raise it to. Within one priority,
bigger accounts go first. Triage sets the real priority later; this only decides the order.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.injection import scan
from agent.models import Ticket
from agent.policy import Policy
from agent.priority import severity_floor, tier_floor
from agent.rules import engine_for

# Within one priority: vip, enterprise, premium, then everyone else.
TIER_ORDER = {"vip": 0, "enterprise": 1, "premium": 2}
OTHER_TIER = 3
STEP = 10  # queue priority = rank * STEP + tier order


def tier_order(tier: str | None) -> int:
    """0 for the biggest accounts; unknown tiers last."""
    return TIER_ORDER.get((tier or "").lower(), OTHER_TIER)


@dataclass(frozen=True)
class PrePriority:
    """The label (e.g. P1), its rank on the policy's scale, the queue order and why."""

    label: str
    rank: int
    order: int
    reasons: tuple[str, ...]


def pre_priority(policy: Policy, ticket: Ticket) -> PrePriority:
    """The ticket's priority at the door (sub-millisecond: subject-only rule scan)."""
    priorities = policy.priorities
    floors: list[tuple[str, str]] = [(priorities.default, "policy default")]
    tier = ticket.account.tier
    floor = tier_floor(priorities, tier)
    if floor is not None:
        floors.append((floor, f"account tier {tier}"))
    severity = severity_floor(priorities, ticket.severity)
    if severity is not None:
        floors.append((severity, f"declared severity {ticket.severity}"))
    # The same injection-cleaned subject triage reads: instructions never move a ticket up.
    subject = scan(ticket.subject).clean_text
    if subject.strip():
        hits = engine_for(policy).evaluate(ticket, subject, subject)
        for hit in hits:
            raised = hit.actions.raise_priority_to
            if raised:
                floors.append((raised, f"rule {hit.rule_id} on the subject"))
    label = priorities.most_urgent(*(p for p, _ in floors))
    reasons = tuple(why for p, why in floors if p == label)
    rank = priorities.rank(label)
    return PrePriority(label, rank, rank * STEP + tier_order(tier), reasons)
