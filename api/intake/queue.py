"""The intake queue's interface, shared by the embedded (SQL table) and RabbitMQ backends.

At-least-once: a delivery stays owned by its worker until ``ack`` (done or dead-lettered) or
``retry`` (back in the queue after a delay); a worker whose run goes on ``extend``s its lease
(api.heartbeat), one that dies loses it and the ticket is delivered again. Effects are
idempotent (TriageService skips decided tickets).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class QueueItem:
    """A ticket waiting for triage: its id, source, queue order (0 first) and urgency."""

    ticket_id: str
    source: str
    priority: int
    urgent: bool


@dataclass(frozen=True)
class Delivery:
    """An item handed to a worker, with the backend's handle to ack or retry it."""

    item: QueueItem
    token: str
    redelivered: bool = False


class IntakeQueue(Protocol):
    """Durable, priority-ordered and bounded; ``put`` raises CapacityError when full."""

    def put(self, item: QueueItem, headroom: bool = False) -> None:
        """Enqueue durably; urgent items, and others put with ``headroom`` (a person's replay,
        a ticket accepted before a crash), may use the reserved headroom."""
        ...

    def get(self, timeout_s: float) -> Delivery | None:
        """The most urgent available item, waiting up to timeout_s; None when there is none."""
        ...

    def ack(self, delivery: Delivery) -> None:
        """Done with it (decided or dead-lettered): it leaves the queue."""
        ...

    def retry(self, delivery: Delivery, delay_s: float) -> None:
        """Give it back, to be delivered again after delay_s."""
        ...

    def extend(self, delivery: Delivery, lease_s: float) -> None:
        """Keep it from other workers for lease_s more: its run is still going."""
        ...

    def depth(self) -> int:
        """Items in the queue (waiting or leased)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def outside_database(queue: IntakeQueue) -> bool:
    """Whether the queue lives outside the service's database (a broker, whose
    ``outside_database`` says so): a ticket stored but never put (a crash between the two)
    cannot be told there from one in the queue, so the intake records mark each put until the
    broker confirms it (api.intake.recovery)."""
    return bool(getattr(queue, "outside_database", False))


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, half of it jittered.

    "Equal jitter": half the exponential step is kept so delays still grow, the other half is
    random so tickets that failed together (a dependency outage) do not come back together.
    """
    step = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)
