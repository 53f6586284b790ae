"""The learned router's state, and refitting it on demand: GET /v1/kb/router, POST /v1/kb/refit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from agent.errors import ConflictError
from api.deps import Admin, KeyFirstRoute, ServicesDep

router = APIRouter(prefix="/v1/kb", tags=["knowledge"], route_class=KeyFirstRoute)


class RouterStatus(BaseModel):
    """The router that routes now and the last refit."""

    supported: bool = Field(description="False when the engine cannot refit in the background")
    version: str | None = None
    fitted: bool | None = None
    needs_refit: bool | None = Field(
        default=None, description="Enough new cases arrived since the last fit"
    )
    running: bool
    requested: bool
    check_every_s: float | None = Field(
        default=None, description="Scheduled check period; null: on demand only"
    )
    last: dict[str, Any] | None = Field(
        default=None, description="When the last refit finished, how long it took, its result"
    )


@router.get("/router", response_model=RouterStatus, summary="The learned router and its last refit")
def router_status(caller: Admin, services: ServicesDep) -> RouterStatus:
    """Version, whether a refit is due or running, and the last refit's figures."""
    return RouterStatus.model_validate(services.refitter.status())


@router.post(
    "/refit",
    response_model=RouterStatus,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Refit the router in the background now",
)
def refit(caller: Admin, services: ServicesDep) -> RouterStatus:
    """Tickets keep being routed by the current router until the new one is ready. Refits
    run one at a time in one thread: the answer says whether one is running or requested."""
    refitter = services.refitter
    if not refitter.supported:
        raise ConflictError("this engine's knowledge base cannot be refitted in the background")
    refitter.start()  # a service built without background threads still honours the request
    refitter.request()
    return RouterStatus.model_validate(refitter.status())
