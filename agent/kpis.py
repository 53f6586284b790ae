"""The people's KPIs, defined once: used by the evals and by the service's KPI endpoint.

Computed from resolved-case records (feedback or helpdesk data) wherever outcomes and timings exist.
An escalated ticket is one that belonged with a specialist: its final team is not the first line,
whatever the product first did with it (a missed escalation counts against the figures).

- escalation accuracy rate: of escalated tickets whose first route is known, the share whose first
  route was the final team (target above 90%);
- first-contact resolution rate: of escalated tickets with a known outcome, the share resolved by
  the first specialist contact (target above 65%);
- average handling hours: mean handling time of escalated tickets with a known time
  (target below 24);
- review rate: share of all tickets that needed a human review (no target).

A figure is None where no record allows computing it, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

KPIName = Literal["escalation_accuracy_rate", "first_contact_resolution_rate", "avg_handling_hours"]

# Targets of the people who asked for the product; "higher" means the figure must exceed it.
TARGETS: dict[KPIName, tuple[float, Literal["higher", "lower"]]] = {
    "escalation_accuracy_rate": (0.90, "higher"),
    "first_contact_resolution_rate": (0.65, "higher"),
    "avg_handling_hours": (24.0, "lower"),
}


class OutcomeRecord(BaseModel):
    """What happened to one routed ticket: where it first went, where it ended, how long it took."""

    ticket_id: str = Field(min_length=1)
    team: str = Field(description="Final team")
    first_route: str | None = Field(default=None, description="Team the product first chose")
    escalated: bool
    first_contact_resolved: bool | None = None
    handling_hours: float | None = Field(default=None, ge=0)
    needed_review: bool = False
    decided_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def hours(self) -> float | None:
        """Handling hours as recorded, else derived from decision and resolution times."""
        if self.handling_hours is not None:
            return self.handling_hours
        if self.decided_at is not None and self.resolved_at is not None:
            delta = (self.resolved_at - self.decided_at).total_seconds() / 3600
            return delta if delta >= 0 else None
        return None


class KPITarget(BaseModel):
    """One KPI against its target."""

    target: float
    better: Literal["higher", "lower"]
    value: float | None = None
    met: bool | None = Field(default=None, description="None where the KPI is not computable")


class KPISummary(BaseModel):
    """The KPI figures of one set of records."""

    n: int = Field(description="Records counted")
    escalated: int = Field(description="Records of escalated tickets")
    escalation_accuracy_rate: float | None = None
    first_contact_resolution_rate: float | None = None
    avg_handling_hours: float | None = None
    review_rate: float | None = None


class KPIReport(KPISummary):
    """KPI figures overall, per final team, and against the targets."""

    per_team: dict[str, KPISummary] = Field(default_factory=dict)
    targets: dict[str, KPITarget] = Field(default_factory=dict)


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


@dataclass(frozen=True)
class KPICounts:
    """The counts and sums a KPI summary is computed from; those of several sets add up."""

    n: int = 0
    escalated: int = 0
    routed: int = 0  # escalated, first route known
    routed_right: int = 0  # ... and it was the final team
    outcomes: int = 0  # escalated, first-contact outcome known
    first_contact: int = 0  # ... resolved at first contact
    timed: int = 0  # escalated, handling hours known
    hours: float = 0.0  # ... their sum
    reviewed: int = 0

    def __add__(self, other: KPICounts) -> KPICounts:
        return KPICounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def summary(self) -> KPISummary:
        """The figures of these counts."""
        return KPISummary(
            n=self.n,
            escalated=self.escalated,
            escalation_accuracy_rate=_share(self.routed_right, self.routed),
            first_contact_resolution_rate=_share(self.first_contact, self.outcomes),
            avg_handling_hours=self.hours / self.timed if self.timed else None,
            review_rate=_share(self.reviewed, self.n),
        )


def _counts(records: list[OutcomeRecord]) -> KPICounts:
    escalated = [r for r in records if r.escalated]
    routed = [r for r in escalated if r.first_route is not None]
    outcomes = [r.first_contact_resolved for r in escalated if r.first_contact_resolved is not None]
    hours = [h for h in (r.hours for r in escalated) if h is not None]
    return KPICounts(
        n=len(records),
        escalated=len(escalated),
        routed=len(routed),
        routed_right=sum(r.first_route == r.team for r in routed),
        outcomes=len(outcomes),
        first_contact=sum(outcomes),
        timed=len(hours),
        hours=sum(hours),
        reviewed=sum(r.needed_review for r in records),
    )


def _summarise(records: list[OutcomeRecord]) -> KPISummary:
    return _counts(records).summary()


def _against_targets(summary: KPISummary) -> dict[str, KPITarget]:
    out: dict[str, KPITarget] = {}
    for name, (target, better) in TARGETS.items():
        value: float | None = getattr(summary, name)
        met = None if value is None else (value > target if better == "higher" else value < target)
        out[name] = KPITarget(target=target, better=better, value=value, met=met)
    return out


def compute_kpis(records: Iterable[OutcomeRecord], team: str | None = None) -> KPIReport:
    """KPIs of the records (only those whose final team is ``team`` when given)."""
    selected = [r for r in records if team is None or r.team == team]
    summary = _summarise(selected)
    per_team = {
        name: _summarise([r for r in selected if r.team == name])
        for name in sorted({r.team for r in selected})
    }
    return KPIReport(**summary.model_dump(), per_team=per_team, targets=_against_targets(summary))


def kpi_report(per_team: Mapping[str, KPICounts], team: str | None = None) -> KPIReport:
    """The report of counts per final team (only ``team``'s when given), as compute_kpis makes
    of the records they count."""
    selected = {name: counts for name, counts in per_team.items() if team is None or name == team}
    total = sum((selected[name] for name in sorted(selected)), KPICounts())
    summary = total.summary()
    return KPIReport(
        **summary.model_dump(),
        per_team={name: selected[name].summary() for name in sorted(selected)},
        targets=_against_targets(summary),
    )
