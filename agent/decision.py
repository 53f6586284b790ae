"""Assemble the final decision from the nodes' findings, and apply a reviewer's answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from agent.assign import LoadView, pick_assignee
from agent.models import Evidence, LLMUsage, Ticket, TriageDecision
from agent.patterns import PATTERN_TIMEOUT_S
from agent.policy import Policy
from agent.priority import merge_tags, retag_expertise, sla_evidence, sla_for
from agent.route import branch_tier, describe_branch, first_branch, tiered_rule
from agent.rules import Complexity, RuleHit
from agent.state import HumanReview, TriageState

INJECTION_TAG = "possible prompt injection"


def assemble_decision(state: TriageState, policy: Policy, policy_version: str) -> TriageDecision:
    """One decision: route, priority, tags, review and the evidence behind each, in order.

    ``policy_version`` is the policy's fingerprint, hashed once per active policy by the caller
    (hashing the whole policy costs more than the rest of this function).
    """
    ticket, route, priority = state["ticket"], state["route"], state["priority"]
    prediction, outcome = state["prediction"], state.get("llm")
    complexity = state["complexity"]
    injections = state.get("injections", [])

    evidence: list[Evidence] = [
        Evidence(
            kind="injection",
            source="normalize",
            detail=f"ignored instruction-like text: {p[:160]!r}",
        )
        for p in injections
    ]
    evidence += route.evidence + prediction.evidence + priority.evidence
    if complexity.score:
        parts = ", ".join(f"{k} {v:g}" for k, v in complexity.parts.items() if v)
        evidence.append(
            Evidence(
                kind="complexity", source="rules", detail=f"score {complexity.score:g} ({parts})"
            )
        )
    if outcome is not None:
        evidence += outcome.evidence

    # one tag however many parts added it, in whatever case ('requires expertise' from a rule
    # is the complexity's 'Requires Expertise')
    tags = merge_tags(route.tags, priority.tags, [INJECTION_TAG] if injections else [])
    reasons = list(route.review_reasons)
    if injections and policy.injection_to_review:
        reasons.append("possible prompt injection in the ticket text")
    for pattern in complexity.gave_up:
        # a code it would have found might have sent the ticket elsewhere
        reasons.append(
            f"error-code pattern {pattern!r} gave up on this ticket after {PATTERN_TIMEOUT_S:g} s "
            "of matching: the rules using it may have missed a code"
        )
    review_at = policy.complexity.review_at
    if review_at is not None and complexity.score >= review_at:
        reasons.append(f"complexity {complexity.score:g} at or above {review_at:g}")
    if reasons:
        evidence.append(Evidence(kind="review", source="policy", detail="; ".join(reasons)))

    return TriageDecision(
        ticket_id=ticket.id,
        escalate=route.escalate,
        team=route.team,
        tier=route.tier,
        assignee=route.assignee,
        priority=priority.priority,
        sla=priority.sla,
        tags=tags,
        confidence=route.confidence,
        needs_review=bool(reasons),
        review_reasons=reasons,
        decided_by=route.decided_by,
        alternatives=prediction.teams[:5],
        evidence=evidence,
        policy_version=policy_version,
        model_version=prediction.model_version,
        llm=outcome.usage if outcome is not None else LLMUsage(),
    )


def apply_review(
    decision: TriageDecision,
    review: HumanReview,
    policy: Policy,
    received_at: datetime,
    loads: LoadView | None = None,
    now: datetime | None = None,
    *,
    ticket: Ticket,
    hits: Sequence[RuleHit],
    complexity: Complexity,
) -> TriageDecision:
    """The reviewer's answer replaces the guess; the evidence keeps both.

    What the answer changes follows from it as from the agent's own decisions: a new priority
    gets its level's SLA (clock from ``received_at``) and protocol; without one, a priority the
    SLA watch raised meanwhile stays, with the due times it had; a new team gets the tier and a
    person as the decision tree gives them there (its first branch that keeps the ticket with
    that team), else the tier the fired rules ask for there as on the route step, and the person
    unless the reviewer named one; the same team keeps its tier and person,
    unless the policy no longer has that person available in the team. The reviewer's
    escalation decides the 'Requires Expertise' tag (``hits`` and ``complexity``: the ticket's).
    """
    if review.team not in policy.team_names:
        raise ValueError(f"unknown team {review.team!r}; known: {policy.team_names}")
    if review.priority and review.priority not in policy.priorities.scale:
        raise ValueError(f"unknown priority {review.priority!r}; scale: {policy.priorities.scale}")
    team = policy.team(review.team)
    same_team = team.name == decision.team
    escalate = (
        review.escalate if review.escalate is not None else team.name != policy.first_line_team
    )
    note = f" ({review.note})" if review.note else ""
    detail = (
        f"{review.reviewer} routed to {team.name}"
        f" (agent's guess {decision.team}, confidence {decision.confidence:.2f}){note}"
    )
    evidence = [
        *decision.evidence,
        Evidence(kind="review", source=review.reviewer, detail=detail, team=team.name),
    ]
    raised = review.raised_priority if review.raised_priority in policy.priorities.scale else None
    priority, sla = review.priority or raised or decision.priority, decision.sla
    kept = decision.assignee if same_team else None
    gone = kept is not None and not any(m.name == kept and m.available for m in team.members)
    if gone:
        # the policy changed while the ticket waited: the person left the team or is on leave
        evidence.append(
            Evidence(
                kind="assignee",
                source=team.name,
                detail=f"{kept} is no longer an available member of {team.name}",
                team=team.name,
            )
        )
    tier, tags, assignee = decision.tier, decision.tags, review.assignee or kept
    # the tree reads the tags of the rules that fired, as on the route step
    rule_tags = merge_tags(*(h.actions.add_tags for h in hits))
    if not same_team:
        tags = _without_branch_tags(policy, decision, rule_tags)
    if not same_team or (gone and not review.assignee):
        branch = first_branch(policy, ticket, team.name, priority, rule_tags, keep_team=True)
        if branch is not None:
            found = describe_branch(branch, team.name, policy.first_line_team)
            evidence.append(Evidence(kind="tree", source=branch.name, detail=found, team=team.name))
            tags = merge_tags(tags, branch.add_tags)
        if not same_team:
            # as on the route step: the branch's tier, else the heaviest fired rule's for the team
            by_branch = branch_tier(policy, branch, team.name)
            by_rule = None if by_branch else tiered_rule(policy, hits, team.name)
            tier = by_branch or (by_rule.actions.tier if by_rule else None) or team.tier
            if by_rule is not None:
                said = f"rule {by_rule.rule_id} sets tier {tier} for {team.name}"
                evidence.append(
                    Evidence(kind="rule", source=by_rule.rule_id, detail=said, team=team.name)
                )
        if not review.assignee and (branch is None or branch.assign):
            skills = branch.required_skills if branch else []
            assignee, picked = pick_assignee(team, skills, loads, now or datetime.now(UTC))
            evidence.extend(picked)
    tags = retag_expertise(policy, tags, escalate, hits, complexity)
    if review.priority and priority != decision.priority:
        sla = sla_for(policy, priority, received_at)
        evidence.append(
            sla_evidence(priority, sla)
            if sla is not None
            else Evidence(kind="sla", source="policy", detail=f"no SLA level for {priority}")
        )
    elif priority != decision.priority:
        # As the watch treats its raise: a higher priority, the same commitments. Due times of
        # the raised level, counted from arrival, would mostly be past already and raise again.
        evidence.append(
            Evidence(
                kind="sla",
                source="sla_watch",
                detail=f"{priority} kept: the SLA watch raised it from {decision.priority} while "
                f"the ticket waited; the due times stay those of {decision.priority}",
            )
        )
    return decision.model_copy(
        update={
            "team": team.name,
            "tier": tier,
            "escalate": escalate,
            "priority": priority,
            "sla": sla,
            "assignee": assignee,
            "tags": tags,
            "needs_review": False,
            "decided_by": "human",
            "confidence": 1.0,
            "evidence": evidence,
        }
    )


def _without_branch_tags(
    policy: Policy, decision: TriageDecision, rule_tags: list[str]
) -> list[str]:
    """The decision's tags less those the branch it took added (a rule's own stay): that branch
    was for the team the reviewer did not keep."""
    taken = {e.source for e in decision.evidence if e.kind == "tree"}
    kept = {t.casefold() for t in rule_tags}
    dropped = {
        tag.casefold()
        for branch in policy.decision_tree
        if branch.name in taken
        for tag in branch.add_tags
    } - kept
    return [t for t in decision.tags if t.casefold() not in dropped]
