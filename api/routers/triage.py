"""POST /v1/triage: route one ticket now; the same JSON as `triage route`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from agent.models import Ticket
from api.deps import Intake, KeyFirstRoute, ServicesDep

router = APIRouter(prefix="/v1", tags=["triage"], route_class=KeyFirstRoute)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Same key, same ticket: triaged once, same answer (else source + external_id)",
    ),
]


@router.post(
    "/triage",
    summary="Route one ticket now",
    response_description="The decision's fields, with the brief under `brief`",
    responses={409: {"description": "Same idempotency key with different content"}},
)
async def triage_now(
    ticket: Ticket, caller: Intake, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Route the ticket and return the decision with its evidence and brief."""
    output: dict[str, Any]
    output, replayed = await run_in_threadpool(
        services.service.triage_now, ticket, idempotency_key, caller
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(output, headers=headers)
