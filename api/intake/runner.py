"""IntakeRunner: the workers' side of the flow. Triage a delivery, retry it, or dead-letter it.

One delivery: own the ticket's run (a second delivery of a ticket being triaged waits), count
the attempt, triage through TriageService (which skips decided tickets and tells the decision
listeners once), then ack. While the run goes on, its lease and the delivery's are extended
every quarter of TRIAGE_INTAKE_LEASE_S, so a run longer than the lease (a slow LLM call) stays
its worker's; a worker that died loses both after the lease. Failures retry with exponential
backoff and jitter; input errors and exhausted attempts go to the dead-letter store with the
error, attempts and payload."""

from __future__ import annotations

import logging
import random
from contextlib import AbstractContextManager
from typing import Literal

from pydantic import ValidationError

from agent.errors import InputError, NotFoundError, PolicyError, first_problem
from api import heartbeat
from api.db import urgent_writes
from api.intake.dlq import DeadLetters
from api.intake.health import SourceHealth
from api.intake.options import IntakeOptions
from api.intake.queue import Delivery, IntakeQueue, backoff_s
from api.intake.records import IntakeRecords
from api.intake.urgency import UrgentWork
from api.service import TriageService
from api.store import TicketStore

log = logging.getLogger(__name__)

Handled = Literal["decided", "retry", "dead", "busy", "gone"]
# The ticket itself is the problem: retrying cannot help, a person must fix it.
PERMANENT: tuple[type[Exception], ...] = (InputError, PolicyError)


class IntakeRunner:
    """Runs one delivery to its end: decided, retried later, or dead-lettered."""

    def __init__(
        self,
        service: TriageService,
        store: TicketStore,
        queue: IntakeQueue,
        records: IntakeRecords,
        dead_letters: DeadLetters,
        health: SourceHealth,
        options: IntakeOptions,
        rng: random.Random | None = None,
        urgency: UrgentWork | None = None,
    ) -> None:
        self.service, self.store, self.queue = service, store, queue
        self.records, self.dead_letters, self.health = records, dead_letters, health
        self.options = options
        self.rng = rng or random.Random()
        self.urgency = urgency or UrgentWork()

    def handle(self, delivery: Delivery) -> Handled:
        """Process one delivery; never raises for a ticket's own failure."""
        if not delivery.item.urgent:
            return self._handle(delivery)
        # An urgent ticket's writes go before those of the routine tickets around it, and
        # routine workers wait before their next ticket until it is done.
        with self.urgency.running(), urgent_writes():
            return self._handle(delivery)

    def _handle(self, delivery: Delivery) -> Handled:
        ticket_id, source = delivery.item.ticket_id, delivery.item.source
        try:
            attempt = self.records.start_attempt(ticket_id, self.options.intake_lease_s)
        except Exception:
            self.queue.retry(delivery, self.options.intake_backoff_base_s)
            raise
        if attempt is None:
            log.warning("queued ticket %s is not in the store any more; dropped", ticket_id)
            self.queue.ack(delivery)
            return "gone"
        if not attempt.owned:
            # Another worker is triaging this ticket right now: come back when its run ends.
            self.queue.retry(delivery, attempt.wait_s)
            return "busy"
        if attempt.attempts > self.options.intake_max_attempts:
            # Deliveries that never finished (workers killed mid-run) count too: a poison
            # ticket that crashes its worker stops here.
            error = f"gave up after {attempt.attempts - 1} attempts without a result"
            self.health.failure(source, error)  # its source's health shows the crashes too
            return self._dead(delivery, error, attempt.attempts - 1)
        try:
            with self._alive(delivery):
                self.service.process(ticket_id)
        except NotFoundError:
            self.records.end_attempt(ticket_id)
            self.queue.ack(delivery)
            return "gone"
        except Exception as exc:
            unloadable = self._unloadable(ticket_id, exc)
            error = (unloadable or f"{type(exc).__name__}: {exc}")[:2000]
            self.health.failure(source, error)
            permanent = unloadable is not None or isinstance(exc, PERMANENT)
            if permanent or attempt.attempts >= self.options.intake_max_attempts:
                return self._dead(delivery, error, attempt.attempts)
            self.records.end_attempt(ticket_id, error)
            delay = backoff_s(
                attempt.attempts,
                self.options.intake_backoff_base_s,
                self.options.intake_backoff_cap_s,
                self.rng,
            )
            log.info(
                "ticket %s attempt %d failed (%s); retry in %.1f s",
                ticket_id,
                attempt.attempts,
                error,
                delay,
            )
            self.queue.retry(delivery, delay)
            return "retry"
        self.records.end_attempt(ticket_id)
        self.health.success(source)
        self.queue.ack(delivery)
        return "decided"

    def _alive(self, delivery: Delivery) -> AbstractContextManager[None]:
        """Extend the run's lease and the delivery's every quarter of them while it runs."""
        lease_s = self.options.intake_lease_s

        def extend() -> None:
            self.records.extend_attempt(delivery.item.ticket_id, lease_s)
            self.queue.extend(delivery, lease_s)

        return heartbeat.pulse(
            extend, heartbeat.every_s(lease_s), f"lease of {delivery.item.ticket_id}"
        )

    def _unloadable(self, ticket_id: str, exc: Exception) -> str | None:
        """Why the stored ticket no longer loads (its JSON no longer validates against the
        model: stored by another version), when that is what failed; None otherwise."""
        if not isinstance(exc, ValidationError):
            return None
        try:
            self.store.ticket(ticket_id)
        except ValidationError as again:
            return f"the stored ticket no longer loads: {first_problem(again, 'ticket')}"
        except Exception:  # gone or unreachable: the failure is reported as it came
            return None
        return None

    def _dead(self, delivery: Delivery, error: str, attempts: int) -> Handled:
        ticket_id = delivery.item.ticket_id
        record = self.records.get(ticket_id)
        try:
            loaded = self.store.ticket(ticket_id)
            ticket = loaded.model_dump(mode="json")
            channel, tier = str(loaded.channel), loaded.account.tier
        except ValidationError:
            # Kept as stored for a person to inspect, fix on replay or discard: a dead letter
            # that cannot be written would leave its delivery to come back after every lease.
            ticket = self.store.stored(ticket_id)
            channel = record.channel if record else str(ticket.get("channel", "other"))
            tier = record.tier if record else "standard"
        except NotFoundError:
            log.warning("dead-lettered ticket %s is not in the store any more; dropped", ticket_id)
            self.records.end_attempt(ticket_id, error)
            self.queue.ack(delivery)
            return "gone"
        self.dead_letters.add(
            ticket_id=ticket_id,
            source=delivery.item.source,
            channel=channel,
            tier=tier,
            priority=delivery.item.priority,
            error=error,
            attempts=attempts,
            payload=record.raw if record else {},
            ticket=ticket,
        )
        self.store.set_status(ticket_id, "failed", f"dead-lettered: {error}")
        self.records.end_attempt(ticket_id, error)
        self.queue.ack(delivery)
        return "dead"
