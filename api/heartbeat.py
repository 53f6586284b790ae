"""Signs of life of a triage run in progress, for the processes that would otherwise take it over.

Start-up adoption (api.adoption) takes an unfinished ticket outside the intake once its row has
not been written for TRIAGE_ADOPT_AFTER_S; an intake worker takes a ticket whose run lease
(TRIAGE_INTAKE_LEASE_S) ran out. A run longer than that bound (a slow LLM call) is alive all the
same: while it lasts, ``pulse`` writes its sign of life (the row, the lease) every quarter of the
bound, so only a run whose process is gone goes quiet for the whole bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

BEATS_PER_BOUND = 4
THREAD_PREFIX = "heartbeat"


def every_s(bound_s: float) -> float:
    """The period of the signs of life that keep a run from being taken after ``bound_s``."""
    return bound_s / BEATS_PER_BOUND


@contextmanager
def pulse(beat: Callable[[], object], period_s: float, name: str) -> Iterator[None]:
    """Call ``beat`` every ``period_s`` in a thread of its own while the block runs.

    The thread ends with the block however it ends (a result, an exception, a cancellation),
    and a beat under way is waited for: none is written after the block, where the run's end
    may already have been recorded. A failing beat is logged and the next one tried; the run
    it watches goes on.
    """
    stop = threading.Event()

    def beating() -> None:
        while not stop.wait(period_s):
            try:
                beat()
            except Exception as exc:
                log.warning("sign of life of %s not written: %s: %s", name, type(exc).__name__, exc)

    thread = threading.Thread(target=beating, name=f"{THREAD_PREFIX} {name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
