"""How the policy's teams, people and priorities are named in Request Tracker (one place).

The setup script creates RT queues, users and priorities with these names, and the outbound
delivery maps a decision with the same functions, so the two can never disagree.
"""

from __future__ import annotations

import re

from agent.policy import Member, Policy

BOT_USER = "triage"
"""The RT user the service acts as: transactions it creates are ours, not reassignments."""

AGENTS_GROUP = "Triage Agents"
SERVICE_GROUP = "Triage Service"
TAGS_FIELD = "Tags"
ACCOUNT_FIELD = "Account"
USER_FIELDS = ("Tier", "Region")


def queue_for_team(team: str) -> str:
    """The RT queue of a policy team: the team's own name."""
    return team


def rt_user(member: Member) -> str:
    """The RT user name of a team member: the e-mail address, else a slug of the name."""
    if member.email:
        return member.email.strip().lower()
    return re.sub(r"[^a-z0-9]+", ".", member.name.lower()).strip(".")


def user_map(policy: Policy) -> dict[str, str]:
    """Assignee name (as decisions carry it) -> RT user name."""
    return {m.name: rt_user(m) for t in policy.teams for m in t.members}


def priority_map(scale: list[str]) -> dict[str, int]:
    """P1..Pn -> RT numbers, most urgent highest: 100, 75, 50, 25 for a four-step scale."""
    if len(scale) == 1:
        return {scale[0]: 50}
    step = 75 / (len(scale) - 1)
    return {name: round(100 - i * step) for i, name in enumerate(scale)}
