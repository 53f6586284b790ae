"""A daemon thread that runs one pass, then waits to be woken or for the poll interval."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class PollingThread:
    """Start/stop plumbing shared by the outbox delivery and the resolution back-flow."""

    thread_name = "helpdesk-poll"

    def __init__(self, poll_s: float, wake: threading.Event | None = None) -> None:
        self.poll_s = poll_s
        self.wake = wake or threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # start and stop one at a time: a thread is not alive until it has started, so two
        # callers at once (two POST /v1/kb/refit) each saw none and each started one
        self._starting = threading.Lock()
        self.passes = 0  # passes ended, failed ones included

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (idempotent, also when called from several threads at once)."""
        with self._starting:
            if self.alive:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()  # returns once the thread runs: alive from here on

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop and wait for it; the current pass finishes first."""
        with self._starting:
            self._stop.set()
            self.wake.set()
            if self._thread is not None:
                self._thread.join(timeout_s)
            self._thread = None

    def run_pass(self) -> float:
        """One pass; returns how long to wait before the next (overridden)."""
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.clear()
            try:
                wait = self.run_pass()
            except Exception:
                # The store itself failed (database locked, gone): log and try again later.
                log.exception("%s pass failed", self.thread_name)
                wait = self.poll_s
            self.passes += 1
            self.wake.wait(wait)
