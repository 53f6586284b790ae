"""Asynchronous intake: POST /v1/tickets (202), GET the ticket and its brief (JSON or Markdown)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from agent.errors import ConflictError
from agent.models import Brief, Ticket, TriageDecision
from agent.triager import TriageResult
from api.deps import Intake, KeyFirstRoute, Reader, ServicesDep, TicketId, ensure_can_read
from api.errors import error_body
from api.intake.models import Adapted
from api.routers.intake import IntakeDep
from api.routers.triage import IdempotencyKey
from api.schemas import Accepted, TicketView
from api.service import idempotency_key

router = APIRouter(prefix="/v1", tags=["tickets"], route_class=KeyFirstRoute)

SOURCE = "api"
"""The intake source of POST /v1/tickets: the same as POST /v1/intake/api's."""


@router.post(
    "/tickets",
    status_code=202,
    response_model=Accepted,
    summary="Accept a ticket for triage",
    responses={
        409: {"description": "The same idempotency key was sent before with another body"},
        422: {"description": "Invalid; or rejected by the api profile, kept with the reasons"},
        429: {"description": "Queue full; Retry-After says when to come back"},
    },
)
def submit(
    ticket: Ticket,
    caller: Intake,
    services: ServicesDep,
    intake: IntakeDep,
    idempotency_key_header: IdempotencyKey = None,
) -> JSONResponse:
    """Validate and queue the ticket through the intake; the decision follows on GET its url.

    The intake's ``api`` source: its validation profile, pre-priority order, durable queue,
    retries and dead letters. Sent again after its triage failed for good (status ``failed``),
    the same ticket is tried again: its open dead letter is replayed in the sender's name.
    """
    key = idempotency_key(ticket, idempotency_key_header, caller)
    adapted = Adapted(ticket=ticket, raw=ticket.model_dump(mode="json", exclude_unset=True))
    result = intake.flow.admit(adapted, SOURCE, caller, key)
    if result.status == "rejected":
        detail = f"rejected (kept as payload {result.reject_id}): " + "; ".join(result.reasons)
        kept = error_body("rejected", detail, reject_id=result.reject_id, reasons=result.reasons)
        return JSONResponse(kept, status_code=422, headers=_replayed(result.replayed))
    if result.status == "quarantined":
        # Held for a person: an enterprise or VIP account's ticket is never rejected.
        url = f"/v1/intake/rejects/{result.reject_id}"
        held = Accepted(id=None, status="quarantined", url=url, reasons=result.reasons)
        return _accepted(held, {"Location": url, **_replayed(result.replayed)})
    ticket_id = result.ticket_id
    assert ticket_id is not None  # queued or duplicate: both name the ticket
    replayed = result.status != "queued"
    if replayed:
        intake.resubmitted(ticket_id, SOURCE, caller.name)
    # A new ticket is "queued" even if a worker has taken it already; a resend gets it as it is.
    status = services.store.status(ticket_id) if replayed else "queued"
    url = f"/v1/tickets/{ticket_id}"
    answer = Accepted(id=ticket_id, status=status, url=url)
    return _accepted(answer, {"Location": url, **_replayed(replayed)})


def _replayed(replayed: bool) -> dict[str, str]:
    """The header that says the answer is that of an earlier send under the same key."""
    return {"Idempotent-Replayed": "true"} if replayed else {}


def _accepted(body: Accepted, headers: dict[str, str]) -> JSONResponse:
    """202 with the body ({id, status, url}; a quarantined payload's reasons too)."""
    return JSONResponse(
        body.model_dump(mode="json", exclude_defaults=True), status_code=202, headers=headers
    )


@router.get(
    "/tickets/{ticket_id}", response_model=TicketView, summary="A ticket, its status and decision"
)
def get_ticket(ticket_id: TicketId, caller: Reader, services: ServicesDep) -> TicketView:
    """The ticket as received, its status, SLA state and current decision."""
    ensure_can_read(services, caller, ticket_id)
    return services.store.view(ticket_id)


@router.get(
    "/tickets/{ticket_id}/brief",
    summary="The brief, JSON or Markdown by Accept",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
async def get_brief(
    ticket_id: TicketId, request: Request, caller: Reader, services: ServicesDep
) -> Response:
    """What the specialist reads first; ``Accept: text/markdown`` for Markdown."""
    await run_in_threadpool(ensure_can_read, services, caller, ticket_id)
    output = await run_in_threadpool(services.store.output, ticket_id)
    if output is None:
        raise ConflictError(f"ticket {ticket_id!r} has no decision yet")
    brief = Brief.model_validate(output["brief"])
    if _wants_markdown(request.headers.get("accept", "")):
        decision = TriageDecision.model_validate({k: v for k, v in output.items() if k != "brief"})
        markdown = TriageResult(decision=decision, brief=brief).to_markdown()
        return Response(markdown, media_type="text/markdown; charset=utf-8")
    return JSONResponse(brief.model_dump(mode="json"))


def _wants_markdown(accept: str) -> bool:
    """Markdown when the client prefers it (or text/plain) to JSON: by q-value, then by order."""
    best: tuple[float, int, bool] | None = None  # (q, -position, markdown)
    for position, part in enumerate(accept.split(",")):
        kind, *params = (p.strip().lower() for p in part.split(";"))
        markdown = kind in ("text/markdown", "text/x-markdown", "text/plain")
        if not markdown and kind not in ("application/json", "*/*"):
            continue
        q = _quality(params)
        if q > 0 and (best is None or (q, -position) > best[:2]):
            best = (q, -position, markdown)
    return best is not None and best[2]


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 1.0
    return 1.0
