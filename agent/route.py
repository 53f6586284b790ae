"""Choose the team, tier and person: rules and explicit policy win over model guesses.

Order: a rule naming a team (highest weight, then policy order) > a rule keeping the ticket first
line > the LLM's team (when the caller trusts it) > the learned prediction (restricted to the
policy's teams). Then the decision tree's first matching branch may override team and tier and
steer the choice of an individual (agent.assign's ``pick_assignee``: on shift, under capacity,
best skills).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

# InMemoryLoads is named here too, where callers long took it from
from agent.assign import InMemoryLoads as InMemoryLoads
from agent.assign import LoadView, pick_assignee
from agent.models import Evidence, Ticket
from agent.policy import Policy
from agent.policy_rules import Branch
from agent.priority import merge_tags, priority_floor
from agent.rules import RuleHit, field_matches, rule_evidence, ticket_field
from agent.text import fold
from knowledge.base import RoutePrediction

RULE_CONFIDENCE = 0.95  # a deterministic rule or policy branch decided; not a model guess

RouteSource = Literal["rule", "tree", "learned", "llm", "policy"]


class RouteChoice(BaseModel):
    """Where the ticket goes and why."""

    team: str
    tier: int
    escalate: bool
    decided_by: RouteSource
    confidence: float = Field(ge=0.0, le=1.0)
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list)
    review_reasons: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons)


def choose_route(
    policy: Policy,
    ticket: Ticket,
    hits: Sequence[RuleHit],
    prediction: RoutePrediction,
    llm_team: str | None = None,
    llm_confidence: float | None = None,
    loads: LoadView | None = None,
    now: datetime | None = None,
    priority: str | None = None,
) -> RouteChoice:
    """Pick team, tier, escalation and assignee; `priority` defaults to the policy floor."""
    evidence: list[Evidence] = []  # after each rule's own, which says what it gave the ticket
    team, decided_by, confidence = _base_team(
        policy, hits, prediction, llm_team, llm_confidence, evidence
    )
    tags = merge_tags(*(h.actions.add_tags for h in hits))
    chosen_priority = priority or priority_floor(policy, ticket, hits)
    branch = first_branch(policy, ticket, team, chosen_priority, tags)
    if branch is not None:
        detail = describe_branch(branch, team, policy.first_line_team)
        evidence.append(Evidence(kind="tree", source=branch.name, detail=detail))
        tags = merge_tags(tags, branch.add_tags)
        # A branch that names the team outright (no team condition) is explicit policy, also
        # when the guess already named that team; one that refines a guessed team inherits that
        # guess's confidence.
        outright = branch.team is not None and branch.when.team is None
        if branch.team and (branch.team != team or outright):
            team, decided_by = branch.team, "tree"
            if outright:
                confidence = max(confidence, RULE_CONFIDENCE)

    team_obj = policy.team(team)
    tier_rule = tiered_rule(policy, hits, team)
    rule_tier = tier_rule.actions.tier if tier_rule else None
    tier = branch_tier(policy, branch, team) or rule_tier or team_obj.tier
    tier_notes = _tier_notes(policy, hits, team, branch, tier_rule)
    evidence[:0] = rule_evidence(list(hits), tier_notes)

    assignee = None
    if branch is None or branch.assign:
        skills = branch.required_skills if branch else []
        assignee, picked = pick_assignee(team_obj, skills, loads, now or datetime.now(UTC))
        evidence.extend(picked)

    reasons = []
    if confidence < policy.review_threshold:
        reasons.append(
            f"routing confidence {confidence:.2f} below review threshold "
            f"{policy.review_threshold:.2f}"
        )
    if prediction.novel and policy.novel_to_review and decided_by in ("learned", "llm"):
        # calibrated on tickets like the past ones, the confidence says little about this one
        reasons.append("unlike any past case: no precedent backs the route")
    return RouteChoice(
        team=team,
        tier=tier,
        escalate=team != policy.first_line_team,
        decided_by=decided_by,
        confidence=round(confidence, 4),
        assignee=assignee,
        tags=tags,
        review_reasons=reasons,
        evidence=evidence,
    )


def _base_team(
    policy: Policy,
    hits: Sequence[RuleHit],
    prediction: RoutePrediction,
    llm_team: str | None,
    llm_confidence: float | None,
    evidence: list[Evidence],
) -> tuple[str, RouteSource, float]:
    """Team before the decision tree, who decided it, and with what confidence."""
    guess = prediction.teams[0] if prediction.teams else None
    escalating = [h for h in hits if h.actions.escalate_to]
    if escalating:
        # max() keeps the first of equal weights: policy order breaks ties.
        winner = max(escalating, key=lambda h: h.weight)
        team = winner.actions.escalate_to or policy.first_line_team
        beaten = [o for o in escalating if o.actions.escalate_to != team]
        notes = [f"outweighs rule {o.rule_id} ({o.actions.escalate_to})" for o in beaten]
        if team != policy.first_line_team:
            # an escalation beats keeping it first line: say so, or both rules look obeyed
            kept = [h for h in hits if h.actions.stay_first_line]
            notes += [f"outweighs rule {h.rule_id} (stay first line)" for h in kept]
        if guess and guess.team != team:
            notes.append(f"overrides model guess {guess.team} ({guess.score:.2f})")
        for note in notes:
            evidence.append(_ev(f"rule {winner.rule_id} {note}", winner.rule_id, team))
        return team, "rule", RULE_CONFIDENCE
    stay = next((h for h in hits if h.actions.stay_first_line), None)
    if stay is not None:
        team = policy.first_line_team
        if guess and guess.team != team:
            note = f"keeps it first line over model guess {guess.team} ({guess.score:.2f})"
            evidence.append(_ev(f"rule {stay.rule_id} {note}", stay.rule_id, team))
        return team, "rule", RULE_CONFIDENCE
    team_names = set(policy.team_names)
    if llm_team and llm_team in team_names:
        conf = llm_confidence if llm_confidence is not None else prediction.confidence
        evidence.append(_ev(f"LLM chose {llm_team} ({conf:.2f})", "llm", llm_team, "llm"))
        return llm_team, "llm", conf
    known = [s for s in prediction.teams if s.team in team_names]
    total = sum(s.score for s in known)
    if not known or total <= 0:
        note = "no prediction names a policy team; first line decides"
        evidence.append(_ev(note, "policy", policy.first_line_team, "fallback"))
        return policy.first_line_team, "policy", 0.0
    top = known[0]
    # If the model's top team is not in the policy, the best remaining one is judged by its
    # renormalised probability; otherwise the model's calibrated confidence stands.
    conf = prediction.confidence if guess and top.team == guess.team else top.score / total
    if len(known) < len(prediction.teams):
        dropped = sorted({s.team for s in prediction.teams} - team_names)
        note = f"ignored teams not in the policy: {', '.join(dropped)}"
        evidence.append(_ev(note, prediction.model_version, top.team, "model"))
    return top.team, "policy" if prediction.cold_start else "learned", min(conf, 1.0)


def tree_team(policy: Policy, ticket: Ticket, hits: Sequence[RuleHit], priority: str) -> str | None:
    """The team the decision tree names outright whatever team comes before it, or None.

    So it is when, for every team of the policy, the first branch to match names its team without
    a team condition, and names the same one: no guess, the LLM's included, changes the route."""
    tags = merge_tags(*(h.actions.add_tags for h in hits))
    named: set[str] = set()
    for name in policy.team_names:
        branch = first_branch(policy, ticket, name, priority, tags)
        if branch is None or branch.team is None or branch.when.team is not None:
            return None
        named.add(branch.team)
    return named.pop() if len(named) == 1 else None


