"""GET /v1/kpis: the KPIs (defined in agent/kpis.py) over stored decisions and feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from agent.errors import InputError
from agent.kpis import KPIReport, kpi_report
from api.deps import KeyFirstRoute, ServicesDep, Specialist

router = APIRouter(prefix="/v1", tags=["kpis"], route_class=KeyFirstRoute)


@router.get("/kpis", response_model=KPIReport, summary="Escalation KPIs, per team and overall")
def get_kpis(
    caller: Specialist,
    services: ServicesDep,
    start: Annotated[
        datetime | None, Query(alias="from", description="Tickets received from")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="... up to (exclusive)")] = None,
    team: Annotated[str | None, Query(max_length=200, description="Only this final team")] = None,
) -> KPIReport:
    """Escalation accuracy, first-contact resolution, handling time, volumes, review rate."""
    start, end = _utc(start, "from"), _utc(end, "to")
    if start and end and end <= start:
        raise InputError("to: must be after from")
    policy = services.engine.policy
    per_team = services.ledger.kpi_counts(policy.first_line_team, start, end)
    if team is not None and team not in policy.team_names and team not in per_team:
        # else a typo or an empty field reads as a team without tickets
        raise InputError(
            f"team: {team!r} is no team of the active policy and no ticket in the period ended "
            f"with it; teams: {', '.join(policy.team_names)}"
        )
    return kpi_report(per_team, team=team)


def _utc(value: datetime | None, name: str) -> datetime | None:
    """The time in UTC (one without a zone is UTC); InputError for one UTC cannot hold."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise InputError(f"{name}: {value.isoformat()} is out of range in UTC") from None
