"""The triage runs of this process's intake workers, and who settles each one's outcome.

Python cannot stop a thread: a run hung past TRIAGE_INTAKE_MAX_RUN_S (an endpoint that never
answers) is given up instead. Its outcome is then settled by the give-up (the ticket retried or
dead-lettered), and whatever the hung thread comes back with later is dropped. Exactly one of
the two settles it: the run, by claiming its outcome before storing it, or the give-up; the
first one wins under the run's lock, and the run's lease is extended under the same lock only
while it is not given up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from api.intake.queue import Delivery


class RunGivenUp(Exception):
    """The run went past its time limit and was given up: its late outcome is dropped."""


class Run:
    """One delivery's triage run in progress."""

    def __init__(self, delivery: Delivery, attempt: int, release: Callable[[], None]) -> None:
        self.delivery, self.attempt = delivery, attempt
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.given_up = False
        self._settled = False
        self.handed_back = threading.Event()  # set once a give-up settled the delivery
        # Ends what the run holds in this process besides its thread (its urgent-work count).
        self.release = release

    def settle(self) -> bool:
        """Claim the run's outcome for the run itself; False once it was given up."""
        with self.lock:
            if self.given_up:
                return False
            self._settled = True
            return True

    def keep(self) -> None:
        """As ``settle``, raising RunGivenUp once it was given up (TriageService's
        ``before_outcome``)."""
        if not self.settle():
            raise RunGivenUp(f"the run of {self.delivery.item.ticket_id} was given up")

    def give_up(self) -> bool:
        """Claim the outcome for the give-up; False when the run is storing its own or ended."""
        with self.lock:
            if self._settled or self.given_up:
                return False
            self.given_up = True
        self.release()
        return True


class Runs:
    """The runs in progress, by delivery token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}

    def add(self, run: Run) -> None:
        """A run starts."""
        with self._lock:
            self._runs[run.delivery.token] = run

    def remove(self, run: Run) -> None:
        """A run ended (its thread came back)."""
        with self._lock:
            if self._runs.get(run.delivery.token) is run:
                del self._runs[run.delivery.token]

    def get(self, delivery: Delivery) -> Run | None:
        """The delivery's run while its thread is in it."""
        with self._lock:
            return self._runs.get(delivery.token)
