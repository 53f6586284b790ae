"""Intake worker threads: take the most urgent delivery, hand it to the runner, repeat.

With an urgent lane (the embedded queue has one) a further thread takes only urgent tickets:
during a spike every worker is busy with a routine ticket, and a P1 would otherwise wait for
one of them to finish it.

A run longer than ``max_run_s`` (TRIAGE_INTAKE_MAX_RUN_S: an endpoint that never answers) is
handed to ``give_up`` (the runner settles its ticket: retried or dead-lettered) and, since a
thread cannot be stopped, a new thread takes the hung one's place; the hung one ends when its
run comes back. At most as many hung threads are stood in for as the pool has threads of that
kind (routine workers, urgent lane): a dependency that hangs every run gains nothing from more
threads, and ``stuck`` (shown by /readyz) then tells that no worker is free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.intake.queue import Delivery, IntakeQueue
from api.intake.urgency import UrgentWork

log = logging.getLogger(__name__)

Get = Callable[[float], Delivery | None]
WATCH_EVERY_S = 1.0  # at most; a short limit is watched four times per limit


@dataclass(frozen=True)
class StuckRun:
    """A run past the time limit whose thread has not come back."""

    ticket_id: str
    running_s: float
    stood_in: bool  # another thread took its place


@dataclass(eq=False)
class _Slot:
    """One worker thread and the run it is in."""

    get: Get
    routine: bool
    thread: threading.Thread | None = None
    delivery: Delivery | None = None
    since: float = 0.0
    given_up: Delivery | None = None  # the delivery handed to give_up, once
    replaced: bool = False  # a new thread took its place: this one ends after its run


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
        max_run_s: float | None = None,
        give_up: Callable[[Delivery], object] | None = None,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.on_error = on_error
        self.poll_s = poll_s
        self.urgency = urgency
        self.max_run_s = max_run_s
        self.give_up = give_up
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._slots = [_Slot(queue.get, True) for _ in range(threads)]
        if threads and urgent_lane is not None:
            self._slots.append(_Slot(urgent_lane, False))
        self._kinds = {kind: sum(s.routine is kind for s in self._slots) for kind in (True, False)}
        self._count = 0
        for slot in self._slots:
            self._thread(slot)
        self._watch: threading.Thread | None = None
        if self._slots and max_run_s is not None and give_up is not None:
            self._watch = threading.Thread(target=self._watching, name="intake-watch", daemon=True)
        self.started = False

    def _thread(self, slot: _Slot) -> threading.Thread:
        name = f"intake-worker-{self._count}" if slot.routine else f"intake-urgent-{self._count}"
        self._count += 1
        slot.thread = threading.Thread(target=self._loop, args=(slot,), name=name, daemon=True)
        return slot.thread

    def start(self) -> None:
        """Start the threads."""
        for slot in self._slots:
            assert slot.thread is not None
            slot.thread.start()
        if self._watch is not None:
            self._watch.start()
        self.started = True

    @property
    def alive(self) -> bool:
        """True while every thread runs (or none were asked for); a hung one stood in for
        counts by its stand-in."""
        if not self.started:
            return False
        with self._lock:
            current = [s.thread for s in self._slots if not s.replaced]
        return all(t is not None and t.is_alive() for t in current)

    def stuck(self) -> list[StuckRun]:
        """Runs past the time limit still in their threads, longest first."""
        if self.max_run_s is None:
            return []
        now = time.monotonic()
        with self._lock:
            runs = [
                StuckRun(s.delivery.item.ticket_id, now - s.since, s.replaced)
                for s in self._slots
                if s.delivery is not None and now - s.since > self.max_run_s
            ]
        return sorted(runs, key=lambda r: -r.running_s)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current deliveries and stop; queued tickets stay in the queue. A hung
        thread stood in for is not waited for (its run was given up)."""
        self._stopping.set()
        with self._lock:
            threads = [s.thread for s in self._slots if not s.replaced]
        for thread in threads:
            if thread is not None and thread.is_alive():
                thread.join(timeout)
        if self._watch is not None and self._watch.is_alive():
            self._watch.join(timeout)
        self.started = False

    def _loop(self, slot: _Slot) -> None:
        while not self._stopping.is_set() and not slot.replaced:
            if slot.routine and self.urgency is not None:
                self.urgency.step_aside()  # an urgent ticket in flight goes first
            try:
                delivery = slot.get(self.poll_s)
            except Exception:
                # The queue's store is unreachable: say so, wait, try again.
                log.exception("intake queue get failed")
                self._report("queue")
                self._stopping.wait(1.0)
                continue
            if delivery is None:
                continue
            with self._lock:
                slot.delivery, slot.since = delivery, time.monotonic()
            try:
                self.handle(delivery)
            except Exception:
                log.exception("intake delivery of %s failed", delivery.item.ticket_id)
                self._report("intake")
            finally:
                with self._lock:
                    slot.delivery = None
                    if slot.replaced:  # its stand-in works on; this thread ends here
                        self._slots.remove(slot)

    def _watching(self) -> None:
        assert self.max_run_s is not None
        every = min(WATCH_EVERY_S, self.max_run_s / 4)
        while not self._stopping.wait(every):
            try:
                self._give_up_overdue()
            except Exception:
                log.exception("intake run watch failed")
                self._report("intake")

    def _give_up_overdue(self) -> None:
        """Hand runs past the limit to give_up, and stand in for their threads."""
        assert self.max_run_s is not None and self.give_up is not None
        now = time.monotonic()
        overdue: list[Delivery] = []
        stand_ins: list[threading.Thread] = []
        with self._lock:
            for slot in list(self._slots):
                delivery = slot.delivery
                if delivery is None or slot.given_up is delivery or slot.replaced:
                    continue
                if now - slot.since <= self.max_run_s:
                    continue
                slot.given_up = delivery
                overdue.append(delivery)
                hung = sum(s.replaced and s.routine is slot.routine for s in self._slots)
                if hung < self._kinds[slot.routine] and not self._stopping.is_set():
                    slot.replaced = True
                    stand_in = _Slot(slot.get, slot.routine)
                    self._slots.append(stand_in)
                    stand_ins.append(self._thread(stand_in))
        for thread in stand_ins:
            thread.start()
        for delivery in overdue:
            self.give_up(delivery)

    def _report(self, kind: str) -> None:
        if self.on_error is not None:
            self.on_error(kind)
