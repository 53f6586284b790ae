"""In-process workers: a bounded queue of ticket ids and threads that triage them."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from agent.errors import CapacityError, TriageError

log = logging.getLogger(__name__)


ATTEMPTS = 3
"""Tries per ticket before it stays failed (a transient error, e.g. a lost Chroma server)."""
RETRY_BASE_S = 2.0
"""The first retry's delay; each later one waits twice as long."""


class Workers:
    """Runs ``job(ticket_id)`` on a few threads; submitting to a full queue raises CapacityError.

    The bound is the caller's back-pressure, not the queue's: ``requeue`` puts back tickets
    already accepted (a restart's backlog) past it, so a backlog larger than the bound still
    starts, and new submissions are refused until the queue is below the bound again.
    """

    def __init__(
        self,
        job: Callable[[str], None],
        size: int = 1000,
        threads: int = 1,
        on_error: Callable[[str], None] | None = None,
        attempts: int = ATTEMPTS,
        retry_base_s: float = RETRY_BASE_S,
    ) -> None:
        self._job = job
        self.attempts, self.retry_base_s = attempts, retry_base_s
        self._tries: dict[str, int] = {}  # ticket id -> failed attempts so far
        self._size = size
        self._queue: queue.Queue[str] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"triage-worker-{i}", daemon=True)
            for i in range(threads)
        ]
        self._on_error = on_error
        self._busy = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.started = False

    def start(self) -> None:
        """Start the worker threads."""
        for thread in self._threads:
            thread.start()
        self.started = True

    def submit(self, ticket_id: str) -> None:
        """Queue a ticket; CapacityError (429) when the queue is full."""
        with self._lock:
            if self._queue.qsize() >= self._size:
                raise CapacityError("the triage queue is full; retry later", retry_after_s=2.0)
            self._queue.put_nowait(ticket_id)

    def requeue(self, ticket_id: str) -> None:
        """Queue a ticket accepted before (a restart's backlog), whatever the bound."""
        with self._lock:
            self._queue.put_nowait(ticket_id)

    @property
    def depth(self) -> int:
        """Tickets waiting, plus those being triaged now."""
        return self._queue.qsize() + self._busy

    @property
    def alive(self) -> bool:
        """True while every worker thread runs."""
        return self.started and all(t.is_alive() for t in self._threads)

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is drained (tests, shutdown); True when it was."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the current jobs finish and stop the threads; queued ids stay in the store."""
        if not self.started:
            return
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self.started = False

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ticket_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                self._busy += 1
            try:
                self._job(ticket_id)
                self._tries.pop(ticket_id, None)
            except TriageError as exc:
                # The ticket is marked failed with the reason by the job itself.
                log.warning("triage of %s failed: %s", ticket_id, exc)
                self._report(type(exc).__name__)
                self._retry_later(ticket_id)
            except Exception:
                log.exception("triage of %s failed unexpectedly", ticket_id)
                self._report("internal")
                self._retry_later(ticket_id)
            finally:
                with self._lock:
                    self._busy -= 1
                self._queue.task_done()

    def _retry_later(self, ticket_id: str) -> None:
        """Queue a failed ticket again after a growing delay, until its attempts are used up."""
        with self._lock:
            tries = self._tries[ticket_id] = self._tries.get(ticket_id, 0) + 1
        if tries >= self.attempts:
            self._tries.pop(ticket_id, None)
            log.error(
                "triage of %s failed %d times; it stays failed until resubmitted", ticket_id, tries
            )
            return
        delay = self.retry_base_s * 2 ** (tries - 1)
        timer = threading.Timer(delay, self._requeue_unless_stopping, args=(ticket_id,))
        timer.daemon = True
        timer.start()

    def _requeue_unless_stopping(self, ticket_id: str) -> None:
        if not self._stopping.is_set():
            self.requeue(ticket_id)

    def _report(self, kind: str) -> None:
        if self._on_error is not None:
            self._on_error(kind)
