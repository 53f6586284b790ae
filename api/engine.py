"""The agent as the service drives it: one Triager behind a lock, shared by requests and workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from agent.waiting import releasable

if TYPE_CHECKING:  # types only: the command line imports this module and must start fast
    from agent.models import Ticket
    from agent.policy import Policy
    from agent.state import HumanReview
    from agent.triager import TriageResult
    from knowledge.cases import Case
    from knowledge.feedback import Feedback


class Learner(Protocol):
    """The part of the knowledge base the service feeds."""

    def feedback(self, correction: Feedback) -> Case:
        """Store a correction; it takes effect on the next ticket."""
        ...


class TriageEngine(Protocol):
    """What the service needs of agent.triager.Triager (a test fake implements the same)."""

    policy: Policy

    @property
    def kb(self) -> Learner: ...

    def triage(self, ticket: Ticket, thread_id: str | None = None) -> TriageResult:
        """Route one ticket."""
        ...

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        """Resume a run waiting for review."""
        ...

    def decide_held(self, held: TriageResult, ticket: Ticket, review: HumanReview) -> TriageResult:
        """Apply a review to a held decision whose run is gone."""
        ...

    def set_policy(self, policy: Policy) -> None:
        """Activate a policy."""
        ...

    def forget(self, thread_id: str) -> None:
        """Drop a finished run's checkpoints."""
        ...


class EngineLock:
    """The engine's re-entrant lock, knowing how deep each thread holds it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._held = threading.local()

    def __enter__(self) -> None:
        self._lock.acquire()
        self._held.depth = self._depth() + 1

    def __exit__(self, *_: object) -> None:
        self._held.depth -= 1
        self._lock.release()

    def _depth(self) -> int:
        depth: int = getattr(self._held, "depth", 0)
        return depth

    @contextmanager
    def let_go(self) -> Iterator[None]:
        """Give the lock up for the block where this thread holds it once, and take it again
        after. Held deeper (a dry-run's two runs in one hold, an action of ``exclusive``), or
        not by this thread, it stays as it is: the holder asked for nothing to come between."""
        if self._depth() != 1:
            yield
            return
        self.__exit__()
        try:
            yield
        finally:
            self.__enter__()


class LockedEngine:
    """Serialises calls into the Triager, but for a ticket's wait for the LLM.

    The graph, the router's incremental state and the checkpointer are shared by every request;
    on 2 cores running two graphs at once gains nothing (the embedder already uses both), while a
    feedback landing mid-triage must not be half-seen. HTTP parsing, auth and database writes
    still run concurrently outside the lock.

    A run gives the lock up while it waits for the LLM's answer (``agent.waiting``) and takes it
    again for the steps after, so other tickets, feedback, refits and policy changes are not held
    up by a slow server. The run has by then read everything it reads of the knowledge base and
    router, and its remaining steps read only its own state, the policy it started under and the
    live loads: whatever lands during the wait acts from the next ticket, as if it came after.
    Inside ``held()`` (a dry-run) the lock is kept across the wait.
    """

    def __init__(self, triager: TriageEngine, lock: EngineLock | None = None) -> None:
        self.triager = triager
        self._lock = lock or EngineLock()

    def sibling(self, triager: TriageEngine) -> LockedEngine:
        """Another engine behind the same lock (a dry-run must not race live feedback)."""
        return LockedEngine(triager, self._lock)

    @property
    def policy(self) -> Policy:
        """The active policy."""
        return self.triager.policy

    def triage(self, ticket: Ticket, thread_id: str) -> TriageResult:
        """Route one ticket; a finished run's checkpoints go (the store keeps the audit)."""
        with self._lock, releasable(self._lock.let_go):
            result = self.triager.triage(ticket, thread_id=thread_id)
            if not result.decision.needs_review:
                self.triager.forget(thread_id)
            return result

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        """Resume a waiting run with a human's decision."""
        with self._lock:
            result = self.triager.resume(thread_id, review)
            self.triager.forget(thread_id)
            return result

    def decide_held(
        self, thread_id: str, held: TriageResult, ticket: Ticket, review: HumanReview
    ) -> TriageResult:
        """Decide a held ticket whose run is gone from its stored held decision."""
        with self._lock:
            result = self.triager.decide_held(held, ticket, review)
            self.triager.forget(thread_id)  # a finished run's checkpoints, if they were kept
            return result

    def forget(self, thread_id: str) -> None:
        """Drop a run nobody will resume (a held ticket closed in the helpdesk). A review of it
        reopened later is decided from its stored held decision, as for a run that is gone."""
        with self._lock:
            self.triager.forget(thread_id)

    def learn(self, feedback: Feedback) -> Case:
        """Feed a correction into the knowledge base."""
        with self._lock:
            return self.triager.kb.feedback(feedback)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the engine for several steps: a correction learned here and stored in the
        database before the next one is learned, so both take them in the same order. A run
        inside keeps it while it waits for the LLM."""
        with self._lock:
            yield

    def observe_stored(self, case_ids: list[str]) -> list[str]:
        """Let the router observe cases another process learned; returns the ids not stored.
        A knowledge base that cannot (a test fake) has nothing to observe."""
        observe = getattr(self.triager.kb, "observe_stored", None)
        if observe is None:
            return []
        with self._lock:
            missing: list[str] = observe(case_ids)
            return missing

    def set_policy(self, policy: Policy) -> None:
        """Activate a policy for every later ticket."""
        with self._lock:
            self.triager.set_policy(policy)

    def exclusive(self, action: Callable[[], None]) -> None:
        """Run ``action`` while no ticket is being routed (a refit swaps the router here)."""
        with self._lock:
            action()


def fork_triager(live: TriageEngine, policy: Policy) -> TriageEngine:
    """A second Triager with another policy, sharing the live one's knowledge base and loads."""
    from agent.triager import Triager, memory_checkpointer

    if not isinstance(live, Triager):
        raise TypeError(f"cannot fork a {type(live).__name__}; pass a fork function to create_app")
    return Triager(
        settings=live.settings,
        policy=policy,
        kb=live.kb,
        llm=live.llm,
        loads=live.loads,
        checkpointer=memory_checkpointer(),
        shadow=True,
    )