def tiered_rule(policy: Policy, hits: Sequence[RuleHit], team: str) -> RuleHit | None:
    """The heaviest rule asking a tier that names no team or this team, for an escalated
    ticket: one that stays first line has the first line's tier, whatever else fired."""
    if team == policy.first_line_team:
        return None
    tiered = [h for h in hits if h.actions.tier and h.actions.escalate_to in (None, team)]
    return max(tiered, key=lambda h: h.weight) if tiered else None


def _tier_notes(
    policy: Policy,
    hits: Sequence[RuleHit],
    team: str,
    branch: Branch | None,
    tier_rule: RuleHit | None,
) -> dict[str, str]:
    """By rule id, why the tier a fired rule asks for is not the ticket's (``tier_rule``: the
    rule whose tier it has unless the branch gives one)."""
    by_branch = branch_tier(policy, branch, team)
    notes = {}
    for hit in hits:
        asked = hit.actions.tier
        if not asked or (hit is tier_rule and not by_branch):
            continue
        if team == policy.first_line_team:
            why = "the ticket stays first line"
        elif hit.actions.escalate_to not in (None, team):
            why = f"the ticket goes to {team}"
        elif by_branch and branch is not None:
            why = f"branch {branch.name} sets tier {by_branch}"
        elif tier_rule is not None:
            why = f"rule {tier_rule.rule_id} sets tier {tier_rule.actions.tier}"
        else:
            continue
        notes[hit.rule_id] = f"tier {asked} not applied: {why}"
    return notes


