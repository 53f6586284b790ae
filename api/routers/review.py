"""The review queue: tickets the agent abstained on, and a human's decision that resumes the run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import KeyFirstRoute, Reviewer, ServicesDep, TicketId
from api.schemas import ReviewIn, ReviewItem

router = APIRouter(prefix="/v1", tags=["review"], route_class=KeyFirstRoute)


@router.get("/review", response_model=list[ReviewItem], summary="Tickets waiting for a human")
def queue(
    caller: Reviewer, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ReviewItem]:
    """SLA-flagged first, then most urgent, then oldest."""
    scale = services.engine.policy.priorities.scale
    return services.ledger.review_queue(limit, scale, services.service.claims.stale_after_s)


@router.post("/review/{ticket_id}", summary="Decide a ticket under review")
def decide(
    ticket_id: TicketId, answer: ReviewIn, caller: Reviewer, services: ServicesDep
) -> dict[str, Any]:
    """Resume the waiting run with the reviewer's decision; the knowledge base learns from it."""
    return services.service.review(ticket_id, answer, caller)
