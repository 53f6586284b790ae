"""SLA watch: find open escalated tickets near or past their due times and apply the protocol.

Deadlines watched: the first response while a ticket still waits in the review queue (no human
has touched it), and the resolution until feedback marks it resolved. A ticket is at risk once
``1 - warn_fraction`` of its time is used (business time, for a clock that runs in business
hours only), breached past the due time. Each step up (ok -> at risk -> breached) of each
deadline applies the protocol once (a first response breached in the review queue does not
silence the resolution's breach later): raise the priority one step, put the
ticket in front of the review queue, and POST to the policy's on-call webhook when one is set.
Every action, and every page's outcome, is recorded on the event that asked for the page; a
failed page, or one lost with its process mid-send, is re-sent on later passes, up to
``oncall_attempts`` tries in all (the pages: api.sla_pages).

Several API processes may watch one database. A pass never waits for a ticket another
transaction holds (another pass, a review, the back-flow): it leaves it to a later pass, so two
passes writing many tickets each cannot deadlock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from agent.hours import WorkingHours, add_business_hours, business_time
from agent.models import Ticket
from agent.policy import Policy
from agent.triager import TriageResult
from api.db import Database
from api.due import open_deadlines
from api.metrics import Metrics
from api.schemas import OPEN_STATUSES, AtRisk
from api.sla_pages import (
    ONCALL_ATTEMPTS,
    AsRead,
    OnCallPages,
    Page,
    stored_time,
    take_if_free,
    ticked,
    write_if_unchanged,
)
from api.store import held_row
from api.tables import DecisionRow, TicketRow, utcnow

log = logging.getLogger(__name__)

# Whether the ticket's SLA clock runs in business hours only, as its latest decision set it.
_IN_BUSINESS_HOURS = (
    select(DecisionRow.decision[("sla", "business_hours")].as_boolean())
    .where(DecisionRow.ticket_id == TicketRow.id)
    .order_by(DecisionRow.id.desc())
    .limit(1)
    .correlate(TicketRow)
    .scalar_subquery()
)

State = Literal["ok", "at_risk", "breached"]
RANK: dict[str, int] = {"ok": 0, "at_risk": 1, "breached": 2}


def clock_start(row: TicketRow) -> datetime:
    """When the ticket's SLA clock started: its arrival, else when it was stored.

    The due times are computed from the ticket's ``received_at``; a ticket that reaches the
    service late (a mail queue, a helpdesk catch-up) is stored well after that.
    """
    return stored_time((row.payload or {}).get("received_at")) or row.created_at


def warn_at(
    start: datetime, due: datetime, warn_fraction: float, business: WorkingHours | None
) -> datetime:
    """When a deadline turns at risk: ``warn_fraction`` of its time is left.

    A clock in business hours counts business time: nights, weekends and holidays use none of
    it, so a first response due on Monday morning is not at risk on Sunday evening.
    """
    if business is None:
        span = max((due - start).total_seconds(), 0.0)
        return due - timedelta(seconds=span * warn_fraction)
    span_h = business_time(start, due, business).total_seconds() / 3600
    if span_h <= 0:
        return due
    return min(add_business_hours(start, span_h * (1 - warn_fraction), business), due)


def deadline_states(
    row: TicketRow, now: datetime, warn_fraction: float, business: WorkingHours | None = None
) -> list[tuple[State, datetime, str]]:
    """Each open deadline of the ticket: its state, due time and name.

    ``business``: the hours its SLA clock runs in, None for a clock around the clock.
    """
    start = clock_start(row)
    out: list[tuple[State, datetime, str]] = []
    for name, due in open_deadlines(row.status, row.first_response_due, row.resolution_due):
        warn = warn_at(start, due, warn_fraction, business)
        state: State = "breached" if now > due else "at_risk" if now >= warn else "ok"
        out.append((state, due, name))
    return out


def assess(
    row: TicketRow, now: datetime, warn_fraction: float, business: WorkingHours | None = None
) -> tuple[State, datetime, str] | None:
    """The worst state of the ticket's open deadlines and that deadline; None if none."""
    worst: tuple[State, datetime, str] | None = None
    for found in deadline_states(row, now, warn_fraction, business):
        if worst is None or RANK[found[0]] > RANK[worst[0]]:
            worst = found
    return worst


