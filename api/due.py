"""A ticket's open due times, shared by the store (when a decision sets new ones) and the SLA watch.

The first-response due time is open while the ticket waits for a person (review, deciding); the
resolution due time while it is open at all.
"""

from __future__ import annotations

from datetime import datetime

from api.schemas import WAITING_STATUSES


def open_deadlines(
    status: str, first_response_due: datetime | None, resolution_due: datetime | None
) -> list[tuple[str, datetime]]:
    """The deadlines still running for a ticket in ``status``: (name, due time) each."""
    deadlines: list[tuple[str, datetime]] = []
    if status in WAITING_STATUSES and first_response_due is not None:
        deadlines.append(("first_response", first_response_due))
    if resolution_due is not None:
        deadlines.append(("resolution", resolution_due))
    return deadlines


def any_passed(deadlines: list[tuple[str, datetime]], now: datetime) -> bool:
    """Whether a deadline is already past ``now``: breached."""
    return any(now > due for _, due in deadlines)
