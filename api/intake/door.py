"""The door's admission order: a semaphore whose waiters go in by priority, then arrival."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PriorityDoor:
    """A semaphore whose waiters go in by priority (lowest rank first), then arrival order.

    A FIFO door makes a P1 wait behind every non-urgent request already waiting (a spike of
    thirty concurrent clients meant ~300 ms); here a released slot goes straight to the most
    urgent waiter, so an urgent ticket waits for at most the admissions in progress.
    """

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._order = itertools.count()

    @contextmanager
    def enter(self, rank: int) -> Iterator[None]:
        """Hold one slot for the block; wait first if none is free."""
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                handed = None
            else:
                handed = threading.Event()
                heapq.heappush(self._waiting, (rank, next(self._order), handed))
        if handed is not None:
            handed.wait()  # release() hands its slot to us directly
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._lock:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()
            else:
                self._free += 1
