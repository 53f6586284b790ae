"""On-call pages of the SLA watch, and the guarded writes of a ticket it shares with them.

A page is claimed on the SLA event that asks for it (``oncall: pending``, one more attempt,
when), sent, and its outcome recorded on that event. A failed page, or one lost with its
process mid-send, is claimed again by later passes, up to ``attempts`` tries in all.

A pass writes a ticket only if no other transaction holds it (``take_if_free``) and no one
wrote it since it was read (``write_if_unchanged``): another process's pass, a review or the
back-flow may be writing it too.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Text, cast, select, update
from sqlalchemy.orm import Session

from agent.models import as_utc
from api.db import Database
from api.metrics import Metrics
from api.schemas import OPEN_STATUSES
from api.store import held_row
from api.tables import TicketRow, utcnow

log = logging.getLogger(__name__)

# A failed page is re-sent on later passes until it has been tried this many times in all.
ONCALL_ATTEMPTS = 3
# Fields on an SLA event that track its page; not part of what the webhook receives.
_PAGE_BOOKKEEPING = ("oncall", "oncall_attempts", "oncall_claimed_at")
# A page still "pending" this long after it was claimed was lost with its process (a crash or a
# restart mid-send); its attempt counts as failed and it is sent again.
STALE_PAGE_S = 120.0


@dataclass(frozen=True)
class Page:
    """One attempt at paging on-call for the SLA event at ``index`` of a ticket's events."""

    ticket_id: str
    index: int
    attempt: int
    payload: dict[str, Any]


def stored_time(value: Any) -> datetime | None:
    """An ISO time as stored in JSON, with its zone; None when there is none to read."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _lost(event: dict[str, Any], stale_before: datetime) -> bool:
    """A page claimed long ago whose outcome never came back."""
    if event.get("oncall") != "pending":
        return False
    claimed = stored_time(event.get("oncall_claimed_at"))
    # none: claimed by a release that did not stamp its claims
    return claimed is None or claimed < stale_before


@dataclass(frozen=True)
class AsRead:
    """What the watch's write of a ticket is conditional on: the row as the pass read it."""

    status: str
    priority: str | None
    updated_at: datetime


def take_if_free(session: Session, ticket_id: str) -> bool:
    """Hold the ticket's row for this pass unless another transaction holds it; True if held.

    A pass writes many rows in one transaction; waiting for one while holding others could
    deadlock with another process's pass (or any writer) holding them the other way round. A
    row held elsewhere is left to a later pass. (SQLite has no row locks: always True.)
    """
    held = session.execute(
        select(TicketRow.id).where(TicketRow.id == ticket_id).with_for_update(skip_locked=True)
    ).first()
    return held is not None


def ticked(updated_at: datetime) -> datetime:
    """The updated_at a write of the watch leaves on a ticket: a microsecond past the one read.

    Every write of a ticket moves its updated_at, which serves as the row's version (a pass in
    another process that read the row before must find it changed). It is also the sign of life
    of a reviewer's claim and of a triage run (api.review_claim, api.adoption), and the watch's
    writes (its steps, its pages and their outcomes) are neither: stamped with the time, a page
    retried every pass would keep a dead reviewer's claim alive and the ticket taken by nobody.
    """
    return updated_at + timedelta(microseconds=1)


