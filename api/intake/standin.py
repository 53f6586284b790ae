"""CheapStandInEngine: NOT the agent. A fast engine on the TriageEngine interface for load tests.

The spike benchmark and the crash test push thousands of tickets through the real queue, store,
workers and listeners; full triage (~10-30 ms a ticket plus model load) would make them take
many minutes on 2 cores, so they may run with this stand-in instead. It routes every ticket to
first line with the door's pre-priority and an optional fixed delay that imitates the cost of
triage. It never learns and never asks for review.
"""

from __future__ import annotations

import threading
import time

from agent.errors import ConflictError
from agent.models import Brief, Ticket, TriageDecision
from agent.policy import Policy
from agent.state import HumanReview
from agent.triager import TriageResult
from api.intake.prepriority import pre_priority
from knowledge.cases import Case
from knowledge.feedback import Feedback


class _NoLearning:
    def feedback(self, correction: Feedback) -> Case:
        raise ConflictError("the cheap stand-in engine does not learn")


class CheapStandInEngine:
    """Stand-in for agent.triager.Triager in load tests; counts its triage calls."""

    def __init__(self, policy: Policy, delay_s: float = 0.0) -> None:
        self.policy = policy
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    @property
    def kb(self) -> _NoLearning:
        """No knowledge base behind it."""
        return _NoLearning()

    def triage(self, ticket: Ticket, thread_id: str | None = None) -> TriageResult:
        """First line, pre-priority, after the configured delay."""
        started = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.calls += 1
        pre = pre_priority(self.policy, ticket)
        decision = TriageDecision(
            ticket_id=thread_id or ticket.id,
            escalate=False,
            team=self.policy.first_line_team,
            tier=1,
            priority=pre.label,
            confidence=0.5,
            decided_by="policy",
            policy_version=self.policy.fingerprint,
            model_version="cheap-stand-in",
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        brief = Brief(
            ticket_id=decision.ticket_id,
            headline=ticket.subject[:120] or ticket.body[:120],
            problem=ticket.body[:500],
            customer=ticket.requester or "unknown",
            decision_summary="cheap stand-in engine: first line at the door's priority",
        )
        return TriageResult(decision=decision, brief=brief)

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        """The stand-in never waits for review."""
        raise ConflictError("the cheap stand-in engine has no waiting runs")

    def decide_held(self, held: TriageResult, ticket: Ticket, review: HumanReview) -> TriageResult:
        """The stand-in holds nothing for review."""
        raise ConflictError("the cheap stand-in engine holds no tickets for review")

    def set_policy(self, policy: Policy) -> None:
        """Use another policy."""
        self.policy = policy

    def forget(self, thread_id: str) -> None:
        """Nothing is checkpointed."""
