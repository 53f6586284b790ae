"""Choose the person in a team: available, on shift, under capacity, with the best skills.

The team and tier are chosen in agent.route; a decision-tree branch may ask for skills or for no
individual at all. Open loads come from a ``LoadView`` (the API keeps them in its database).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from agent.errors import ConflictError
from agent.hours import on_shift
from agent.models import Evidence
from agent.policy_teams import Member, Team
from agent.text import fold


class LoadView(Protocol):
    """How many tickets each person holds open now."""

    def open_count(self, member: str) -> int:
        """Open tickets currently assigned to that member."""
        ...


class InMemoryLoads:
    """Open-ticket counts kept in a dict (CLI and tests; the API keeps them in its database)."""

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.counts: dict[str, int] = dict(counts or {})

    def open_count(self, member: str) -> int:
        """Open tickets currently assigned to that member."""
        return self.counts.get(member, 0)

    def assign(self, member: str) -> None:
        """Count one more open ticket for the member."""
        self.counts[member] = self.counts.get(member, 0) + 1

    def release(self, member: str) -> None:
        """Count one ticket fewer; releasing a ticket nobody holds is a bug upstream."""
        if self.counts.get(member, 0) <= 0:
            raise ConflictError(f"{member} holds no open ticket to release")
        self.counts[member] -= 1


def pick_assignee(
    team: Team, required_skills: Sequence[str], loads: LoadView | None, now: datetime
) -> tuple[str | None, list[Evidence]]:
    """The available, on-shift member under capacity with the best skills, then lowest load."""
    wanted = {fold(s) for s in required_skills}
    evidence = [_assign_ev(team, "open loads unknown, counted as 0")] if loads is None else []
    eligible: list[tuple[int, int, str]] = []  # (-skills matched, open load, name)
    for member in team.members:
        load = loads.open_count(member.name) if loads is not None else 0
        reason = _skip_reason(team, member, load, now)
        if reason:
            evidence.append(_assign_ev(team, f"skipped {member.name}: {reason}"))
        else:
            eligible.append((-len(wanted & {fold(s) for s in member.skills}), load, member.name))
    # With no skills wanted, every eligible member qualifies.
    skilled = [c for c in eligible if c[0] < 0] if wanted else eligible
    if wanted and eligible and not skilled:
        # Better someone on shift than a ticket waiting for an absent specialist.
        evidence.append(_assign_ev(team, "nobody eligible has those skills; any member will do"))
        skilled = eligible
    elif wanted:
        for _, _, name in sorted(set(eligible) - set(skilled)):
            evidence.append(_assign_ev(team, f"skipped {name}: missing skills {sorted(wanted)}"))
    if not skilled:
        evidence.append(_assign_ev(team, f"nobody in {team.name} is eligible; left to the queue"))
        return None, evidence
    neg_matched, load, name = min(skilled)
    skills = f", {-neg_matched}/{len(wanted)} skills" if wanted else ""
    evidence.append(_assign_ev(team, f"assigned {name} (open {load}{skills})"))
    return name, evidence


def _skip_reason(team: Team, member: Member, load: int, now: datetime) -> str:
    if not member.available:
        return "unavailable"
    if not on_shift(member.working_hours or team.working_hours, now):
        return "off shift"
    if load >= member.capacity:
        return f"at capacity ({load}/{member.capacity})"
    return ""


def _assign_ev(team: Team, detail: str) -> Evidence:
    return Evidence(kind="assignee", source=team.name, detail=detail, team=team.name)