def write_if_unchanged(session: Session, row: TicketRow, as_read: AsRead) -> bool:
    """Store the watch's changes to the row unless it was written since read; True if stored.

    Every write of a ticket moves its updated_at, which serves as the row's version (``ticked``
    here); status and priority are compared too, as they are what a review changes.
    """
    same_priority = (
        TicketRow.priority.is_(None)
        if as_read.priority is None
        else TicketRow.priority == as_read.priority
    )
    written = session.execute(
        update(TicketRow)
        .where(
            TicketRow.id == row.id,
            TicketRow.status == as_read.status,
            same_priority,
            TicketRow.updated_at == as_read.updated_at,
        )
        .values(
            status=row.status,
            claim_token=row.claim_token,
            priority=row.priority,
            sla_state=row.sla_state,
            sla_events=row.sla_events,
            front_of_queue=row.front_of_queue,
            updated_at=ticked(as_read.updated_at),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(written.rowcount)  # type: ignore[attr-defined]


class OnCallPages:
    """Claims, sends and records the watch's pages; ``events_lock`` is the watch's."""

    def __init__(
        self,
        db: Database,
        metrics: Metrics,
        events_lock: threading.Lock,
        webhook_timeout_s: float,
        attempts: int,
    ) -> None:
        self.db = db
        self.metrics = metrics
        # Serialises every read-modify-write of a ticket's SLA events in this process.
        self.events_lock = events_lock
        self.webhook_timeout_s = webhook_timeout_s
        self.attempts = attempts

    def claim(self, row: TicketRow, index: int) -> Page:
        """Mark the event at ``index`` as paging (one more attempt) and return the page to send.

        Call with ``events_lock`` held, inside the session that stores the row.
        """
        events = list(row.sla_events)
        event = {
            **events[index],
            "oncall": "pending",
            "oncall_attempts": int(events[index].get("oncall_attempts", 0)) + 1,
            "oncall_claimed_at": utcnow().isoformat(),
        }
        events[index] = event
        row.sla_events = events
        payload = {k: v for k, v in event.items() if k not in _PAGE_BOOKKEEPING}
        return Page(row.id, index, event["oncall_attempts"], {"ticket_id": row.id, **payload})

    def claim_retries(self, session: Session) -> list[Page]:
        """Failed or lost pages of open tickets with attempts left, each claimed for one more."""
        pages: list[Page] = []
        # the real clock, as the claims are stamped with it (a pass may be asked about any time)
        stale_before = utcnow() - timedelta(seconds=max(STALE_PAGE_S, 4 * self.webhook_timeout_s))
        paged = (
            select(TicketRow)
            .where(
                TicketRow.status.in_(OPEN_STATUSES),
                # only tickets that were ever paged: the key is in their events' JSON text
                cast(TicketRow.sla_events, Text).like('%"oncall_attempts"%'),
            )
            .order_by(TicketRow.id)
        )
        for row in session.scalars(paged).all():
            due = [
                index
                for index, event in enumerate(row.sla_events or [])
                if event.get("oncall_attempts", 0) < self.attempts
                and (event.get("oncall") == "failed" or _lost(event, stale_before))
            ]
            if not due or not take_if_free(session, row.id):
                continue
            # Claimed only if no one wrote the ticket since it was read: another process's pass
            # may be claiming the same pages (they would be sent twice) or storing a step.
            session.expunge(row)
            as_read = AsRead(row.status, row.priority, row.updated_at)
            claimed = [self.claim(row, index) for index in due]
            if write_if_unchanged(session, row, as_read):
                pages.extend(claimed)
        return pages

    def send_all(self, url: str, pages: list[Page]) -> None:
        """Send the pages side by side: a slow webhook costs one timeout, not one each."""
        if not pages:
            return
        with ThreadPoolExecutor(
            max_workers=min(len(pages), 8), thread_name_prefix="oncall-notify"
        ) as pool:
            list(pool.map(lambda page: self.send(url, page), pages))

    def send(self, url: str, page: Page) -> None:
        """POST one page and record its outcome on its event."""
        outcome = "notify_oncall ok"
        try:
            response = httpx.post(url, json=page.payload, timeout=self.webhook_timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # Recorded on the ticket and counted; the URL is not logged (it may carry a token).
            outcome = (
                f"notify_oncall failed: {type(exc).__name__}"
                f" (attempt {page.attempt} of {self.attempts})"
            )
            self.metrics.errors.labels(kind="oncall_webhook").inc()
            log.warning("on-call webhook failed for %s: %s", page.ticket_id, type(exc).__name__)
        self.metrics.sla_actions.labels(action=outcome.split(":")[0].replace(" ", "_")).inc()
        self._record(page, outcome)

    def _record(self, page: Page, outcome: str) -> None:
        """Write a page's outcome on the event that asked for it (later events may exist)."""
        with self.events_lock, self.db.session() as session:
            # held: the lock above is this process's; another process's watch may write it too
            row = held_row(session, page.ticket_id)
            if row is None or page.index >= len(row.sla_events or []):
                return
            events = list(row.sla_events)
            event = events[page.index]
            events[page.index] = {
                **event,
                "actions": [*event["actions"], outcome],
                "oncall": "ok" if outcome == "notify_oncall ok" else "failed",
            }
            row.sla_events = events
            row.updated_at = ticked(row.updated_at)  # no sign of life of anyone
