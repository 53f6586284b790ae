"""Urgent work in flight in this process, and routine work stepping aside for it.

Under a spike the door's request threads and the workers share one interpreter: a P1's
admission and triage run at the speed the routine tickets around it leave them. While an urgent
ticket is being admitted or triaged, routine admissions and routine workers wait before starting
their next ticket (never in the middle of one, so nothing they hold can block the urgent work),
for at most ``max_wait_s``: a stream of urgent tickets slows routine work down, it never stops it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_WAIT_S = 0.25


class UrgentWork:
    """A count of urgent tickets in flight that routine work waits on between tickets."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self._clear = threading.Condition()
        self._active = 0

    @property
    def active(self) -> int:
        """Urgent tickets being admitted or triaged now."""
        with self._clear:
            return self._active

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count the block as urgent work in flight."""
        release = self.hold()
        try:
            yield
        finally:
            release()

    def hold(self) -> Callable[[], None]:
        """Count urgent work in flight until the returned release is first called (later calls
        do nothing): a run given up stops counting though its hung thread goes on."""
        with self._clear:
            self._active += 1
        released = threading.Event()

        def release() -> None:
            with self._clear:
                if released.is_set():
                    return
                released.set()
                self._active -= 1
                if not self._active:
                    self._clear.notify_all()

        return release

    def step_aside(self) -> bool:
        """Before a routine ticket: wait while urgent work runs (bounded); True if it waited."""
        with self._clear:
            if not self._active:
                return False
            self._clear.wait_for(lambda: not self._active, timeout=self.max_wait_s)
            return True
