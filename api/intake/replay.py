"""Replay and discard of dead letters: the only two ways out of the dead-letter store."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agent.errors import CapacityError, InputError
from agent.models import Ticket
from api.intake.dlq import DeadLetter, DeadLetters
from api.intake.queue import IntakeQueue, QueueItem
from api.intake.records import IntakeRecords
from api.store import TicketStore


class DeadLetterActions:
    """Puts a dead letter back in the queue (optionally fixed) or discards it, both logged."""

    def __init__(
        self,
        dead_letters: DeadLetters,
        store: TicketStore,
        records: IntakeRecords,
        queue: IntakeQueue,
    ) -> None:
        self.dead_letters, self.store = dead_letters, store
        self.records, self.queue = records, queue

    def replay(self, letter_id: int, by: str, fixed: dict[str, Any] | None = None) -> DeadLetter:
        """Queue the ticket again (with a corrected ticket if given); attempts start afresh."""
        letter = self.dead_letters.get(letter_id)
        if letter.state != "open":
            # Checked again atomically by resolve(); this only avoids touching the ticket.
            self.dead_letters.resolve(letter_id, "replayed", by, None)
        if fixed is not None:
            try:
                ticket = Ticket.model_validate({**fixed, "id": letter.ticket_id})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "ticket"
                raise InputError(f"fixed ticket: {where}: {first['msg']}") from None
            self.store.replace_payload(letter.ticket_id, ticket)
        self.records.reset_attempts(letter.ticket_id)
        # Status first: a worker may decide the ticket as soon as it is queued.
        self.store.set_status(letter.ticket_id, "queued")
        try:
            # A person chose to run it now: it may use the urgent headroom.
            self.queue.put(QueueItem(letter.ticket_id, letter.source, letter.priority, True))
        except CapacityError:
            self.store.set_status(letter.ticket_id, "failed", f"dead-lettered: {letter.error}")
            raise
        reason = "replayed with a fixed ticket" if fixed is not None else "replayed as is"
        return self.dead_letters.resolve(letter_id, "replayed", by, reason)

    def discard(self, letter_id: int, by: str, reason: str) -> DeadLetter:
        """Close the dead letter for good; who and why are kept and logged."""
        return self.dead_letters.resolve(letter_id, "discarded", by, reason)
