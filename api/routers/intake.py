"""POST /v1/intake/{channel}: every channel's way in; the signed helpdesk webhook; rejects."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Intake as IntakeCaller
from api.deps import KeyFirstRoute, Reader, Reviewer, RowId
from api.intake.events import EventOutcome
from api.intake.models import IntakeResult
from api.intake.rejects import Reject, RejectVerdict
from api.intake.setup import Intake
from api.intake.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER
from api.routers.triage import IdempotencyKey

router = APIRouter(prefix="/v1/intake", tags=["intake"], route_class=KeyFirstRoute)


def get_intake(request: Request) -> Intake:
    """The app's intake."""
    intake: Intake = request.app.state.intake
    return intake


IntakeDep = Annotated[Intake, Depends(get_intake)]

STATUS_CODES = {"rejected": 422, "duplicate": 200, "threaded": 200}

CHANNEL_CHARS = 40
"""The intake tables' source column: an unknown channel is kept as a reject under its name."""


@router.post(
    "/helpdesk",
    response_model=EventOutcome,
    summary="Signed helpdesk webhook (RT payload or the generic HelpdeskEvent)",
    responses={401: {"description": "Missing, bad or stale signature"}},
)
async def helpdesk_webhook(
    request: Request,
    intake: IntakeDep,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> EventOutcome:
    """Verify the HMAC signature, dedupe by event id, triage 'created', hand over the rest."""
    body = await request.body()
    return await run_in_threadpool(intake.webhook.receive, body, timestamp, signature)


@router.post(
    "/{channel}",
    status_code=202,
    summary="Submit one payload of a channel: email (message/rfc822), chat, web, api (JSON)",
    responses={
        200: {"description": "Duplicate, or a reply threaded into its ticket"},
        409: {"description": "The same idempotency key was sent before with another body"},
        422: {"description": "Rejected; the payload is kept with the reasons"},
        429: {"description": "Queue full; Retry-After says when to come back"},
    },
)
async def submit(
    channel: Annotated[str, Path(max_length=CHANNEL_CHARS)],
    request: Request,
    caller: IntakeCaller,
    intake: IntakeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Adapt, validate and queue; the decision follows on GET /v1/tickets/{id}.

    Sent again after its triage failed for good (status ``failed``), the same ticket is tried
    again, as on POST /v1/tickets: its open dead letter is replayed in the sender's name.
    """
    body = await request.body()
    result = await run_in_threadpool(intake.flow.submit, channel, body, caller, idempotency_key)
    if result.status == "duplicate" and result.ticket_id is not None:
        await run_in_threadpool(intake.resubmitted, result.ticket_id, channel, caller.name)
    return _answer(result)


@router.get("/rejects", response_model=list[Reject], summary="Rejected and quarantined payloads")
def list_rejects(
    caller: Reader, intake: IntakeDep, verdict: RejectVerdict | None = None, limit: int = 100
) -> list[Reject]:
    """Newest first, with reasons (GET one for the payload); a helpdesk key sees its own."""
    return intake.rejects.list(verdict, max(1, min(limit, 1000)), caller.submitter_scope)


@router.get("/rejects/{reject_id}", response_model=Reject, summary="One kept payload")
def get_reject(reject_id: RowId, caller: Reader, intake: IntakeDep) -> Reject:
    """The payload as received, the reasons and the adapted ticket when there was one."""
    reject = intake.rejects.get(reject_id)
    caller.require_submitter(reject.submitted_by, "payloads")
    return reject


class ReleaseIn(BaseModel):
    """Send a kept payload on to triage: its ticket as adapted, or a fixed one."""

    model_config = ConfigDict(extra="forbid")
    ticket: dict[str, Any] | None = Field(
        default=None, description="The ticket's fields to change; the others stay as adapted"
    )


@router.post(
    "/rejects/{reject_id}/release", summary="Send a quarantined or rejected payload to triage"
)
async def release_reject(
    reject_id: RowId, caller: Reviewer, intake: IntakeDep, body: ReleaseIn | None = None
) -> JSONResponse:
    """Queue its ticket (or the fixed one) once; the checks that held it are not run again."""
    fixed = body.ticket if body else None
    return _answer(await run_in_threadpool(intake.flow.release, reject_id, caller.name, fixed))


def _answer(result: IntakeResult) -> JSONResponse:
    status = STATUS_CODES.get(result.status, 202)
    headers = {"Location": result.url} if result.url else {}
    return JSONResponse(result.model_dump(mode="json"), status_code=status, headers=headers)
