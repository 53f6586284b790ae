"""Checks across a whole policy: every name names something, and every part can act.

A rule that escalates to a team the policy does not have, or a decision-tree branch whose
conditions can never all hold, would be accepted and look armed while never doing anything. Each
check raises PathError with the path a person edits (``rules[0].actions.escalate_to``) and what
would work there; agent.policy.parse_policy puts that path behind the file's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from agent.models import Channel
from agent.text import fold

if TYPE_CHECKING:
    from agent.policy import Policy
    from agent.policy_rules import Branch, Condition


class PathError(ValueError):
    """A problem a validator above the field found: ``loc`` leads from that model to the field,
    so the message names the path a person edits, not the model that noticed."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def check_references(policy: Policy) -> None:
    """PathError for the first name that names nothing or part that could never act."""
    names = [t.name for t in policy.teams]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise PathError(("teams", i, "name"), f"{name!r} is already teams[{names.index(name)}]")
    known = set(names)
    teams = f"teams: {', '.join(names)}"
    if policy.first_line_team not in known:
        raise PathError(("first_line_team",), f"{policy.first_line_team!r} is not a team; {teams}")
    scale = policy.priorities.scale
    ids = [r.id for r in policy.rules]
    for i, rule in enumerate(policy.rules):
        at = ("rules", i)
        if rule.id in ids[:i]:
            raise PathError((*at, "id"), f"{rule.id!r} is already rules[{ids.index(rule.id)}]")
        team, raise_to = rule.actions.escalate_to, rule.actions.raise_priority_to
        if team and team not in known:
            raise PathError(
                (*at, "actions", "escalate_to"),
                f"rule {rule.id}: unknown team {team!r}; {teams}",
            )
        if team and team != policy.first_line_team and rule.actions.stay_first_line:
            # the escalation wins: the rule would look like it keeps tickets first line
            raise PathError(
                (*at, "actions", "stay_first_line"),
                f"rule {rule.id}: escalate_to {team} and stay_first_line contradict each "
                "other (set one of them)",
            )
        if rule.actions.tier is not None and (
            rule.actions.stay_first_line or team == policy.first_line_team
        ):
            # a rule's tier is for the escalated: the ticket keeps the first line's tier
            raise PathError(
                (*at, "actions", "tier"),
                f"rule {rule.id}: a ticket it sends or keeps to {policy.first_line_team} stays "
                "first line, with that team's tier; give the tier to a rule that escalates, or "
                "leave it out",
            )
        if raise_to and raise_to not in scale:
            raise PathError(
                (*at, "actions", "raise_priority_to"),
                f"rule {rule.id}: {raise_to!r} is not on the scale {scale}",
            )
        odd = _not_channels(rule.match.fields.get("channel"))
        if odd:
            raise PathError(
                (*at, "match", "fields", "channel"), f"rule {rule.id}: {odd} {_CHANNELS}"
            )
    _check_tree(policy, teams)


def _check_tree(policy: Policy, teams: str) -> None:
    """PathError for a branch naming a team, priority or skill the policy does not have."""
    known, scale = set(policy.team_names), policy.priorities.scale
    branches = [b.name for b in policy.decision_tree]
    for i, branch in enumerate(policy.decision_tree):
        at = ("decision_tree", i)
        # the evidence names the branch that decided: two of one name cannot be told apart
        if branch.name in branches[:i]:
            raise PathError(
                (*at, "name"),
                f"{branch.name!r} is already decision_tree[{branches.index(branch.name)}]",
            )
        if branch.team and branch.team not in known:
            raise PathError(
                (*at, "team"), f"branch {branch.name}: unknown team {branch.team!r}; {teams}"
            )
        # a condition on a name that cannot occur never fires, silently: refuse it
        unknown = sorted(set(branch.when.team or ()) - known)
        if unknown:
            raise PathError(
                (*at, "when", "team"), f"branch {branch.name}: unknown {unknown}; {teams}"
            )
        off_scale = sorted(set(branch.when.priority or ()) - set(scale))
        if off_scale:
            raise PathError(
                (*at, "when", "priority"),
                f"branch {branch.name}: {off_scale} are not on the scale {scale}",
            )
        missing = _skills_nobody_has(policy, branch)
        if missing:
            lacking = "; ".join(
                f"no member of {', '.join(teams)} has {skill!r}" for skill, teams in missing.items()
            )
            raise PathError(
                (*at, "required_skills"),
                f"branch {branch.name}: {lacking} (the person would be any member there)",
            )
        _check_can_fire(policy, i, branch)
        reached = _teams_reached(policy, branch)
        if branch.tier is not None and reached == [policy.first_line_team]:
            # as a rule's: a branch's tier is for the escalated, the first line keeps its own
            raise PathError(
                (*at, "tier"),
                f"branch {branch.name}: a ticket it leaves with {policy.first_line_team} stays "
                "first line, with that team's tier; give the tier to a branch that escalates, or "
                "leave it out",
            )


