"""SLA watch: find open escalated tickets near or past their due times and apply the protocol.

Deadlines watched: the first response while a ticket still waits in the review queue (no human
has touched it), and the resolution until feedback marks it resolved. A ticket is at risk once
``1 - warn_fraction`` of its time is used, breached past the due time. Each step up (ok -> at risk
-> breached) applies the protocol once: raise the priority one step, put the ticket in front of
the review queue, and POST to the policy's on-call webhook when one is set. Every action, and
every failure to notify, is recorded on the ticket.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from sqlalchemy import select

from agent.models import Ticket
from agent.policy import Policy
from agent.triager import TriageResult
from api.db import Database
from api.metrics import Metrics
from api.schemas import OPEN_STATUSES, AtRisk
from api.tables import TicketRow, utcnow

log = logging.getLogger(__name__)

State = Literal["ok", "at_risk", "breached"]
RANK: dict[str, int] = {"ok": 0, "at_risk": 1, "breached": 2}


def clock_start(row: TicketRow) -> datetime:
    """When the ticket's SLA clock started: its arrival, else when it was stored.

    The due times are computed from the ticket's ``received_at``; a ticket that reaches the
    service late (a mail queue, a helpdesk catch-up) is stored well after that.
    """
    received = (row.payload or {}).get("received_at")
    if isinstance(received, str):
        try:
            start = datetime.fromisoformat(received)
        except ValueError:
            return row.created_at
        return start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    return row.created_at


def assess(
    row: TicketRow, now: datetime, warn_fraction: float
) -> tuple[State, datetime, str] | None:
    """The worst state of the ticket's open deadlines and that deadline; None if none."""
    start = clock_start(row)
    deadlines: list[tuple[str, datetime]] = []
    if row.status == "review" and row.first_response_due is not None:
        deadlines.append(("first_response", row.first_response_due))
    if row.resolution_due is not None:
        deadlines.append(("resolution", row.resolution_due))
    worst: tuple[State, datetime, str] | None = None
    for name, due in deadlines:
        span = max((due - start).total_seconds(), 0.0)
        warn_at = due - timedelta(seconds=span * warn_fraction)
        state: State = "breached" if now > due else "at_risk" if now >= warn_at else "ok"
        if worst is None or RANK[state] > RANK[worst[0]]:
            worst = (state, due, name)
    return worst


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
    ) -> None:
        self.db = db
        self.policy = policy
        self.metrics = metrics
        self.interval_s = interval_s
        self.warn_fraction = warn_fraction
        self.webhook_timeout_s = webhook_timeout_s
        self.last_run: datetime | None = None
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
        return select(TicketRow).where(
            TicketRow.status.in_(OPEN_STATUSES),
            TicketRow.escalate.is_(True),
            TicketRow.resolution_due.is_not(None),
        )

    def check(self, now: datetime | None = None) -> list[str]:
        """One pass; returns the ids of tickets the protocol was applied to."""
        now = now or utcnow()
        policy = self.policy()
        escalations: list[dict[str, Any]] = []
        with self.db.session() as session:
            for row in session.scalars(self._open()):
                found = assess(row, now, self.warn_fraction)
                if found is None or RANK[found[0]] <= RANK[row.sla_state]:
                    continue
                state, due, deadline = found
                event = self._escalate(row, state, due, deadline, policy, now)
                escalations.append({"ticket_id": row.id, **event})
        for event in escalations:
            self._notify(policy, event)
        self.last_run = now
        return [e["ticket_id"] for e in escalations]

    def _escalate(
        self,
        row: TicketRow,
        state: State,
        due: datetime,
        deadline: str,
        policy: Policy,
        now: datetime,
    ) -> dict[str, Any]:
        actions: list[str] = []
        scale = policy.priorities.scale
        if row.priority in scale and scale.index(row.priority) > 0:
            raised = scale[scale.index(row.priority) - 1]
            actions.append(f"raise_priority {row.priority}->{raised}")
            row.priority = raised
        row.front_of_queue = True
        actions.append("front_of_queue")
        for action in actions:
            self.metrics.sla_actions.labels(action=action.split(" ")[0]).inc()
        event = {
            "at": now.isoformat(),
            "state": state,
            "deadline": deadline,
            "due": due.isoformat(),
            "team": row.team,
            "priority": row.priority,
            "actions": actions,
        }
        row.sla_state = state
        row.sla_events = [*(row.sla_events or []), event]
        return event

    def on_decision(self, ticket_id: str, ticket: Ticket, result: TriageResult) -> None:
        """A decision listener: a priority whose protocol says notify_oncall pages at once.

        The POST runs on its own thread so a slow webhook never delays a triage answer; the
        outcome is recorded on the ticket like the watch's own escalations.
        """
        decision = result.decision
        if decision.sla is None or "notify_oncall" not in decision.sla.actions:
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
            "actions": [f"protocol {decision.priority}"],
        }
        with self.db.session() as session:
            row = session.get(TicketRow, ticket_id)
            if row is None:
                return
            row.sla_events = [*(row.sla_events or []), event]
        threading.Thread(
            target=self._notify,
            args=(policy, {"ticket_id": ticket_id, **event}),
            name="oncall-notify",
            daemon=True,
        ).start()

    def _notify(self, policy: Policy, event: dict[str, Any]) -> None:
        url = policy.priorities.oncall_webhook
        if not url:
            return
        outcome = "notify_oncall ok"
        try:
            response = httpx.post(url, json=event, timeout=self.webhook_timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # Recorded on the ticket and counted; the URL is not logged (it may carry a token).
            outcome = f"notify_oncall failed: {type(exc).__name__}"
            self.metrics.errors.labels(kind="oncall_webhook").inc()
            log.warning("on-call webhook failed for %s: %s", event["ticket_id"], type(exc).__name__)
        self.metrics.sla_actions.labels(action=outcome.split(":")[0].replace(" ", "_")).inc()
        with self.db.session() as session:
            row = session.get(TicketRow, event["ticket_id"])
            if row is not None and row.sla_events:
                events = list(row.sla_events)
                events[-1] = {**events[-1], "actions": [*events[-1]["actions"], outcome]}
                row.sla_events = events

    def at_risk(self, now: datetime | None = None) -> list[AtRisk]:
        """Open escalated tickets near or past a due time, most urgent first."""
        now = now or utcnow()
        out: list[AtRisk] = []
        with self.db.session() as session:
            for row in session.scalars(self._open()):
                found = assess(row, now, self.warn_fraction)
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
