"""Decision -> outbox: what to change in the helpdesk for one stored decision.

Queue for the team, owner when an individual was chosen, priority, the tags field and the brief
as an internal comment. A decision waiting for review sets the priority (its SLA runs already),
comments and tags, but does not move the ticket: that is left to the reviewer's decision, which
comes through here again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from agent.models import Brief, Ticket, TriageDecision, as_utc
from agent.policy import Policy
from agent.triager import TriageResult
from api.db import Database
from api.helpdesk.brief_md import brief_markdown
from api.helpdesk.names import TAGS_FIELD, priority_map, queue_for_team, user_map
from api.helpdesk.outbox import Outbox
from api.tables import BriefRow, DecisionRow, TicketRow

log = logging.getLogger(__name__)

REVIEW_TAG = "needs-review"


def external_ref(ticket: Ticket, prefix: str) -> str | None:
    """The helpdesk's ticket id when the ticket came from that helpdesk ("rt:123" -> "123")."""
    ext = ticket.external_id or ""
    return ext[len(prefix) :] if ext.startswith(prefix) and len(ext) > len(prefix) else None


def marker(ticket_id: str, decision_id: int) -> str:
    """The tag that identifies the comment of one decision (found again after a crash)."""
    return f"[triage:{ticket_id}:{decision_id}]"


def build_update(
    policy: Policy, decision: TriageDecision, brief: Brief, ticket_id: str, decision_id: int
) -> dict[str, Any]:
    """The outbox payload of a decision."""
    tags = sorted(set(decision.tags) | ({REVIEW_TAG} if decision.needs_review else set()))
    update: dict[str, Any] = {
        "queue": None,
        "owner": None,
        "priority": priority_map(policy.priorities.scale).get(decision.priority),
        "custom_fields": {TAGS_FIELD: tags},
        "comment": brief_markdown(decision, brief, marker(ticket_id, decision_id)),
        "marker": marker(ticket_id, decision_id),
        "decided_at": decision.decided_at.isoformat(),
    }
    if not decision.needs_review:
        update["queue"] = queue_for_team(decision.team)
        if decision.assignee:
            update["owner"] = user_map(policy).get(decision.assignee)
    return update


class OutboxListener:
    """The DecisionListener that writes one outbox row per decision on a helpdesk ticket."""

    def __init__(
        self,
        outbox: Outbox,
        policy: Callable[[], Policy],
        helpdesk: str = "rt",
        wake: threading.Event | None = None,
    ) -> None:
        self.outbox = outbox
        self.policy = policy
        self.helpdesk = helpdesk
        self.prefix = f"{helpdesk}:"
        self.wake = wake or threading.Event()

    def on_decision(self, ticket_id: str, ticket: Ticket, result: TriageResult) -> None:
        """Queue the decision for the helpdesk (never raises for delivery problems)."""
        external = external_ref(ticket, self.prefix)
        if external is None:
            return
        if not self.outbox.from_webhook(ticket_id):
            # Anyone with an API key can name "rt:123"; only the helpdesk's own tickets change it.
            log.warning(
                "ticket %s names %s ticket %s but was not sent by its webhook: not applied there",
                ticket_id,
                self.helpdesk,
                external,
            )
            return
        # Told again after a crash, a held decision and the review's come together: each has its
        # id then, and a guess by time ("the newest not yet queued") would give the first the
        # review's row, and the review none.
        decision_id = result.stored_as
        if decision_id is None:
            decision_id = self.outbox.decision_id(ticket_id, result.decision.decided_at)
        if decision_id is None:
            log.error(
                "decision of %s is not stored: nothing to apply in %s", ticket_id, self.helpdesk
            )
            return
        update = build_update(self.policy(), result.decision, result.brief, ticket_id, decision_id)
        if self.outbox.enqueue(decision_id, ticket_id, self.helpdesk, external, update):
            self.wake.set()

    def sweep(self, db: Database, window: timedelta = timedelta(days=1)) -> int:
        """Queue recent decisions a crash left without an outbox row; returns how many.

        Recent: within ``window``, or since an hour before the newest outbox row, whichever is
        earlier, so a crash followed by days of downtime is still swept.
        """
        since = datetime.now(UTC) - window
        newest = self.outbox.newest_created()
        if newest is not None:
            since = min(since, as_utc(newest) - timedelta(hours=1))
        added = 0
        for decision_id, ticket_id in self.outbox.orphans(self.prefix, since):
            with db.session() as session:
                row = session.get(DecisionRow, decision_id)
                brief_row = session.scalars(
                    select(BriefRow).where(BriefRow.decision_id == decision_id)
                ).first()
                ticket = session.get(TicketRow, ticket_id)
                if row is None or brief_row is None or ticket is None:
                    continue
                decision = TriageDecision.model_validate(row.decision)
                brief = Brief.model_validate(brief_row.brief)
                external = (ticket.external_id or "")[len(self.prefix) :]
            update = build_update(self.policy(), decision, brief, ticket_id, decision_id)
            added += self.outbox.enqueue(decision_id, ticket_id, self.helpdesk, external, update)
        if added:
            log.warning("queued %d decision(s) for %s that had no outbox row", added, self.helpdesk)
            self.wake.set()
        return added
