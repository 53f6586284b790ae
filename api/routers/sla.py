"""GET /v1/sla/at-risk: open escalated tickets near or past their SLA due times."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import KeyFirstRoute, ServicesDep, Specialist
from api.schemas import AtRisk

router = APIRouter(prefix="/v1", tags=["sla"], route_class=KeyFirstRoute)


@router.get("/sla/at-risk", response_model=list[AtRisk], summary="Tickets near or past their SLA")
def at_risk(caller: Specialist, services: ServicesDep) -> list[AtRisk]:
    """Breached first, then by due time."""
    return services.sla.at_risk()
