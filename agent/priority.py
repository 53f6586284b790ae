"""Priority, SLA due times, protocol actions and tags, all from the policy.

The priority starts at the policy default (or the learned priority, when it is on the policy's
scale) and is only ever raised: by account tier, declared severity, fired rules and urgency cues.
Ticket text can never lower it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from agent.hours import add_business_hours
from agent.models import SLA, Evidence, Ticket, as_utc
from agent.policy import Policy
from agent.policy_teams import PriorityPolicy
from agent.rules import Complexity, RuleHit
from agent.text import fold
from knowledge.base import RoutePrediction

HIGH_COMPLEXITY = "High Complexity"
REQUIRES_EXPERTISE = "Requires Expertise"


class PriorityChoice(BaseModel):
    """The priority, its SLA and protocol, the tags, and why."""

    priority: str
    sla: SLA | None = Field(default=None, description="None when the policy has no level for it")
    tags: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


def tier_floor(prio: PriorityPolicy, tier: str | None) -> str | None:
    """The policy's floor for an account tier, matched case-insensitively (VIP is vip)."""
    wanted = fold(tier or "")
    return next((p for name, p in prio.by_account_tier.items() if fold(name) == wanted), None)


def severity_floor(prio: PriorityPolicy, severity: str | None) -> str | None:
    """The policy's floor for a declared severity, matched case-insensitively (Critical)."""
    if not severity:
        return None
    wanted = fold(severity)
    return next((p for name, p in prio.by_severity.items() if fold(name) == wanted), None)


def priority_floor(policy: Policy, ticket: Ticket, hits: Sequence[RuleHit]) -> str:
    """The most urgent of the default and the policy's floors (tier, severity, rules)."""
    prio = policy.priorities
    return prio.most_urgent(
        prio.default,
        tier_floor(prio, ticket.account.tier),
        severity_floor(prio, ticket.severity),
        *(h.actions.raise_priority_to for h in hits),
    )


def settle_priority(
    policy: Policy,
    ticket: Ticket,
    hits: Sequence[RuleHit],
    complexity: Complexity,
    prediction: RoutePrediction | None,
) -> tuple[str, list[Evidence]]:
    """The ticket's priority and how it was reached; it does not depend on the route.

    The decision tree's `when.priority` reads this same value, so a branch for P1 tickets fires
    on a P1 however it became one (learned, account tier, severity, a rule or urgency cues).
    """
    prio = policy.priorities
    evidence: list[Evidence] = []
    current = prio.default
    learned = prediction.priorities[0] if prediction and prediction.priorities else None
    if learned and learned.team in prio.scale and learned.score >= prio.learned_min_confidence:
        current = learned.team
        evidence.append(_ev(f"learned priority {current} ({learned.score:.2f})", "model"))
    elif learned and learned.team in prio.scale:
        evidence.append(
            _ev(
                f"policy default {current}: learned priority {learned.team} "
                f"({learned.score:.2f}) is below learned_min_confidence "
                f"{prio.learned_min_confidence:.2f}",
                "policy",
            )
        )
    else:
        evidence.append(_ev(f"policy default {current}", "policy"))

    def raise_to(target: str | None, why: str, source: str) -> None:
        nonlocal current
        if target and prio.rank(target) < prio.rank(current):
            evidence.append(_ev(f"{why} raises {current} -> {target}", source))
            current = target

    raise_to(tier_floor(prio, ticket.account.tier), f"account tier {ticket.account.tier}", "policy")
    if ticket.severity:
        raise_to(severity_floor(prio, ticket.severity), f"severity {ticket.severity}", "policy")
    for hit in hits:
        raise_to(hit.actions.raise_priority_to, f"rule {hit.rule_id}", hit.rule_id)
    if complexity.urgency_cues and prio.urgency_raises:
        target = prio.scale[max(prio.rank(current) - prio.urgency_raises, 0)]
        cues = ", ".join(repr(c) for c in complexity.urgency_cues)
        raise_to(target, f"urgency cues {cues}", "complexity")
    return current, evidence


