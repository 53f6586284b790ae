"""The delivery loop: applies outbox rows in the helpdesk, once each, in order, with retries.

Each row is applied in steps (fields, then the comment) and each finished step is recorded
before the next begins, so a retry or a restart never repeats one: field updates set absolute
values, and a comment whose step was started but not recorded is looked for (by its marker) in
the ticket's history before being posted again.
While the helpdesk is unreachable the loop backs off exponentially (capped per wait) and keeps
trying for as long as it takes; a refusal (unknown ticket, bad request) closes the row instead.
A ticket the helpdesk has already closed (or deleted) is not moved or assigned, and a ticket's
first decision leaves the queue or owner a person set before it arrived: priority, tags and the
comment are still applied. The tags field keeps the tags people added there: a row replaces
the tags earlier rows of its ticket set (and the review tag), not the others.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Collection
from datetime import UTC, datetime

from agent.settings import HELPDESK_CLOSED_STATUSES
from api.helpdesk.base import Helpdesk, HelpdeskRejected, HelpdeskUnavailable, TicketUpdate
from api.helpdesk.listener import REVIEW_TAG
from api.helpdesk.names import TAGS_FIELD
from api.helpdesk.outbox import Outbox
from api.helpdesk.outcome import MOVES
from api.helpdesk.polling import PollingThread
from api.helpdesk.tables import OutboxRow

log = logging.getLogger(__name__)


def backoff_s(failures: int, base_s: float, cap_s: float) -> float:
    """Exponential delay after that many consecutive failures, capped, with 10% jitter."""
    delay = min(cap_s, base_s * (2 ** max(0, failures - 1)))
    return delay * random.uniform(0.9, 1.0)


def people_routed(helpdesk: Helpdesk, ticket_id: str) -> set[str]:
    """The fields ("Queue", "Owner") a person, not the connector, changed on the ticket."""
    return {
        str(t.field)
        for t in helpdesk.history(ticket_id)
        if t.creator != helpdesk.bot_user and t.type in MOVES and t.field in ("Queue", "Owner")
    }


def apply_row(
    helpdesk: Helpdesk,
    outbox: Outbox,
    row: OutboxRow,
    closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
) -> tuple[str, str | None]:
    """Apply the row's remaining steps; returns the status (applied or partial) and refusals.
    ``closed``: the helpdesk's statuses that close a ticket."""
    update, progress = dict(row.update), dict(row.progress or {})
    ticket_id = row.external_id
    if "fields" not in progress:
        change = TicketUpdate(
            queue=update.get("queue"),
            owner=update.get("owner"),
            priority=update.get("priority"),
            custom_fields=update.get("custom_fields") or {},
        )
        moves = change.queue is not None or change.owner is not None
        now = helpdesk.ticket(ticket_id)
        if now.id != ticket_id:
            # Merged into another ticket, which the helpdesk now reads (and would change) as
            # this one: the decision was for a ticket that is no more.
            raise HelpdeskRejected(f"{helpdesk.name} ticket {ticket_id} was merged into {now.id}")
        if moves or TAGS_FIELD in change.custom_fields:
            if moves and now.status.lower() in closed:
                # Done before the decision arrived (a backlog, a restart's catch-up): the
                # person's final queue and owner stand, and the resolution is learned from them.
                change = change.model_copy(update={"queue": None, "owner": None})
            elif moves and not outbox.has_earlier(row):
                # Our first decision, come late: whoever routed or took the ticket meanwhile
                # decided that part (our person belongs to our queue); a reviewer's later
                # decision is applied as asked.
                people = people_routed(helpdesk, ticket_id)
                if "Queue" in people:
                    change = change.model_copy(update={"queue": None, "owner": None})
                elif "Owner" in people:
                    change = change.model_copy(update={"owner": None})
            if TAGS_FIELD in change.custom_fields:
                # Ours replace ours; the tags people added in the helpdesk stay.
                mine = outbox.earlier_tags(row) | {REVIEW_TAG}
                theirs = set(now.custom_fields.get(TAGS_FIELD, [])) - mine
                tags = sorted(theirs | set(change.custom_fields[TAGS_FIELD]))
                change.custom_fields = {**change.custom_fields, TAGS_FIELD: tags}
        result = helpdesk.update(ticket_id, change)
        progress["fields"] = result.model_dump()
        outbox.save_progress(row.id, progress)
        if result.failed:
            log.warning("%s ticket %s refused %s", helpdesk.name, ticket_id, sorted(result.failed))
    comment = update.get("comment")
    if comment and not progress.get("comment_done"):
        already = False
        if progress.get("comment_started"):
            mark = str(update.get("marker") or "")
            already = bool(mark) and any(
                mark in (t.content or "")
                for t in helpdesk.history(ticket_id)
                if t.type == "Comment"
            )
        if not already:
            progress["comment_started"] = True
            outbox.save_progress(row.id, progress)
            helpdesk.comment(ticket_id, str(comment))
        progress["comment_done"] = True
        outbox.save_progress(row.id, progress)
    failed = (progress.get("fields") or {}).get("failed") or {}
    if not failed:
        return "applied", None
    return "partial", "; ".join(f"{k}: {v}" for k, v in failed.items())[:1000]