def _check_can_fire(policy: Policy, i: int, branch: Branch) -> None:
    """PathError for a branch whose conditions can never all hold, or that an earlier
    branch always takes first: it would look armed and never decide anything."""
    at, when, first_line = ("decision_tree", i), branch.when, policy.first_line_team
    for j, earlier in enumerate(policy.decision_tree[:i]):
        if not earlier.when.model_dump(exclude_none=True):
            raise PathError(
                at,
                f"branch {branch.name} is never reached: decision_tree[{j}] ({earlier.name}) "
                "has no condition and decides first",
            )
    if when.escalate is not None and when.team is not None:
        # the team chosen so far decides escalation: only the first line is not escalated
        can_be_first_line = first_line in when.team
        can_be_escalated = any(team != first_line for team in when.team)
        if not (can_be_escalated if when.escalate else can_be_first_line):
            raise PathError(
                (*at, "when", "escalate"),
                f"branch {branch.name}: {str(when.escalate).lower()} never holds for team "
                f"{when.team} (only {first_line} is first line: a ticket there is not "
                "escalated)",
            )
    odd = _not_channels(when.channel)
    if odd:
        raise PathError((*at, "when", "channel"), f"branch {branch.name}: {odd} {_CHANNELS}")
    # the tree sees the tags of the rules that fired, before its own and complexity's
    added = {fold(tag): tag for rule in policy.rules for tag in rule.actions.add_tags}
    never = [tag for tag in when.tags_any or () if fold(tag) not in added]
    if never:
        raise PathError(
            (*at, "when", "tags_any"),
            f"branch {branch.name}: {never} are added by no rule (the tree reads the rules' "
            f"add_tags); rules add: {', '.join(dict.fromkeys(added.values()))}",
        )
    for j, earlier in enumerate(policy.decision_tree[:i]):
        # one naming a team is passed over for a reviewer's other team: the later one decides there
        if earlier.team is None and _takes_all_of(policy, earlier.when, when):
            raise PathError(
                at,
                f"branch {branch.name} is never reached: decision_tree[{j}] ({earlier.name}) "
                "takes every ticket it would and decides first (put it after this one, or drop "
                "one of them)",
            )


def _takes_all_of(policy: Policy, earlier: Condition, later: Condition) -> bool:
    """Whether every ticket ``later`` lets through meets ``earlier``'s conditions too."""
    from agent.rules import field_matches  # agent.rules reads a policy: not at import time

    first_line = policy.first_line_team
    # the team chosen so far, as ``later`` lets it through (only the first line is not escalated)
    teams = [
        name
        for name in policy.team_names
        if (later.team is None or name in later.team)
        and (later.escalate is None or later.escalate == (name != first_line))
    ]
    for name, accepted in earlier.model_dump(exclude_none=True).items():
        given = getattr(later, name)
        if name == "team":
            holds = set(teams) <= set(accepted)
        elif name == "escalate":
            holds = all((team != first_line) == accepted for team in teams)
        elif given is None:
            holds = False
        elif name == "priority":
            holds = set(given) <= set(accepted)
        elif name == "tags_any":
            holds = {fold(tag) for tag in given} <= {fold(tag) for tag in accepted}
        else:
            # a ticket value taking a later value ('de-AT') takes an earlier one it matches ('de')
            folded = {fold(value) for value in accepted}
            holds = all(field_matches(name, value, folded) for value in given)
        if not holds:
            return False
    return True


def _skills_nobody_has(policy: Policy, branch: Branch) -> dict[str, list[str]]:
    """Each skill the branch asks for, with the teams it can route to where no member has it
    (a typo or a missing specialist would otherwise pass silently: the picker falls back to any
    member of that team)."""
    if not branch.required_skills or not branch.assign:
        return {}
    missing: dict[str, list[str]] = {}
    for name in _teams_reached(policy, branch):
        members = policy.team(name).members
        if not members:
            continue  # nobody is picked there: the team's queue takes the ticket
        has = {fold(skill) for member in members for skill in member.skills}
        for skill in branch.required_skills:
            if fold(skill) not in has:
                missing.setdefault(skill, []).append(name)
    return missing


def _teams_reached(policy: Policy, branch: Branch) -> list[str]:
    """The teams a ticket can have when the branch decides: the one it names, else those its
    conditions let through (only the first line is not escalated)."""
    if branch.team:
        return [branch.team]
    when, first_line = branch.when, policy.first_line_team
    return [
        name
        for name in policy.team_names
        if (when.team is None or name in when.team)
        and (when.escalate is None or when.escalate == (name != first_line))
    ]


_CHANNELS = "is not a channel; channels: " + ", ".join(get_args(Channel))


def _not_channels(values: list[str] | None) -> list[str]:
    """The values no ticket's channel can have (matched case-insensitively, as tickets are)."""
    channels = {fold(c) for c in get_args(Channel)}
    return [v for v in values or () if fold(v) not in channels]