def _stepped_up(
    row: TicketRow, now: datetime, warn_fraction: float, business: WorkingHours | None
) -> tuple[State, datetime, str] | None:
    """The worst deadline whose state is past the last step acted on for that deadline.

    Steps count for the due time they were taken on: a review that sets a new priority sets new
    due times, and their own steps get the protocol again.
    """
    worst: tuple[State, datetime, str] | None = None
    for found in deadline_states(row, now, warn_fraction, business):
        state, due, name = found
        acted = max((_step(event, name, due) for event in row.sla_events or []), default=0)
        if RANK[state] > acted and (worst is None or RANK[state] > RANK[worst[0]]):
            worst = found
    return worst


def _step(event: dict[str, Any], deadline: str, due: datetime) -> int:
    """The rank of the step an SLA event took on that deadline at that due time; 0 if none."""
    if event.get("deadline") != deadline:
        return 0
    taken_on = stored_time(event.get("due"))
    if taken_on is not None and taken_on != due:
        return 0  # a step on due times a later decision replaced
    return RANK.get(str(event.get("state")), 0)


class SlaWatch:
    """Background check every ``interval_s`` seconds (and on demand, for tests)."""

    def __init__(
        self,
        db: Database,
        policy: Callable[[], Policy],
        metrics: Metrics,
        interval_s: float = 60.0,
        warn_fraction: float = 0.2,
        webhook_timeout_s: float = 5.0,
        oncall_attempts: int = ONCALL_ATTEMPTS,
        claim_stale_after_s: float = 480.0,
    ) -> None:
        self.db = db
        self.policy = policy
        self.metrics = metrics
        self.interval_s = interval_s
        self.warn_fraction = warn_fraction
        self.last_run: datetime | None = None
        # A reviewer's claim ("deciding") with no sign of life for this long: its process died
        # (api.review_claim); the watch acts on that ticket and gives it back to the queue.
        self.claim_stale_after_s = claim_stale_after_s
        # Serialises every read-modify-write of a ticket's SLA events: the watch's passes and
        # the page outcomes recorded from other threads would otherwise overwrite each other.
        self._events_lock = threading.Lock()
        self.pages = OnCallPages(db, metrics, self._events_lock, webhook_timeout_s, oncall_attempts)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the check in a daemon thread until stop()."""
        self._thread = threading.Thread(target=self._loop, name="sla-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background check."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:
                # One bad pass must not end the watch; the next pass retries.
                self.metrics.errors.labels(kind="sla_watch").inc()
                log.exception("SLA watch pass failed")

    def _open(self) -> Any:
        """Open escalated tickets with an SLA clock, each with whether it runs in business hours."""
        return select(TicketRow, _IN_BUSINESS_HOURS).where(
            TicketRow.status.in_(OPEN_STATUSES),
            TicketRow.escalate.is_(True),
            TicketRow.resolution_due.is_not(None),
        )

    def check(self, now: datetime | None = None) -> list[str]:
        """One pass; returns the ids of tickets the protocol was applied to.

        Pages for this pass's escalations and retries of earlier failed pages are sent side by
        side once the pass has been stored, so a slow webhook costs one timeout, not one each.
        """
        now = now or utcnow()
        policy = self.policy()
        url = policy.priorities.oncall_webhook
        acted: list[str] = []
        pages: list[Page] = []
        # the real clock, as claims are stamped with it (a pass may be asked about any time)
        claims_stale_before = utcnow() - timedelta(seconds=self.claim_stale_after_s)
        with self._events_lock, self.db.session() as session:
            hours = policy.priorities.business_hours
            for row, in_hours in session.execute(self._open().order_by(TicketRow.id)).all():
                found = _stepped_up(row, now, self.warn_fraction, hours if in_hours else None)
                if found is None:
                    continue
                if row.status == "deciding" and row.updated_at >= claims_stale_before:
                    # a reviewer is deciding it now: the review read the priority when it
                    # claimed the ticket and would write over a raise; the next pass re-reads it
                    continue
                if not take_if_free(session, row.id):
                    log.info("SLA watch left %s to a later pass: another writer holds it", row.id)
                    continue
                # Changed here, written below only if no one wrote the row since it was read
                session.expunge(row)
                as_read = AsRead(row.status, row.priority, row.updated_at)
                state, due, deadline = found
                self._escalate(row, state, due, deadline, policy, now)
                if row.status == "deciding":
                    # the claim's process died: the ticket goes back to the queue, in front
                    row.status, row.claim_token = "review", None
                    row.sla_events[-1]["actions"].append("release_review_claim")
                page = self.pages.claim(row, len(row.sla_events) - 1) if url else None
                if not write_if_unchanged(session, row, as_read):
                    # e.g. a review decided it meanwhile: its priority stands; next pass re-reads
                    log.info("SLA watch left %s alone: written since it was read", row.id)
                    continue
                for action in row.sla_events[-1]["actions"]:
                    self.metrics.sla_actions.labels(action=action.split(" ")[0]).inc()
                acted.append(row.id)
                if page is not None:
                    pages.append(page)
            if url:
                pages.extend(self.pages.claim_retries(session))
        if url:
            self.pages.send_all(url, pages)
        self.last_run = now
        return acted

    def _escalate(
        self,
        row: TicketRow,
        state: State,
        due: datetime,
        deadline: str,
        policy: Policy,
        now: datetime,
    ) -> None:
        """Apply the protocol to the (detached) row in memory; check() writes it."""
        actions: list[str] = []
        scale = policy.priorities.scale
        if row.priority in scale and scale.index(row.priority) > 0:
            raised = scale[scale.index(row.priority) - 1]
            actions.append(f"raise_priority {row.priority}->{raised}")
            row.priority = raised
        row.front_of_queue = True
        actions.append("front_of_queue")
        event = {
            "at": now.isoformat(),
            "state": state,
            "deadline": deadline,
            "due": due.isoformat(),
            "team": row.team,
            "priority": row.priority,
            "actions": actions,
        }
        # the ticket's state is its worst deadline's: a later deadline at risk keeps 'breached'
        if RANK[state] > RANK.get(row.sla_state, 0):
            row.sla_state = state
        row.sla_events = [*(row.sla_events or []), event]

    def on_decision(self, ticket_id: str, ticket: Ticket, result: TriageResult) -> None:
        """A decision listener: a priority whose protocol says notify_oncall pages at once.

        The POST runs on its own thread so a slow webhook never delays a triage answer; the
        outcome is recorded on the ticket like the watch's own escalations.
        """
        decision = result.decision
        protocol = list(decision.sla.actions) if decision.sla is not None else []
        if "jump_queue" in protocol:
            self._to_front(ticket_id)
        # page_team_lead goes to the same pager, which is told so in the event's protocol
        if not {"notify_oncall", "page_team_lead"} & set(protocol):
            return
        policy = self.policy()
        if not policy.priorities.oncall_webhook:
            return
        event: dict[str, Any] = {
            "at": utcnow().isoformat(),
            "state": "decided",
            "team": decision.team,
            "priority": decision.priority,
            "headline": result.brief.headline,
            "protocol": protocol,
            "actions": [f"protocol {decision.priority}"],
        }
        with self._events_lock, self.db.session() as session:
            # held: the lock above is this process's; another process's watch may write it too
            row = held_row(session, ticket_id)
            if row is None:
                return
            row.sla_events = [*(row.sla_events or []), event]
            page = self.pages.claim(row, len(row.sla_events) - 1)
            row.updated_at = ticked(row.updated_at)  # no sign of life of anyone
        threading.Thread(
            target=self.pages.send,
            args=(policy.priorities.oncall_webhook, page),
            name="oncall-notify",
            daemon=True,
        ).start()

    def _to_front(self, ticket_id: str) -> None:
        """jump_queue: the ticket goes ahead of the others in the review queue at once."""
        with self._events_lock, self.db.session() as session:
            row = held_row(session, ticket_id)
            if row is not None:
                self._put_in_front(row)
                row.updated_at = ticked(row.updated_at)  # no sign of life of anyone

    def _put_in_front(self, row: TicketRow) -> str:
        """The ticket goes ahead of the others in the review queue; returns the action's name."""
        row.front_of_queue = True
        self.metrics.sla_actions.labels(action="front_of_queue").inc()
        return "front_of_queue"

    def at_risk(self, now: datetime | None = None) -> list[AtRisk]:
        """Open escalated tickets near or past a due time, most urgent first."""
        now = now or utcnow()
        out: list[AtRisk] = []
        with self.db.session() as session:
            hours = self.policy().priorities.business_hours
            for row, in_hours in session.execute(self._open()):
                found = assess(row, now, self.warn_fraction, hours if in_hours else None)
                if found is None or found[0] == "ok":
                    continue
                state, due, deadline = found
                out.append(
                    AtRisk(
                        id=row.id,
                        team=row.team,
                        priority=row.priority,
                        state="breached" if state == "breached" else "at_risk",
                        due=due,
                        deadline=deadline,  # type: ignore[arg-type]
                        events=list(row.sla_events or []),
                    )
                )
        return sorted(out, key=lambda a: (a.state != "breached", a.due))
