"""GET /v1/kpis: the KPIs (defined in agent/kpis.py) over stored decisions and feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from agent.errors import InputError
from agent.kpis import KPIReport, compute_kpis
from api.deps import ServicesDep, Specialist

router = APIRouter(prefix="/v1", tags=["kpis"])


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
    start, end = _aware(start), _aware(end)
    if start and end and end <= start:
        raise InputError("to: must be after from")
    return compute_kpis(
        services.ledger.outcomes(services.engine.policy.first_line_team, start, end), team=team
    )


def _aware(value: datetime | None) -> datetime | None:
    """Dates without a zone are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
