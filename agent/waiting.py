"""Waiting on the network without holding up the caller: its lock let go for the wait.

A caller that runs the graph behind a lock (the service's engine, ``api.engine``) lets a node
give the lock up while it waits on a server (the LLM call) and take it again after, so other
tickets, feedback, refits and policy changes go on meanwhile. Run without such a caller (the
command line, evals, tests of the graph), the wait is a plain call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

Release = Callable[[], AbstractContextManager[None]]
"""Gives the caller's lock up for the length of its block (or keeps it, where it must)."""

_RELEASE: ContextVar[Release | None] = ContextVar("triage_release", default=None)


@contextmanager
def releasable(release: Release) -> Iterator[None]:
    """Within the block, a node's wait on the network runs inside ``release()``."""
    token = _RELEASE.set(release)
    try:
        yield
    finally:
        _RELEASE.reset(token)


def waiting() -> AbstractContextManager[None]:
    """Around a wait on the network: the caller's lock let go for it, where the caller allows."""
    release = _RELEASE.get()
    return nullcontext() if release is None else release()