def branch_tier(policy: Policy, branch: Branch | None, team: str) -> int | None:
    """The tier the branch gives a ticket it leaves with ``team``, as a rule's: for an escalated
    ticket only; one that stays first line has the first line's tier."""
    if branch is None or team == policy.first_line_team:
        return None
    return branch.tier


def first_branch(
    policy: Policy,
    ticket: Ticket,
    team: str,
    priority: str,
    tags: list[str],
    keep_team: bool = False,
) -> Branch | None:
    """The first branch of the decision tree whose conditions all hold (``keep_team``: of
    those that leave the ticket with ``team``, as for a team a reviewer chose)."""
    escalate = team != policy.first_line_team
    folded_tags = {fold(t) for t in tags}
    for branch in policy.decision_tree:
        when = branch.when
        if keep_team and branch.team not in (None, team):
            continue
        if when.team is not None and team not in when.team:
            continue
        if when.escalate is not None and when.escalate != escalate:
            continue
        if when.priority is not None and priority not in when.priority:
            continue
        if when.tags_any is not None and not folded_tags & {fold(t) for t in when.tags_any}:
            continue
        if all(_field_ok(ticket, name, getattr(when, name)) for name in _TREE_FIELDS):
            return branch
    return None


_TREE_FIELDS = ("category", "product", "account_tier", "region", "language", "severity", "channel")


def _field_ok(ticket: Ticket, name: str, accepted: list[str] | None) -> bool:
    if accepted is None:
        return True
    return field_matches(name, ticket_field(ticket, name), {fold(a) for a in accepted})


def describe_branch(branch: Branch, team: str, first_line: str) -> str:
    """What a matched branch does to a ticket that had ``team`` before it."""
    parts = [f"branch {branch.name} matched"]
    if branch.team and branch.team != team:
        parts.append(f"team {team} -> {branch.team}")
    if branch.tier is not None and (branch.team or team) == first_line:
        parts.append(f"tier {branch.tier} not applied: the ticket stays first line")
    elif branch.tier is not None:
        parts.append(f"tier {branch.tier}")
    if not branch.assign:
        parts.append("no individual assigned: the team's queue takes it")
    elif branch.required_skills:
        parts.append("needs " + ", ".join(branch.required_skills))
    return "; ".join(parts)


def _ev(
    detail: str, source: str, team: str, kind: Literal["rule", "llm", "model", "fallback"] = "rule"
) -> Evidence:
    return Evidence(kind=kind, source=source, detail=detail, team=team)