def choose_priority(
    policy: Policy,
    ticket: Ticket,
    hits: Sequence[RuleHit],
    complexity: Complexity,
    prediction: RoutePrediction | None,
    escalate: bool,
    now: datetime | None = None,
) -> PriorityChoice:
    """Set the priority, the SLA clock (from `now`, else the ticket's arrival) and the tags."""
    current, evidence = settle_priority(policy, ticket, hits, complexity, prediction)
    tags = _tags(policy, hits, complexity, escalate)
    sla = sla_for(policy, current, now or ticket.received_at)
    if sla is None:
        evidence.append(Evidence(kind="sla", source="policy", detail=f"no SLA level for {current}"))
    else:
        evidence.append(sla_evidence(current, sla))
    return PriorityChoice(priority=current, sla=sla, tags=tags, evidence=evidence)


def _ev(detail: str, source: str) -> Evidence:
    return Evidence(kind="priority", source=source, detail=detail)


def _tags(policy: Policy, hits: Sequence[RuleHit], cx: Complexity, escalate: bool) -> list[str]:
    policy_cx = policy.complexity
    tags: list[str] = []
    if cx.score >= policy_cx.high_complexity_at:
        tags.append(HIGH_COMPLEXITY)
    if escalate and cx.score >= policy_cx.requires_expertise_at:
        tags.append(REQUIRES_EXPERTISE)
    return merge_tags(tags, *(h.actions.add_tags for h in hits))


def retag_expertise(
    policy: Policy, tags: list[str], escalate: bool, hits: Sequence[RuleHit], cx: Complexity
) -> list[str]:
    """The tags with 'Requires Expertise' as this escalation gives it (a rule's own stays)."""
    wanted = escalate and cx.score >= policy.complexity.requires_expertise_at
    key = REQUIRES_EXPERTISE.casefold()
    by_rule = any(t.casefold() == key for h in hits for t in h.actions.add_tags)
    if wanted or by_rule:
        return merge_tags(tags, [REQUIRES_EXPERTISE])
    return [t for t in tags if t.casefold() != key]


def merge_tags(*lists: Iterable[str]) -> list[str]:
    """Union of tag lists, first spelling and first position kept (case-insensitive)."""
    seen: dict[str, str] = {}
    for tags in lists:
        for tag in tags:
            seen.setdefault(tag.casefold(), tag)
    return list(seen.values())


def sla_for(policy: Policy, priority: str, start: datetime) -> SLA | None:
    """The due times and protocol of that priority's level, the clock started at ``start``."""
    level = policy.priorities.levels.get(priority)
    if level is None:
        return None
    # naive times are UTC by convention; a zoned one is counted in UTC, as adding to it in a zone
    # with daylight saving would add wall-clock hours (an hour off across the switch)
    start = as_utc(start).astimezone(UTC)
    if level.business_hours:
        hours = policy.priorities.business_hours
        first = add_business_hours(start, level.first_response_hours, hours)
        resolution = add_business_hours(start, level.resolution_hours, hours)
    else:
        first = start + timedelta(hours=level.first_response_hours)
        resolution = start + timedelta(hours=level.resolution_hours)
    return SLA(
        first_response_due=first.astimezone(UTC),
        resolution_due=resolution.astimezone(UTC),
        business_hours=level.business_hours,
        actions=list(level.actions),
    )


def sla_evidence(priority: str, sla: SLA) -> Evidence:
    """How the SLA was set, for the decision's evidence."""
    clock = "business hours" if sla.business_hours else "around the clock"
    detail = (
        f"{priority}: first response by {sla.first_response_due:%Y-%m-%d %H:%M} UTC, "
        f"resolution by {sla.resolution_due:%Y-%m-%d %H:%M} UTC ({clock})"
    )
    if sla.actions:
        detail += "; protocol: " + ", ".join(sla.actions)
    if not sla.clock_started:
        detail += "; no SLA clock: the level's protocol does not start_sla_clock (not watched)"
    return Evidence(kind="sla", source="policy", detail=detail)
