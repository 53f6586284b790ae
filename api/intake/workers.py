"""Intake worker threads: take the most urgent delivery, hand it to the runner, repeat.

With an urgent lane (the embedded queue has one) a further thread takes only urgent tickets:
during a spike every worker is busy with a routine ticket, and a P1 would otherwise wait for
one of them to finish it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from api.intake.queue import Delivery, IntakeQueue
from api.intake.urgency import UrgentWork

log = logging.getLogger(__name__)

Get = Callable[[float], Delivery | None]


class IntakeWorkers:
    """A few threads draining an IntakeQueue through ``handle(delivery)``."""

    def __init__(
        self,
        queue: IntakeQueue,
        handle: Callable[[Delivery], object],
        threads: int = 1,
        on_error: Callable[[str], None] | None = None,
        poll_s: float = 0.5,
        urgent_lane: Get | None = None,
        urgency: UrgentWork | None = None,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.on_error = on_error
        self.poll_s = poll_s
        self.urgency = urgency
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._loop,
                args=(queue.get, True),
                name=f"intake-worker-{i}",
                daemon=True,
            )
            for i in range(threads)
        ]
        if threads and urgent_lane is not None:
            self._threads.append(
                threading.Thread(
                    target=self._loop,
                    args=(urgent_lane, False),
                    name="intake-urgent",
                    daemon=True,
                )
            )
        self.started = False

    def start(self) -> None:
        """Start the threads."""
        for thread in self._threads:
            thread.start()
        self.started = True

    @property
    def alive(self) -> bool:
        """True while every thread runs (or none were asked for)."""
        return all(t.is_alive() for t in self._threads) if self.started else False

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current deliveries and stop; queued tickets stay in the queue."""
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        self.started = False

    def _loop(self, get: Get, routine: bool) -> None:
        while not self._stopping.is_set():
            if routine and self.urgency is not None:
                self.urgency.step_aside()  # an urgent ticket in flight goes first
            try:
                delivery = get(self.poll_s)
            except Exception:
                # The queue's store is unreachable: say so, wait, try again.
                log.exception("intake queue get failed")
                self._report("queue")
                self._stopping.wait(1.0)
                continue
            if delivery is None:
                continue
            try:
                self.handle(delivery)
            except Exception:
                log.exception("intake delivery of %s failed", delivery.item.ticket_id)
                self._report("intake")

    def _report(self, kind: str) -> None:
        if self.on_error is not None:
            self.on_error(kind)
