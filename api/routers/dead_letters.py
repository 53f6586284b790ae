"""/v1/dead-letters: list (highest impact first), inspect, replay (optionally fixed), discard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KeyFirstRoute, Reviewer, RowId
from api.intake.dlq import DeadLetter, DeadLetterState
from api.routers.intake import IntakeDep

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"], route_class=KeyFirstRoute)


class ReplayIn(BaseModel):
    """Replay as is, or with a corrected canonical ticket."""

    model_config = ConfigDict(extra="forbid")
    ticket: dict[str, Any] | None = Field(
        default=None, description="The ticket's fields to change; the others stay as stored"
    )


class DiscardIn(BaseModel):
    """Why the dead letter is dropped (kept on the row and logged)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2_000)


@router.get("", response_model=list[DeadLetter], summary="Dead letters, highest impact first")
def list_dead_letters(
    caller: Reviewer, intake: IntakeDep, state: DeadLetterState = "open", limit: int = 100
) -> list[DeadLetter]:
    """Biggest account, most urgent, oldest first."""
    return intake.dead_letters.list(state, max(1, min(limit, 1000)))


@router.get("/{letter_id}", response_model=DeadLetter, summary="One dead letter, with payload")
def get_dead_letter(letter_id: RowId, caller: Reviewer, intake: IntakeDep) -> DeadLetter:
    """The error, the attempts, the original payload and the canonical ticket."""
    return intake.dead_letters.get(letter_id)


@router.post("/{letter_id}/replay", response_model=DeadLetter, summary="Queue it again")
async def replay(
    letter_id: RowId, caller: Reviewer, intake: IntakeDep, body: ReplayIn | None = None
) -> DeadLetter:
    """Back to the queue, with the fixed ticket if one is given; attempts start afresh."""
    fixed = body.ticket if body else None
    return await run_in_threadpool(intake.actions.replay, letter_id, caller.name, fixed)


@router.delete("/{letter_id}", response_model=DeadLetter, summary="Discard it, with a reason")
def discard(letter_id: RowId, body: DiscardIn, caller: Reviewer, intake: IntakeDep) -> DeadLetter:
    """Closed for good; who and why are kept and logged."""
    return intake.actions.discard(letter_id, caller.name, body.reason)
