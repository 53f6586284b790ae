"""What people teach the knowledge base: a specialist's feedback, a reviewer's decision."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from agent.errors import ConflictError, InputError, TriageError, UpstreamError
from agent.policy import Policy
from api.auth import Principal
from api.engine import LockedEngine
from api.helpdesk.polling import PollingThread
from api.ledger import Ledger
from api.loads import DbLoads
from api.schemas import WAITING_STATUSES, FeedbackIn, FeedbackOut
from api.store import TicketStore, held_row
from api.tables import DecisionRow, ReviewRow, utcnow
from knowledge.feedback import Feedback

log = logging.getLogger(__name__)

# a ticket "deciding" for long was claimed by a process that died; ReviewClaims may retake it
REVIEWABLE = WAITING_STATUSES


class Corrections:
    """Stores a specialist's feedback and feeds the knowledge base with corrected cases."""

    def __init__(
        self, store: TicketStore, ledger: Ledger, engine: LockedEngine, loads: DbLoads | None
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.engine = engine
        self.loads = loads

    def feedback(self, ticket_id: str, answer: FeedbackIn, caller: Principal) -> FeedbackOut:
        """Store a specialist's feedback and feed the knowledge base with the corrected case."""
        if self.store.status(ticket_id) in REVIEWABLE:  # NotFoundError (404) for an unknown id
            # its team is only the agent's proposal, and feedback would close it unreviewed
            raise ConflictError(
                f"ticket {ticket_id!r} is waiting for review: its team is only proposed; "
                f"decide it first (POST /v1/review/{ticket_id}), then give feedback"
            )
        current = self.store.output(ticket_id)
        if current is None:
            raise ConflictError(f"ticket {ticket_id!r} has no decision yet")
        policy = self.engine.policy
        if answer.correct_team is not None and answer.correct_team not in policy.team_names:
            raise InputError(
                f"correct_team: unknown team {answer.correct_team!r}; "
                f"known: {', '.join(policy.team_names)}"
            )
        final_team = answer.final_team(str(current["team"]), policy.first_line_team)
        correction = self._correction(
            ticket_id,
            final_team,
            final_team != policy.first_line_team,
            "specialist",
            answer.note or "",
            answer,
        )
        record = {
            **answer.model_dump(mode="json"),
            "final_team": final_team,
            "escalated": final_team != policy.first_line_team,  # by the first line of now
            "author": caller.name,
        }
        # A reviewer's decision on it not learned yet (its process died first) comes first
        self.learn_reviews_of(ticket_id)
        # The case merges the corrections in the order learned, the KPIs the stored feedback in
        # the order stored: two answers on one ticket at once must take both in the same order.
        # The engine's lock orders them in this process; the ticket's row, held from before the
        # case is learned until its feedback is stored, orders them across the processes on
        # one database (another process's answer waits here until this one is stored).
        with self.engine.held(), self.store.db.session() as session:
            held_row(session, ticket_id)
            case = self._learn_correction(correction)
            self.ledger.add_feedback(ticket_id, caller.key_id, record, session)
        if self.loads is not None:
            self.loads.invalidate()  # a resolved ticket no longer counts against its assignee
        warning = _rule_warning(current, final_team, policy)
        if final_team not in policy.team_names:
            # team_correct on a ticket of a team dropped since: the outcome and the case stand
            # as history (the resolution helps whoever has such tickets now, and the team may
            # come back); routing leaves out cases of teams the policy does not have.
            warning = (
                f"{final_team!r} is no longer a team of the active policy "
                f"(teams: {', '.join(policy.team_names)}): the outcome is stored, and routing "
                f"ignores this case's team until the policy has it again"
            )
        return FeedbackOut(
            ticket_id=ticket_id,
            final_team=final_team,
            case_id=case,
            label_source="specialist",
            warning=warning,
        )

    def learn_reviews_of(self, ticket_id: str) -> int:
        """Learn the ticket's reviewed decisions not learned yet; returns how many this call
        learned. UpstreamError when the knowledge base does not take one (it is left to learn)."""
        return sum(self._learn_review(review_id) for review_id in self._reviews_left(ticket_id))

    def learn_reviews_left(self) -> int:
        """Learn every reviewed decision not learned yet, whichever process stored it (one that
        died before it could, one whose knowledge base was down); returns how many this call
        learned. One that fails is logged and left for the next call; the others go on."""
        learned = 0
        for review_id in self._reviews_left():
            try:
                learned += self._learn_review(review_id)
            except Exception as exc:
                log.warning(
                    "review %s still not learned: %s: %s", review_id, type(exc).__name__, exc
                )
        if learned:
            log.info("learned %d reviewed decisions left unlearned", learned)
        return learned

    def _reviews_left(self, ticket_id: str | None = None) -> list[int]:
        left = select(ReviewRow.id).where(
            ReviewRow.learned_at.is_(None), ReviewRow.decision_id.is_not(None)
        )
        if ticket_id is not None:
            left = left.where(ReviewRow.ticket_id == ticket_id)
        with self.store.db.session() as session:
            return list(session.scalars(left.order_by(ReviewRow.id)))

    def _learn_review(self, review_id: int) -> bool:
        """Learn one stored review's decision unless it was learned; True if learned here.

        Marked learned in the transaction that learns it, which holds the ticket's row: another
        process learning it at once waits, then finds it learned. (The knowledge base is not in
        that transaction: a process that dies between learning and committing leaves it to be
        learned again, into the same case, which takes it as it took it the first time.)
        """
        with self.store.db.session() as session:
            found = session.execute(
                select(
                    ReviewRow.ticket_id,
                    ReviewRow.review,
                    ReviewRow.learned_at,
                    DecisionRow.team,
                    DecisionRow.escalate,
                )
                .join(DecisionRow, DecisionRow.id == ReviewRow.decision_id)
                .where(ReviewRow.id == review_id)
            ).first()
        if found is None or found.learned_at is not None:
            return False
        note = str(found.review.get("note") or "")
        correction = self._correction(found.ticket_id, found.team, found.escalate, "review", note)
        with self.engine.held(), self.store.db.session() as session:
            held_row(session, found.ticket_id)
            taken = session.execute(
                update(ReviewRow)
                .where(ReviewRow.id == review_id, ReviewRow.learned_at.is_(None))
                .values(learned_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                return False  # another process learned it meanwhile
            self._learn_correction(correction)  # raises: rolled back, still to learn
        return True

    def _correction(
        self,
        ticket_id: str,
        team: str,
        escalated: bool,
        source: str,
        note: str,
        answer: FeedbackIn | None = None,
    ) -> Feedback:
        """The ticket as corrected, for the knowledge base."""
        ticket = self.store.ticket(ticket_id)
        first = self.store.first_decision(ticket_id) or {}
        return Feedback.model_validate(
            {
                "ticket_id": ticket_id,
                "subject": ticket.subject,
                "body": ticket.body,
                "requester": ticket.requester,
                "account_id": ticket.account.id,
                "language": ticket.language,
                "correct_team": team,
                "escalation_needed": escalated,
                "resolution": answer.resolution if answer else None,
                "first_contact_resolved": answer.first_contact_resolved if answer else None,
                "handling_hours": answer.handling_hours if answer else None,
                "first_route": first.get("team"),
                "note": note or None,
                "label_source": source,
            }
        )

    def _learn_correction(self, correction: Feedback) -> str:
        try:
            return self.engine.learn(correction).id
        except TriageError:
            raise
        except Exception as exc:
            raise UpstreamError(
                f"the knowledge base did not take the feedback ({type(exc).__name__})"
            ) from exc


def _rule_warning(decision: dict[str, Any], final_team: str, policy: Policy) -> str | None:
    """Why a correction will not move tickets like this one: a rule that still decides them."""
    team = decision.get("team")
    if decision.get("decided_by") != "rule" or final_team == team:
        return None
    fired = {e.get("source") for e in decision.get("evidence", []) if e.get("kind") == "rule"}
    for rule in policy.rules:
        sends_to = rule.actions.escalate_to or (
            policy.first_line_team if rule.actions.stay_first_line else None
        )
        if rule.id in fired and sends_to == team:
            # rules win over the knowledge base (agent/route.py)
            return (
                f"rule {rule.id!r} of the active policy decided this ticket and sends tickets it "
                f"matches to {team!r} whatever was learned: the correction to {final_team!r} is "
                "stored and acts on them once the rule changes"
            )
    return None


class ReviewLearning(PollingThread):
    """Learns the reviewed decisions left unlearned: at start, then every ``poll_s``.

    A process that died after storing a reviewer's decision, or a knowledge base that was down
    then, left it to learn (api.store.TicketStore.record stores it so); any API process on the
    database learns it at its next pass, once between them all.
    """

    thread_name = "review-learning"

    def __init__(self, corrections: Corrections, poll_s: float) -> None:
        super().__init__(poll_s)
        self.corrections = corrections

    def run_pass(self) -> float:
        self.corrections.learn_reviews_left()
        return self.poll_s
