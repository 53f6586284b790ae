"""Assemble the intake for one app (or one worker process) from the service's parts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.errors import ConflictError
from api.db import urgent_writes
from api.deps import Services
from api.hooks import HelpdeskEventHandler
from api.intake.dlq import DeadLetters
from api.intake.events import HelpdeskWebhook
from api.intake.flow import IntakeFlow
from api.intake.health import SourceCollector, SourceHealth, SourceState
from api.intake.options import IntakeOptions
from api.intake.queue import Delivery, IntakeQueue, outside_database
from api.intake.records import IntakeRecords
from api.intake.recovery import Republisher, adopt, recover
from api.intake.rejects import Rejects
from api.intake.replay import DeadLetterActions
from api.intake.runner import IntakeRunner
from api.intake.sqlqueue import SqlQueue
from api.intake.urgency import UrgentWork
from api.intake.validation import load_profiles
from api.intake.workers import Get, IntakeWorkers
from api.tables import utcnow

log = logging.getLogger(__name__)


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without a zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def make_queue(services: Services, options: IntakeOptions) -> IntakeQueue:
    """The configured backend: the embedded table, or RabbitMQ."""
    if options.intake_queue == "rabbitmq":
        from api.intake.rabbit import RabbitQueue

        return RabbitQueue(
            options.broker_url,
            options.broker_queue,
            options.intake_queue_size,
            options.urgent_capacity,
        )
    return SqlQueue(
        services.db, options.intake_queue_size, options.urgent_capacity, options.intake_lease_s
    )


def _urgent_lane(queue: IntakeQueue) -> Get | None:
    """Urgent-only claims where the backend can make them (the embedded queue)."""
    if not isinstance(queue, SqlQueue):
        return None
    embedded = queue

    def claim_urgent(timeout_s: float) -> Delivery | None:
        with urgent_writes():
            return embedded.get(timeout_s, urgent_only=True)

    return claim_urgent


@dataclass
class Intake:
    """Everything of the intake one app or worker process uses."""

    options: IntakeOptions
    queue: IntakeQueue
    records: IntakeRecords
    rejects: Rejects
    dead_letters: DeadLetters
    actions: DeadLetterActions
    health: SourceHealth
    flow: IntakeFlow
    runner: IntakeRunner
    workers: IntakeWorkers
    webhook: HelpdeskWebhook
    handlers: dict[str, HelpdeskEventHandler] = field(default_factory=dict)
    republisher: Republisher | None = None  # on a broker

    def start(self) -> None:
        """Queue what a crash stranded, then start the worker threads."""
        # The embedded queue tells a stranded ticket by its missing row (same database); a
        # broker's by its put never confirmed (api.intake.recovery).
        recovered = 0
        if isinstance(self.queue, SqlQueue):
            recovered = recover(self.flow)
        elif self.republisher is not None:
            recovered = self.republisher.start()
        if recovered:
            log.warning("intake: %d stored but unqueued tickets queued again", recovered)
        if self.options.intake_workers:
            self.workers.start()

    def resubmitted(
        self, ticket_id: str, source: str, by: str, reason: str = "resubmitted by its sender"
    ) -> None:
        """Its sender sent a ticket again: if its triage failed, try it again where that helps.

        A ticket that did not fail is left as it is. Its open dead letter is replayed, recorded
        as replayed by ``by`` for ``reason`` (the sender's resend; the helpdesk opening the
        ticket again is one too); a ticket that failed outside the intake (no record of it) is
        queued through it. A dead letter a reviewer discarded stays closed, and an intake ticket
        with no open dead letter has a retry due already: both are left as they are.
        """
        if self.flow.store.status(ticket_id) != "failed":
            return
        letter = self.dead_letters.latest(ticket_id)
        if letter is not None and letter.state == "open":
            # The urgent headroom is not for routine resends.
            headroom = self.flow.urgent_order(letter.priority)
            try:
                self.actions.replay(letter.id, by, reason=reason, headroom=headroom)
            except ConflictError:
                # Another resend or a reviewer replayed (or discarded) it first: the sender's
                # resend is answered like any other, not refused.
                if self.dead_letters.get(letter.id).state == "open":
                    raise
        elif letter is None and self.records.get(ticket_id) is None:
            adopt(self.flow, ticket_id, source)

    def stuck_s(self, states: list[SourceState]) -> float | None:
        """How long a due ticket has waited with nobody at work, once that is longer than a
        lease: no worker holds a lease and no attempt ended (``states``, every source's health)
        within it. A dead worker process, or workers hung, leave the queue like that. None
        otherwise. On RabbitMQ the wait counts from the first check that found it so."""
        overdue = getattr(self.queue, "overdue_s", None)  # the embedded queue and RabbitMQ
        if overdue is None:
            return None
        waited, bound = overdue(), self.options.intake_lease_s
        if waited is None or waited < bound:
            return None
        ended = [t for s in states for t in (s.last_success_at, s.last_failure_at) if t]
        now = utcnow()
        if any((now - _aware(t)).total_seconds() < bound for t in ended):
            return None  # a worker is at work, between two tickets of a backlog
        return waited

    def stop(self) -> None:
        """Stop the workers, write the counted source health and close the queue."""
        if self.republisher is not None:
            self.republisher.stop()
        self.workers.stop()
        self.health.close()
        self.queue.close()


def build_intake(
    services: Services,
    options: IntakeOptions | None = None,
    handlers: dict[str, HelpdeskEventHandler] | None = None,
    queue: IntakeQueue | None = None,
) -> Intake:
    """The intake on the service's store, agent and metrics."""
    options = options or IntakeOptions.from_settings(services.settings)
    queue = queue or make_queue(services, options)
    db = services.db
    records, rejects, dead = IntakeRecords(db), Rejects(db), DeadLetters(db)
    health = SourceHealth(db, options.intake_failing_after)
    profiles = load_profiles(options.intake_profiles_path)
    urgency = UrgentWork()  # routine admissions and workers step aside for urgent tickets
    flow = IntakeFlow(
        services.store,
        queue,
        records,
        rejects,
        health,
        profiles,
        options,
        lambda: services.engine.policy,
        urgency,
    )
    runner = IntakeRunner(
        services.service, services.store, queue, records, dead, health, options, urgency=urgency
    )
    metrics: Any = services.metrics
    workers = IntakeWorkers(
        queue,
        runner.handle,
        threads=options.intake_workers,
        on_error=lambda kind: metrics.errors.labels(kind=f"intake_{kind}").inc(),
        urgent_lane=_urgent_lane(queue),
        urgency=urgency,
        max_run_s=options.intake_max_run_s,
        give_up=runner.give_up,
    )
    handlers = handlers if handlers is not None else {}
    secret = options.webhook_secret.get_secret_value() if options.webhook_secret else None
    closed = services.settings.helpdesk_closed_statuses
    webhook = HelpdeskWebhook(db, flow, handlers, secret, options.webhook_tolerance_s, closed)
    SourceCollector(health).register(services.metrics.registry)
    return Intake(
        options=options,
        queue=queue,
        records=records,
        rejects=rejects,
        dead_letters=dead,
        actions=DeadLetterActions(dead, services.store, records, queue, flow.urgent_order),
        health=health,
        flow=flow,
        runner=runner,
        workers=workers,
        webhook=webhook,
        handlers=handlers,
        republisher=Republisher(flow) if outside_database(queue) else None,
    )
