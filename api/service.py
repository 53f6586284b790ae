"""The service's use cases: triage now or later (idempotently), review; feedback in api.corrections.

Handlers stay thin: they authenticate, call one method here, and shape the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from agent.errors import ConflictError, InputError, NotFoundError, TriageError
from agent.models import Ticket
from agent.policy import Policy
from agent.state import HumanReview
from agent.triager import TriageResult
from api import heartbeat
from api.auth import Principal
from api.corrections import REVIEWABLE, Corrections
from api.engine import LockedEngine
from api.hooks import DecisionListener
from api.idempotency import external_key as external_key
from api.idempotency import header_key as header_key
from api.idempotency import idempotency_key
from api.ledger import Ledger
from api.loads import DbLoads
from api.metrics import Metrics
from api.review_claim import ReviewClaims
from api.schemas import DECIDED_STATUSES, FeedbackIn, FeedbackOut, ReviewIn
from api.store import Claim, Reviewed, TicketStore

log = logging.getLogger(__name__)

DONE = DECIDED_STATUSES


class TriageService:
    """Claims tickets, runs the agent, records every decision."""

    def __init__(
        self,
        store: TicketStore,
        ledger: Ledger,
        engine: LockedEngine,
        metrics: Metrics,
        loads: DbLoads | None = None,
        replay_wait_s: float = 30.0,
        alive_every_s: float = heartbeat.every_s(120.0),
        follow_policy: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.engine = engine
        self.metrics = metrics
        self.loads = loads
        self.replay_wait_s = replay_wait_s
        # A run in progress writes its row this often: start-up adoption elsewhere leaves it be.
        self.alive_every_s = alive_every_s
        # Takes up a policy version another process activated, before a run or a review.
        self.follow_policy = follow_policy
        self.enrichers: list[Callable[[Ticket], Ticket]] = []
        # Shared with app.state.decision_listeners: plugins append to the same list.
        self.listeners: list[DecisionListener] = []
        # Two reviewers answering one ticket at once, in this process or another on the same
        # database: one claims it (review -> deciding), the other is told it is taken.
        self.claims = ReviewClaims(store.db, alive_every_s * heartbeat.BEATS_PER_BOUND)
        self.corrections = Corrections(store, ledger, engine, loads)

    def triage_now(
        self, ticket: Ticket, header_key: str | None, caller: Principal
    ) -> tuple[dict[str, Any], bool]:
        """Route a ticket at once; a replay gets the first answer. Returns (output, replayed)."""
        claim = self.store.claim(
            ticket, idempotency_key(ticket, header_key, caller), caller.key_id, "triaging"
        )
        if not claim.created and claim.status != "failed":
            return self._wait_for_output(claim), True
        # A failed run of this ticket: run its stored copy again, unless another request (here or
        # in another process) that also found it failed has taken it first; that one answers.
        if not claim.created and not self.store.retake_failed(claim.id):
            return self._wait_for_output(claim), True
        with self._alive(claim.id):
            if not claim.created:
                ticket = self.store.ticket(claim.id)
            return self._run(claim.id, ticket), False

    def process(self, ticket_id: str, before_outcome: Callable[[], None] | None = None) -> None:
        """Triage a stored ticket (the intake workers' job); decided tickets are left alone.

        ``before_outcome`` is called before the run's outcome (its decision, or its failure) is
        stored, and raises to drop it: the intake gave up a run past its time limit, and its
        ticket may have been decided since by another run.
        """
        if self.store.status(ticket_id) in DONE:
            # A redelivery after a crash: finish what the first run may not have (listeners).
            self.notify(ticket_id)
            return
        # No row heartbeat here: the intake owns this ticket, so start-up adoption never takes
        # it, and its runner extends the run's lease while it goes on (api.intake.runner).
        self.store.set_status(ticket_id, "triaging")
        ticket = self.store.ticket(ticket_id)
        for enrich in self.enrichers:  # e.g. the helpdesk's history; each degrades on its own
            ticket = enrich(ticket)
        self._run(ticket_id, ticket, before_outcome)

    def _alive(self, ticket_id: str) -> AbstractContextManager[None]:
        """Write the ticket's row every alive_every_s until the block ends (api.heartbeat)."""
        return heartbeat.pulse(
            lambda: self.store.touch(ticket_id), self.alive_every_s, f"ticket {ticket_id}"
        )

    def _run(
        self, ticket_id: str, ticket: Ticket, before_outcome: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        self.follow_policy()
        started = time.perf_counter()
        keep = before_outcome or (lambda: None)
        try:
            result = self.engine.triage(ticket, thread_id=ticket_id)
        except TriageError as exc:
            keep()
            self.store.set_status(ticket_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        except Exception as exc:
            keep()
            self.store.set_status(ticket_id, "failed", f"internal error ({type(exc).__name__})")
            raise
        keep()
        self.metrics.decision(result.decision, time.perf_counter() - started)
        output = self.store.record(ticket_id, result, actor="agent")
        if self.loads is not None:
            self.loads.assign(result.decision.assignee)
        self.notify(ticket_id, ticket)
        return output

    def notify(self, ticket_id: str, ticket: Ticket | None = None) -> None:
        """Tell every decision listener about the ticket's decisions they have not heard of.

        Stored decisions carry ``notified_at``: a worker killed between storing and telling
        leaves it unset, and the redelivered ticket tells them then (at least once; a listener
        dedupes by ticket id and decided_at if a crash falls between telling and marking).
        """
        pending = self.store.pending_notices(ticket_id)
        if not pending:
            return
        ticket = ticket or self.store.ticket(ticket_id)
        for decision_id, output in pending:
            result = _result_of(output).model_copy(update={"stored_as": decision_id})
            for listener in list(self.listeners):
                try:
                    listener.on_decision(ticket_id, ticket, result)
                except Exception as exc:
                    # Listeners must queue their own deliveries; one that raises is a bug there,
                    # and it must not undo or block the stored decision.
                    self.metrics.errors.labels(kind="decision_listener").inc()
                    log.error("decision listener %r failed on %s: %s", listener, ticket_id, exc)
            self.store.mark_notified(decision_id)

    def _wait_for_output(self, claim: Claim) -> dict[str, Any]:
        deadline = time.monotonic() + self.replay_wait_s
        while True:
            output = self.store.output(claim.id)
            status = self.store.status(claim.id)
            if output is not None and status in DONE:
                return output
            if status == "failed":
                raise ConflictError(
                    f"ticket {claim.id!r} failed to triage; see GET /v1/tickets/{claim.id}"
                )
            if time.monotonic() > deadline:
                raise ConflictError(f"ticket {claim.id!r} is still being triaged; retry shortly")
            time.sleep(0.05)

    def review(self, ticket_id: str, answer: ReviewIn, caller: Principal) -> dict[str, Any]:
        """Apply a reviewer's decision: resume the waiting run, record it, learn from it."""
        # stored with its review, still to learn: learned below, or later by any process
        output, result = self._decide_review(ticket_id, answer, caller)
        if self.loads is not None:
            self.loads.assign(result.decision.assignee)
        self.notify(ticket_id)
        self.metrics.decision(result.decision, 0.0)
        learned, why = True, None
        try:
            # learned once: by this call, or by another process's pass that took it first
            self.corrections.learn_reviews_of(ticket_id)
        except Exception as exc:
            # The human decision stands even when the knowledge base is down; say so instead.
            learned = False
            why = f"{type(exc).__name__}: {exc}; it is learned later, once the knowledge base is up"
            self.metrics.errors.labels(kind="learn").inc()
            log.warning("review of %s recorded but not learned: %s", ticket_id, why)
        return {"ticket_id": ticket_id, "decision": output, "learned": learned, "learn_error": why}

    def _decide_review(
        self, ticket_id: str, answer: ReviewIn, caller: Principal
    ) -> tuple[dict[str, Any], TriageResult]:
        """Check the answer, claim the ticket, resume the run with it and store the decision."""
        status = self.store.status(ticket_id)
        if status not in REVIEWABLE:
            raise ConflictError(self._not_waiting(ticket_id, status))
        self.follow_policy()
        policy = self.engine.policy
        if answer.team not in policy.team_names:
            raise InputError(
                f"team: unknown team {answer.team!r}; known: {', '.join(policy.team_names)}"
            )
        if answer.priority is not None and answer.priority not in policy.priorities.scale:
            raise InputError(
                f"priority: {answer.priority!r} is not on the scale {policy.priorities.scale}"
            )
        _check_review(answer, policy)
        human = HumanReview(
            team=answer.team,
            escalate=answer.escalate,
            priority=answer.priority,
            assignee=answer.assignee,
            reviewer=caller.name,
            note=answer.note,
        )
        token = self.claims.claim(ticket_id)
        if token is None:
            raise ConflictError(self._not_waiting(ticket_id, self.store.status(ticket_id)))
        decided = False
        try:
            beat = heartbeat.pulse(
                lambda: self.claims.renew(ticket_id, token),
                self.alive_every_s,
                f"review {ticket_id}",
            )
            with beat:
                # read once claimed: the SLA watch leaves a ticket being decided alone
                raised = self.store.raised_priority(ticket_id)
                human = human.model_copy(update={"raised_priority": raised})
                result = self._resume(ticket_id, human)
                reviewed = Reviewed(caller.key_id, answer.model_dump(mode="json"))
                output = self.store.record(
                    ticket_id, result, caller.name, claim_token=token, review=reviewed
                )
            decided = True
            return output, result
        finally:
            if not decided:  # whatever stopped it, the ticket must not stay taken by this claim
                self.claims.release(ticket_id, token)

    def _not_waiting(self, ticket_id: str, status: str) -> str:
        """Why a review of the ticket cannot be taken up, from its status as read now."""
        why = {
            "deciding": "another reviewer is deciding it",
            "resolved": "it was closed in the helpdesk",
            "failed": f"its triage failed; see GET /v1/dead-letters for ticket {ticket_id}",
            "queued": "it has not been triaged yet",
            "triaging": "it has not been triaged yet",
        }.get(status)
        if status == "review":  # given back by a decision that failed, just now
            return f"ticket {ticket_id!r} was being decided by another reviewer; retry"
        if why is None:
            why = f"it has been decided already; see GET /v1/tickets/{ticket_id}"
        return f"ticket {ticket_id!r} is not waiting for review: {why}"

    def _resume(self, ticket_id: str, human: HumanReview) -> TriageResult:
        """Resume the held run; from the stored held decision when the run is gone.

        A process that resumed the run and died before storing the decision leaves the ticket
        held here and its run finished (or its checkpoints dropped): the review step needs only
        what is stored, so the ticket can still be decided.
        """
        try:
            return self.engine.resume(ticket_id, human)
        except (NotFoundError, ConflictError) as exc:
            held = self.store.output(ticket_id)
            if held is None or not held.get("needs_review"):
                raise
            log.warning("review of %s: %s; deciding from its stored held decision", ticket_id, exc)
        ticket = self.store.ticket(ticket_id)
        return self.engine.decide_held(ticket_id, _result_of(held), ticket, human)

    def feedback(self, ticket_id: str, answer: FeedbackIn, caller: Principal) -> FeedbackOut:
        """Store a specialist's feedback and feed the knowledge base with the corrected case."""
        return self.corrections.feedback(ticket_id, answer, caller)


def _result_of(output: dict[str, Any]) -> TriageResult:
    """A stored decision with its brief (the API output) as the engine's result."""
    decision = {k: v for k, v in output.items() if k != "brief"}
    return TriageResult.model_validate({"decision": decision, "brief": output["brief"]})


def _check_review(answer: ReviewIn, policy: Policy) -> None:
    """InputError when the decision contradicts itself or names someone the team does not have."""
    first_line = policy.first_line_team
    if answer.escalate is not None and answer.escalate != (answer.team != first_line):
        kind = "the first line" if answer.team == first_line else "a specialist team"
        raise InputError(
            f"escalate={str(answer.escalate).lower()} contradicts team {answer.team!r}: it is "
            f"{kind} (first line: {first_line!r})"
        )
    if answer.assignee is not None:
        team = policy.team(answer.team)
        members = [m.name for m in team.members]
        if answer.assignee not in members:
            known = ", ".join(members) if members else "none listed in the policy"
            raise InputError(
                f"assignee: {answer.assignee!r} is not a member of {answer.team!r} "
                f"(members: {known})"
            )
        if not any(m.name == answer.assignee and m.available for m in team.members):
            free = ", ".join(m.name for m in team.members if m.available) or "none"
            raise InputError(
                f"assignee: {answer.assignee!r} is on leave (available: false in the policy) "
                f"and is never assigned; available in {answer.team!r}: {free}"
            )
