"""Asynchronous intake: POST /v1/tickets (202), GET the ticket and its brief (JSON or Markdown)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from agent.errors import CapacityError, ConflictError
from agent.models import Brief, Ticket, TriageDecision
from agent.triager import TriageResult
from api.deps import Intake, Reader, ServicesDep, ensure_can_read
from api.routers.triage import IdempotencyKey
from api.schemas import Accepted, TicketView

router = APIRouter(prefix="/v1", tags=["tickets"])


@router.post(
    "/tickets", status_code=202, response_model=Accepted, summary="Accept a ticket for triage"
)
def submit(
    ticket: Ticket, caller: Intake, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Store the ticket and queue it; the decision follows on GET /v1/tickets/{id}.

    Sent again after its triage failed for good (status ``failed``), the same ticket is queued
    for another try: resubmitting is how a caller replays it.
    """
    claim = services.service.accept(ticket, idempotency_key, caller)
    if claim.created:
        try:
            services.workers.submit(claim.id)
        except CapacityError:
            services.store.discard(claim.id)  # so the caller's retry starts afresh
            raise
    elif services.store.status(claim.id) == "failed":
        services.store.set_status(claim.id, "queued")
        try:
            services.workers.submit(claim.id)
        except CapacityError:
            services.store.set_status(claim.id, "failed", "resubmitted while the queue was full")
            raise
    body = Accepted(
        id=claim.id, status=services.store.status(claim.id), url=f"/v1/tickets/{claim.id}"
    )
    headers = {"Location": body.url, **({} if claim.created else {"Idempotent-Replayed": "true"})}
    return JSONResponse(body.model_dump(mode="json"), status_code=202, headers=headers)


@router.get(
    "/tickets/{ticket_id}", response_model=TicketView, summary="A ticket, its status and decision"
)
def get_ticket(ticket_id: str, caller: Reader, services: ServicesDep) -> TicketView:
    """The ticket as received, its status, SLA state and current decision."""
    ensure_can_read(services, caller, ticket_id)
    return services.store.view(ticket_id)


@router.get(
    "/tickets/{ticket_id}/brief",
    summary="The brief, JSON or Markdown by Accept",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
async def get_brief(
    ticket_id: str, request: Request, caller: Reader, services: ServicesDep
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
