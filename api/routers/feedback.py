"""POST /v1/tickets/{id}/feedback: a specialist's post-resolution feedback, learned at once."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import KeyFirstRoute, ServicesDep, Specialist, TicketId
from api.schemas import FeedbackIn, FeedbackOut

router = APIRouter(prefix="/v1", tags=["feedback"], route_class=KeyFirstRoute)


@router.post(
    "/tickets/{ticket_id}/feedback", response_model=FeedbackOut, summary="Post-resolution feedback"
)
def give_feedback(
    ticket_id: TicketId, answer: FeedbackIn, caller: Specialist, services: ServicesDep
) -> FeedbackOut:
    """Right team (or the right one), escalation needed, resolution, first contact, hours."""
    return services.service.feedback(ticket_id, answer, caller)
