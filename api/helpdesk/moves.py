"""People moving a ticket in the helpdesk: our ticket's team and assignee follow at once.

A queue or owner change there arrives as an "updated" event (RT's Set, Give, Take... on Queue or
Owner). Once a person (not the connector) has routed or taken the ticket, where it is in the
helpdesk now is where it is here: the team is the queue's (a queue that is no policy team names
none, so the team stays), the assignee the owner's policy member (Nobody, or someone who is no
member of the policy: no assignee, so no member's load counts it). Until then the helpdesk has
our decision or has not applied it yet, and our decision's team and assignee stand.

Only the ticket's current place moves (``tickets.team``/``assignee``: the loads, the SLA watch,
the review queue and GET /v1/tickets read it), and with the team whether it is escalated (a team
other than the first line: the SLA watch watches those alone); the decisions keep the agent's
and the reviewer's choice, which the KPIs and the back-flow's misroute judgement read. The
helpdesk is read as it is now, not as the event says, so events that come out of order or twice
leave the ticket where the helpdesk has it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, literal, select, update

from agent.policy import Policy
from api.db import Database
from api.deps import Services
from api.helpdesk.base import Helpdesk, HelpdeskRejected, HelpdeskTicket
from api.helpdesk.delivery import people_routed
from api.helpdesk.names import user_map
from api.helpdesk.outbox import FROM_WEBHOOK, FROM_WEBHOOK_IN_RANGE, webhook_ticket
from api.helpdesk.tables import EventRow
from api.schemas import DECIDED_STATUSES
from api.store import held_row
from api.tables import DecisionRow, TicketRow, utcnow

log = logging.getLogger(__name__)

MOVE_FIELDS = ("queue", "owner")  # an "updated" event changing one of these is a move
MOVED = "moved"  # its type as the back-flow worker sees it


def place(policy: Policy, now: HelpdeskTicket, team: str | None) -> tuple[str | None, str | None]:
    """The team and assignee of a ticket the helpdesk has as ``now``; ``team`` is kept when
    its queue is no policy team."""
    teams = {name.lower(): name for name in policy.team_names}  # RT finds a queue in any case
    members = {user.lower(): name for name, user in user_map(policy).items()}
    assignee = members.get(now.owner.lower()) if now.owner else None
    return teams.get(now.queue.lower(), team), assignee


class Moves:
    """Applies the helpdesk's current queue and owner to our ticket after a person's move."""

    def __init__(self, services: Services, helpdesk: Helpdesk, source: str) -> None:
        self.services, self.helpdesk, self.source = services, helpdesk, source

    def follow(self, external_id: str) -> bool:
        """Place our ticket where the helpdesk has it now, if a person moved it there; True
        when its team or assignee changed."""
        try:
            now = self.helpdesk.ticket(external_id)
        except HelpdeskRejected:
            return False  # deleted for good (its close is applied as such): in no queue now
        if now.id != external_id:
            return False  # merged into another: closed here, its work goes on as the other
        if not people_routed(self.helpdesk, external_id):
            return False  # only our decision placed it (or it is not applied yet)
        policy = self.services.engine.policy
        with self.services.db.session() as session:
            external = f"{self.source}:{external_id}"
            ticket_id = session.scalars(webhook_ticket(external, TicketRow.id)).first()
            if ticket_id is None:
                return False
            # held before read: a decision stored meanwhile is either read here or written after
            row = held_row(session, ticket_id)
            if row is None or row.status not in DECIDED_STATUSES:
                return False  # no decision (failed): nothing placed here to move
            team, assignee = place(policy, now, row.team)
            # Escalated is "in a team other than the first line": a person's move into the
            # first line's queue ends the SLA watch's escalation, one out of it starts it.
            escalate = row.escalate if team == row.team else team != policy.first_line_team
            if (team, assignee, escalate) == (row.team, row.assignee, row.escalate):
                return False
            log.info(
                "%s ticket %s moved there: %s/%s -> %s/%s",
                self.source,
                external_id,
                row.team,
                row.assignee,
                team,
                assignee,
            )
            row.team, row.assignee, row.escalate = team, assignee, escalate
            row.updated_at = utcnow()
        self.services.loads.invalidate()
        return True


def reopen_moves_before_decision(db: Database, source: str, since: datetime) -> int:
    """Pending again: the moves processed before their ticket's first decision (decided since
    ``since``: its triage had failed, a replay decided it), which found no place here to move;
    the first decision leaves the person's queue and owner in the helpdesk, so the ticket here
    follows them. Returns how many."""
    prefix = f"{source}:"
    ours = TicketRow.external_id == literal(prefix) + EventRow.external_id
    first_decided = (
        select(func.min(DecisionRow.decided_at))
        .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
        .where(ours, FROM_WEBHOOK)
        .scalar_subquery()
    )
    recent = (
        select(func.substr(TicketRow.external_id, len(prefix) + 1))
        .join(DecisionRow, DecisionRow.ticket_id == TicketRow.id)
        .where(
            DecisionRow.decided_at >= since,
            TicketRow.external_id.like(f"{prefix}%"),
            FROM_WEBHOOK_IN_RANGE,  # the day's decisions by their time, not all webhook tickets
        )
    )
    # One conditional UPDATE, as the back-flow's other re-opening: of two workers, the second
    # finds them processed after the decision (or pending) and leaves them.
    with db.session() as session:
        reopened = session.execute(
            update(EventRow)
            .where(
                EventRow.source == source,
                EventRow.type == MOVED,
                EventRow.processed_at.is_not(None),
                EventRow.external_id.in_(recent),
                first_decided > EventRow.processed_at,
            )
            .values(processed_at=None, attempts=0, error=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(reopened.rowcount)  # type: ignore[attr-defined]
