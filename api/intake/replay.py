"""Replay and discard of dead letters: the only two ways out of the dead-letter store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from agent.errors import ConflictError, InputError, first_problem
from agent.models import Ticket
from api.intake.dlq import DeadLetter, DeadLetters
from api.intake.options import IntakeOptions
from api.intake.queue import IntakeQueue, QueueItem, outside_database
from api.intake.records import IntakeRecords
from api.schemas import UNFINISHED_STATUSES
from api.store import TicketStore

log = logging.getLogger(__name__)


class DeadLetterActions:
    """Puts a dead letter back in the queue (optionally fixed) or discards it, both logged."""

    def __init__(
        self,
        dead_letters: DeadLetters,
        store: TicketStore,
        records: IntakeRecords,
        queue: IntakeQueue,
        urgent_order: Callable[[int], bool] | None = None,
    ) -> None:
        self.dead_letters, self.store = dead_letters, store
        self.records, self.queue = records, queue
        # A replayed ticket is as urgent as its priority: only urgent ones take the urgent lane.
        self.urgent_order = urgent_order or IntakeOptions().urgent_order

    def replay(
        self,
        letter_id: int,
        by: str,
        fixed: dict[str, Any] | None = None,
        reason: str | None = None,
        headroom: bool = True,
    ) -> DeadLetter:
        """Queue the ticket again (with a corrected ticket if given); attempts start afresh.

        A person's replay may use the urgent headroom; a sender's resend (``headroom`` False for
        a routine ticket) may not. Either way the ticket is queued as urgent as its priority.

        The letter is closed first, atomically: of concurrent replays one queues the ticket and
        the others get a ConflictError. If the ticket cannot be queued, the letter opens again;
        so it does when the ticket is no longer failed (its sender had it triaged again since):
        a replay would triage a decided ticket a second time.
        """
        letter = self.dead_letters.get(letter_id)
        if letter.state != "open":
            raise ConflictError(f"dead letter {letter_id} is already {letter.state}")
        status = self.store.status(letter.ticket_id)
        if status != "failed":
            raise _not_failed(status, letter)
        ticket = None
        if fixed is not None:
            # As stored, not as loaded: the fix may be what makes a ticket that no longer
            # loads (stored by another version) valid again.
            stored = self.store.stored(letter.ticket_id)
            ticket = _fixed_ticket(fixed, stored, letter.ticket_id)
        if reason is None:
            reason = "replayed with a fixed ticket" if fixed is not None else "replayed as is"
        replayed = self.dead_letters.resolve(letter_id, "replayed", by, reason)
        # Status first, and only from failed: a worker may decide the ticket once it is queued.
        if not self.store.retake_failed(letter.ticket_id, "queued"):
            self.dead_letters.reopen(letter_id, "its ticket is no longer failed")
            raise _not_failed(self.store.status(letter.ticket_id), letter)
        try:
            self._requeue(letter, ticket, headroom)
        except Exception as exc:
            # Full, still queued, or the broker unreachable: closed, it would wait in no queue.
            self.store.set_status(letter.ticket_id, "failed", f"dead-lettered: {letter.error}")
            self.dead_letters.reopen(letter_id, str(exc))
            raise
        return replayed

    def _requeue(self, letter: DeadLetter, ticket: Ticket | None, headroom: bool) -> None:
        if ticket is not None:
            self.store.replace_payload(letter.ticket_id, ticket)
        publishing = outside_database(self.queue)
        self.records.reset_attempts(letter.ticket_id, publishing)
        try:
            urgent = self.urgent_order(letter.priority)
            item = QueueItem(letter.ticket_id, letter.source, letter.priority, urgent)
            self.queue.put(item, headroom=headroom)
        except IntegrityError:
            # Its last delivery is not acknowledged yet (the worker is dead-lettering it).
            raise ConflictError(
                f"ticket {letter.ticket_id} is still in the intake queue; replay it again shortly"
            ) from None
        if publishing:
            try:
                self.records.published(letter.ticket_id)
            except Exception:  # queued all the same: see IntakeFlow.published
                log.exception("ticket %s is queued but not marked so", letter.ticket_id)

    def discard(self, letter_id: int, by: str, reason: str) -> DeadLetter:
        """Close the dead letter for good; who and why are kept and logged."""
        return self.dead_letters.resolve(letter_id, "discarded", by, reason)


def _not_failed(status: str, letter: DeadLetter) -> ConflictError:
    """The answer to a replay of a letter whose ticket is not failed: decided since, or still
    being dead-lettered by its worker."""
    advice = "try again shortly" if status in UNFINISHED_STATUSES else "discard the letter"
    return ConflictError(
        f"ticket {letter.ticket_id} of dead letter {letter.id} is {status} now, not failed: "
        f"nothing to replay ({advice})"
    )


def _fixed_ticket(fixed: dict[str, Any], stored: dict[str, Any], ticket_id: str) -> Ticket:
    """The corrected ticket under the dead letter's ticket id; its first error if invalid.

    The fields the fix gives replace the stored ticket's; the others stay: a fix of the text
    keeps the channel and external id (the helpdesk ticket the decision goes back to), the
    account, the arrival time the SLA clock counts from and the replies threaded into it.
    """
    try:
        return Ticket.model_validate({**stored, **fixed, "id": ticket_id})
    except ValidationError as exc:
        raise InputError(f"fixed ticket: {first_problem(exc, 'ticket')}") from None
