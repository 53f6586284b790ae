"""Fakes on the real interfaces: an engine that fails on cue, a listener that records calls."""

from __future__ import annotations

import threading

from agent.errors import UpstreamError
from agent.models import Ticket
from agent.policy import Policy
from agent.triager import TriageResult
from api.intake.standin import CheapStandInEngine


class CuedEngine(CheapStandInEngine):
    """The stand-in engine, failing on cue words: FLAKY fails twice (upstream), POISON always."""

    def __init__(self, policy: Policy, delay_s: float = 0.0) -> None:
        super().__init__(policy, delay_s)
        self.failures: dict[str, int] = {}
        self.order: list[str] = []

    def triage(self, ticket: Ticket, thread_id: str | None = None) -> TriageResult:
        key = thread_id or ticket.id
        if "POISON" in ticket.text:
            raise RuntimeError("engine crashed on this ticket")
        if "FLAKY" in ticket.text and self.failures.get(key, 0) < 2:
            self.failures[key] = self.failures.get(key, 0) + 1
            raise UpstreamError("the LLM endpoint timed out")
        self.order.append(ticket.subject)
        return super().triage(ticket, thread_id)


class RecordingListener:
    """A DecisionListener that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def on_decision(self, ticket_id: str, ticket: Ticket, result: TriageResult) -> None:
        with self._lock:
            self.calls.append((ticket_id, result.decision.team))
