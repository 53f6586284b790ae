"""IntakeRunner: the workers' side of the flow. Triage a delivery, retry it, or dead-letter it.

One delivery: own the ticket's run (a second delivery of a ticket being triaged waits), count
the attempt, triage through TriageService (which skips decided tickets and tells the decision
listeners once), then ack. While the run goes on, its lease and the delivery's are extended
every quarter of TRIAGE_INTAKE_LEASE_S, so a run longer than the lease (a slow LLM call) stays
its worker's; a worker that died loses both after the lease. A run past TRIAGE_INTAKE_MAX_RUN_S
(an endpoint that never answers) is given up by the worker pool: it counts as a failed attempt,
its lease is no longer extended and its late outcome is dropped (api.intake.runs). Failures
retry with exponential backoff and jitter; input errors, a stored ticket that no longer loads
and exhausted attempts go to the dead-letter store with the error, attempts and payload."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
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
from api.intake.runs import Run, RunGivenUp, Runs
from api.intake.urgency import UrgentWork
from api.service import TriageService
from api.store import TicketStore

log = logging.getLogger(__name__)

Handled = Literal["decided", "retry", "dead", "busy", "gone", "given up"]
# How long the thread of a given-up run waits for the give-up to settle its delivery (a
# broker that blocks publishers holds a put for 10 s).
HAND_BACK_WAIT_S = 60.0
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
        self.runs = Runs()

    def handle(self, delivery: Delivery) -> Handled:
        """Process one delivery; never raises for a ticket's own failure."""
        if not delivery.item.urgent:
            return self._handle(delivery, _nothing)
        # An urgent ticket's writes go before those of the routine tickets around it, and
        # routine workers wait before their next ticket until it is done (or given up).
        release = self.urgency.hold()
        try:
            with urgent_writes():
                return self._handle(delivery, release)
        finally:
            release()

    def _handle(self, delivery: Delivery, release: Callable[[], None]) -> Handled:
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
        run = Run(delivery, attempt.attempts, release)
        self.runs.add(run)
        try:
            return self._run(run)
        finally:
            self.runs.remove(run)

    def _run(self, run: Run) -> Handled:
        delivery = run.delivery
        ticket_id, source = delivery.item.ticket_id, delivery.item.source
        try:
            with self._alive(run):
                self.service.process(ticket_id, before_outcome=run.keep)
        except RunGivenUp:
            return self._late(run)
        except NotFoundError:
            if not run.settle():
                return self._late(run)
            self.records.end_attempt(ticket_id)
            self.queue.ack(delivery)
            return "gone"
        except Exception as exc:
            if not run.settle():
                return self._late(run)
            unloadable = self._unloadable(ticket_id, exc)
            error = (unloadable or f"{type(exc).__name__}: {exc}")[:2000]
            self.health.failure(source, error)
            if unloadable is not None or isinstance(exc, PERMANENT):
                return self._dead(delivery, error, run.attempt)
            return self._failed(delivery, error, run.attempt)
        if not run.settle():  # a decided ticket's listeners told late: all is stored already
            return self._late(run)
        self.records.end_attempt(ticket_id)
        self.health.success(source)
        self.queue.ack(delivery)
        return "decided"

    def _failed(self, delivery: Delivery, error: str, attempts: int) -> Handled:
        """A failed attempt: retried after a backoff, or dead-lettered once it was the last."""
        ticket_id = delivery.item.ticket_id
        if attempts >= self.options.intake_max_attempts:
            return self._dead(delivery, error, attempts)
        self.records.end_attempt(ticket_id, error)
        delay = backoff_s(
            attempts,
            self.options.intake_backoff_base_s,
            self.options.intake_backoff_cap_s,
            self.rng,
        )
        log.info(
            "ticket %s attempt %d failed (%s); retry in %.1f s", ticket_id, attempts, error, delay
        )
        self.queue.retry(delivery, delay)
        return "retry"

    def give_up(self, delivery: Delivery) -> bool:
        """Give up the delivery's run, past TRIAGE_INTAKE_MAX_RUN_S: it is a failed attempt
        (retried, or dead-lettered when it was the last) and the run's late outcome is dropped.
        False when the run ended meanwhile or is storing its outcome."""
        run = self.runs.get(delivery)
        if run is None or not run.give_up():
            return False
        try:
            ticket_id, limit = delivery.item.ticket_id, self.options.intake_max_run_s
            error = (
                f"the triage run took longer than TRIAGE_INTAKE_MAX_RUN_S ({limit:g} s): given up"
            )
            log.warning("ticket %s attempt %d: %s", ticket_id, run.attempt, error)
            self.health.failure(delivery.item.source, error)
            if run.attempt < self.options.intake_max_attempts:
                # As a run that failed would have left it (the dead-lettered one is failed too).
                self.store.set_status(ticket_id, "failed", error)
            self._failed(delivery, error, run.attempt)
        finally:
            run.handed_back.set()
        return True

    def _late(self, run: Run) -> Handled:
        """The thread of a given-up run came back: its outcome is dropped, as settled.

        It waits for the give-up to have retried or dead-lettered the delivery: on a broker that
        is done on this thread's connection, which the thread must not take back before."""
        if not run.handed_back.wait(HAND_BACK_WAIT_S):
            log.warning("ticket %s: its give-up is still settling it", run.delivery.item.ticket_id)
        waited = time.monotonic() - run.started
        log.warning(
            "ticket %s: the outcome of its given-up run came after %.0f s and was dropped",
            run.delivery.item.ticket_id,
            waited,
        )
        return "given up"

    def _alive(self, run: Run) -> AbstractContextManager[None]:
        """Extend the run's lease and the delivery's every quarter of them while it runs and
        is not given up (a given-up run's ticket is settled: retried or dead-lettered)."""
        lease_s = self.options.intake_lease_s
        delivery = run.delivery

        def extend() -> None:
            with run.lock:
                if run.given_up:
                    return
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


def _nothing() -> None:
    """What a routine run holds besides its thread: nothing to release."""