class DeliveryLoop(PollingThread):
    """A background thread draining the outbox into the helpdesk."""

    thread_name = "helpdesk-delivery"

    def __init__(
        self,
        outbox: Outbox,
        helpdesk: Helpdesk,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        poll_s: float = 2.0,
        wake: threading.Event | None = None,
        closed: Collection[str] = HELPDESK_CLOSED_STATUSES,
    ) -> None:
        super().__init__(poll_s, wake)
        self.outbox = outbox
        self.helpdesk, self.closed = helpdesk, closed
        self.base_s, self.cap_s = base_s, cap_s
        self.failures = 0  # consecutive "unavailable" answers: the helpdesk's health
        self.last_error: str | None = None

    def run_pass(self) -> float:
        """Deliver what is due; the wait comes from the retry schedule."""
        return self.drain()

    def drain(self) -> float:
        """Deliver every due row once; returns how long to wait before the next pass."""
        while not self._stop.is_set():
            now = datetime.now(UTC)
            rows = self.outbox.due(now)
            if not rows:
                break
            for row in rows:
                if not self.outbox.claim(row.id, now):
                    continue  # another delivery loop on this database has it
                if not self.deliver(row):
                    # Unreachable: later rows would fail the same way; wait, then retry in order.
                    return backoff_s(self.failures, self.base_s, self.cap_s)
        upcoming = self.outbox.next_due()
        if upcoming is None:
            return self.poll_s
        return max(0.05, min(self.poll_s, (upcoming - datetime.now(UTC)).total_seconds()))

    def deliver(self, row: OutboxRow) -> bool:
        """Apply one row; False when the helpdesk is unreachable (the row stays pending)."""
        try:
            status, refused = apply_row(self.helpdesk, self.outbox, row, self.closed)
        except HelpdeskUnavailable as exc:
            self.failures += 1
            self.last_error = str(exc)
            delay = backoff_s(self.failures, self.base_s, self.cap_s)
            attempts = self.outbox.retry(row.id, delay, str(exc))
            if self.failures == 1 or attempts % 10 == 0:
                log.warning(
                    "%s unreachable (%s); retrying, attempt %d", self.helpdesk.name, exc, attempts
                )
            return False
        except HelpdeskRejected as exc:
            self.failures = 0
            self.outbox.finish(row.id, "rejected", str(exc)[:1000])
            log.error("%s refused outbox row %d for good: %s", self.helpdesk.name, row.id, exc)
            return True
        self.failures, self.last_error = 0, None
        self.outbox.finish(row.id, status, refused)
        return True
